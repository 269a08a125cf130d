"""Expected lost calls: the excess of answered calls over free agents.

Predictive pacing (`pacing.policies.PredictivePolicy`) weighs each call it could place by
what it adds to the calls that will be answered and find no agent: E[(C - F)^+], C the
answered calls that need an agent by some offset s, F the agents free by s plus the connect
timeout. These are the pieces of that expectation, pure functions of numbers:

- `poisson_excess`: C a Poisson count, F a number.
- `answers_excess`: C a count of calls that each answer or not (a sum of independent
  Bernoulli trials), fitted by a binomial of the same mean and variance. On high answer
  rates the Poisson count is far too wide: four calls ringing cannot bring five answers.
- `bernoulli_sum_excess`: a sum of yes/no outcomes fitted by a shifted binomial (mean,
  variance and the largest count), for sums that mix near-certain and uncertain outcomes.
- `excess_over_frees`: F a count too (each busy agent frees or not): C - F is the answers
  plus the agents who stay busy, less every agent.
- `running_max_ratio`: losses accumulate along the horizon (the calls lost are the running
  maximum of C(s) - F(s + timeout), not its largest expected value at one s); the ratio of
  the two for a Gaussian random walk, to scale the count-exact excess at its worst offset.
- `normal_excess`: E[D^+] for an integer D with a given mean and variance.
- `poisson_above`: P(X > k) for a Poisson count, the chance of more than k whole losses.
- `bernoulli_sum_pmf`, `exact_excess_over_frees`: the exact distribution of a sum of
  yes/no outcomes and the exact E[(C - R - F)^+] from it, the yardsticks of the fits
  (tests, `scripts/bench_lost_calls.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_NEGLIGIBLE_SD = 8.0  # a Gaussian excess this many standard deviations out is below 1e-14
_NEGLIGIBLE_LOG_P = -36.0  # log of a count's probability too small to sum (2e-16)
_TAIL_STOP = 1e-15  # an upper tail's sum stops when its next term is this small a share


def normal_excess(mean: float, var: float) -> float:
    """E[D^+] for an integer-valued D with the given mean and variance: the sum over k >= 1
    of P(D >= k), each P(D > k - 1/2) under the normal (continuity correction), which is
    the midpoint rule for the normal's own E[N^+]."""
    if var <= 1e-12:
        return max(0.0, mean)
    sd = math.sqrt(var)
    z = mean / sd
    return sd * _INV_SQRT2PI * math.exp(-0.5 * z * z) + mean * 0.5 * math.erfc(-z / _SQRT2)


def running_max_ratio(mean: list[float], var: list[float]) -> float:
    """E[(max_j X_j)^+] / max_j E[X_j^+] for a Gaussian random walk X_j (independent
    increments: Cov(X_i, X_j) = Var(X_i) for i < j) with these means and variances, by
    Clark's moment matching of the running maximum. At least 1."""
    best = 0.0
    for mu, vj in zip(mean, var, strict=True):
        if mu + _NEGLIGIBLE_SD * math.sqrt(vj) > 0.0:
            best = max(best, normal_excess(mu, vj))
    if best <= 1e-12:
        return 1.0
    m, v = mean[0], var[0]
    cov = v  # Cov(running max, X_j): unchanged by X's next increment
    top = v  # variances forced non-decreasing, as a walk's are
    for mu, vj in zip(mean[1:], var[1:], strict=True):
        top = max(top, vj)
        a2 = v + top - 2.0 * cov
        if a2 <= 1e-12:
            if mu > m:
                m, v, cov = mu, top, top
            continue
        a = math.sqrt(a2)
        alpha = (m - mu) / a
        up = 0.5 * math.erfc(-alpha / _SQRT2)  # P(the running max stays above X_j)
        dens = _INV_SQRT2PI * math.exp(-0.5 * alpha * alpha)
        m1 = m * up + mu * (1.0 - up) + a * dens
        second = (m * m + v) * up + (mu * mu + top) * (1.0 - up) + (m + mu) * a * dens
        v = max(0.0, second - m1 * m1)
        m = m1
        cov = cov * up + top * (1.0 - up)
    return max(1.0, normal_excess(m, v) / best)


def _count_excess(mean: float, f: float, log_pmf: Callable[[int], float],
                  ratio: Callable[[int], float]) -> float:
    """E[(X - f)^+] for a count X of this mean, given its log P(X = i) and P(i + 1) / P(i);
    linear in f between integers (conservative: the function is convex in f). Sums the
    upper tail when f is above the mean, else the lower tail below f (E[(X - k)^+] =
    mean - k + E[(k - X)^+]), each from f outwards until its terms are negligible: a few
    terms either way, however large the count (hundreds of agents that stay busy)."""
    k = int(f)
    frac = f - k
    if k >= mean:
        log_p = log_pmf(k + 1)
        if log_p < _NEGLIGIBLE_LOG_P:
            return 0.0  # the count exceeds f once in 1e16 or less
        p, i, excess, tail = math.exp(log_p), k + 1, 0.0, 0.0
        while p > _TAIL_STOP * tail:
            excess += (i - k) * p
            tail += p
            p *= ratio(i)
            i += 1
        return max(0.0, excess - frac * tail)
    # Below the mean: from P(X = k) down to 0, E[(k - X)^+] and P(X <= k).
    p_k = math.exp(log_pmf(k))
    short = 0.0  # E[(k - X)^+]
    at_most = p_k  # P(X <= k)
    p, i = p_k, k
    while i > 0 and p > _TAIL_STOP * at_most:
        p /= ratio(i - 1)  # P(X = i - 1)
        i -= 1
        short += (k - i) * p
        at_most += p
    ek = mean - k + short
    if frac == 0.0:
        return max(0.0, ek)
    # The excess at k + 1 is ek less P(X > k).
    return max(0.0, ek * (1.0 - frac) + (ek - (1.0 - min(1.0, at_most))) * frac)


def poisson_excess(lam: float, f: float) -> float:
    """E[(C - f)^+] for C ~ Poisson(lam) and a real f >= 0 (linear between floor and
    ceiling of f, which is conservative since the function is convex in f)."""
    if lam <= 0.0:
        return 0.0
    if f <= 0.0:
        return lam - f
    log_lam = math.log(lam)
    return _count_excess(lam, f, lambda i: i * log_lam - lam - math.lgamma(i + 1),
                         lambda i: lam / (i + 1))


def poisson_above(k: int, mean: float) -> float:
    """P(X > k) for X ~ Poisson(mean): the chance of more than k whole losses."""
    term = total = math.exp(-mean)
    for i in range(1, k + 1):
        term *= mean / i
        total += term
    return max(0.0, 1.0 - total)


def answers_excess(mean: float, var: float, f: float) -> float:
    """E[(X - f)^+] for X a count of independent yes/no outcomes (calls answering) with
    this mean and variance, fitted by a binomial of the same two moments (n = mean^2 /
    (mean - var) trials). Its support ends at n: four calls ringing cannot bring five
    answers, which a Poisson count of the same mean would allow. Near var = mean the
    binomial is a Poisson; linear in f between integers, as `poisson_excess`."""
    if mean <= 0.0:
        return max(0.0, -f)
    if f <= 0.0:
        return mean - f
    share = 1.0 - var / mean  # the fitted binomial's success probability
    if share < 1e-3:
        return poisson_excess(mean, f)
    trials = max(1, round(mean / share))
    share = min(1.0, mean / trials)
    if share >= 1.0 - 1e-12:
        return max(0.0, trials - f)
    if f >= trials:
        return 0.0  # no count that large
    odds = share / (1.0 - share)
    log_share, log_miss, log_n = math.log(share), math.log1p(-share), math.lgamma(trials + 1)
    return _count_excess(
        mean, f,
        lambda i: log_n - math.lgamma(i + 1) - math.lgamma(trials - i + 1) + i * log_share
        + (trials - i) * log_miss,
        lambda i: odds * (trials - i) / (i + 1))


def bernoulli_sum_excess(mean: float, var: float, most: float, f: float) -> float:
    """E[(X - f)^+] for X a sum of independent yes/no outcomes with this mean and
    variance, of which at most `most` can come out yes: a binomial shifted to end where X
    ends (X = s + Y, s + Y's trials = most), with X's mean and, up to rounding the trials,
    its variance. Outcomes that are nearly certain (calls already answered, agents deep in
    a long call) then sit in the shift instead of thinning the binomial's chance and cutting
    off its upper tail. For Y of mean a and variance v: a^2 / (a - v) - a = r, the outcomes
    expected to come out no (r = most - mean >= v for any such sum), so a = r v / (r - v)."""
    room = most - mean
    if room > var + 1e-9:
        fitted = room * var / (room - var)
        if fitted < mean:
            trials = max(1, round(fitted + room))
            shift = max(0.0, most - trials)
            y_mean = mean - shift
            if 0.0 < y_mean < trials:
                share = y_mean / trials
                return answers_excess(y_mean, y_mean * (1.0 - share), f - shift)
    return answers_excess(mean, var, f)


def excess_over_frees(answers_mean: float, answers_var: float, answers_most: float,
                      frees_mean: float, frees_var: float, busy: int, ready: int) -> float:
    """E[(C - R - F)^+]: C answered calls (a sum of yes/no outcomes, at most
    `answers_most`), R agents ready now, F the agents among `busy` who free (each frees or
    not: mean `frees_mean`, variance `frees_var`). With S = busy - F the agents who stay
    busy, C - R - F = (C + S) - (R + busy), and C + S is one sum of yes/no outcomes
    (`bernoulli_sum_excess`). A handful of frees expected (nobody ready, long calls) is as
    uncertain as the answers it must meet; a fixed F leaves that out."""
    return bernoulli_sum_excess(answers_mean + max(0.0, busy - frees_mean),
                                answers_var + frees_var, answers_most + busy, ready + busy)


def bernoulli_sum_pmf(chances: list[float]) -> list[float]:
    """P(k of these independent yes/no outcomes come out yes), k = 0..len(chances): the
    exact distribution the fits above approximate (O(len^2); for checking them)."""
    pmf = [1.0]
    for c in chances:
        nxt = [0.0] * (len(pmf) + 1)
        for i, p in enumerate(pmf):
            nxt[i] += p * (1.0 - c)
            nxt[i + 1] += p * c
        pmf = nxt
    return pmf


def exact_excess_over_frees(answer_chances: list[float], free_chances: list[float],
                            ready: int) -> float:
    """E[(C - R - F)^+] summed term by term: C the calls that answer (one chance each), R
    agents ready, F the busy agents who free (one chance each). What `excess_over_frees`
    fits from these chances' sums (O(len^2 x len^2); for checking it)."""
    answers, frees = bernoulli_sum_pmf(answer_chances), bernoulli_sum_pmf(free_chances)
    return sum(pa * pf * max(0, c - ready - f)
               for c, pa in enumerate(answers) for f, pf in enumerate(frees))
