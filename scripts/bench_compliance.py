"""Benchmark: claim-time compliance check (calling windows + DNC) for a batch of contacts.

Usage: .venv/bin/python scripts/bench_compliance.py [--contacts 10000] [--dnc 1000000]

Builds a DNC list (global + campaign entries), a batch of contacts with a realistic
zone mix (single-zone US/UK/CN/DE numbers, US two-zone area codes, Russian and
Australian mobiles with many zones, contacts with a known US state, unknown zones),
then times ClaimChecker.check_batch on one core: cold (first tick, empty caches)
and warm (later ticks: best and median of 50 runs, instant moving 1 s per run);
then times pre_originate_check once per contact (DNC, window, attempt limits, ledger).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from compliance import (
    AbandonmentLedger,
    AttemptRecord,
    ClaimCandidate,
    ClaimChecker,
    DncEntry,
    DncList,
    DncSource,
    Outcome,
    get_profile,
    pre_originate_check,
    zones_for_number,
)
from compliance.windows import evaluator_for

PREFIXES = [
    ("+1212555", 4),  # New York
    ("+1305555", 4),  # Miami (FL)
    ("+1701555", 4),  # North Dakota: two zones
    ("+1415555", 4),  # San Francisco
    ("+442079", 6),  # London
    ("+861381234", 4),  # China mobile
    ("+7916123", 4),  # Russian mobile: 16 zones
    ("+614123", 5),  # Australian mobile: 8 zones
    ("+4930123", 5),  # Berlin
]
STATES = [None, None, None, "FL", "TX", "CA", "RI"]


def make_contacts(n: int, rng: random.Random) -> list[ClaimCandidate]:
    out = []
    for _ in range(n):
        prefix, digits = rng.choice(PREFIXES)
        number = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
        roll = rng.random()
        if roll < 0.02:
            zones: tuple[str, ...] = ()
        elif roll < 0.3:
            zones = ("America/New_York",)  # zone from the contact record
        else:
            zones = zones_for_number(number)
        state = rng.choice(STATES) if number.startswith("+1") else None
        out.append(ClaimCandidate(number, zones, state))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--dnc", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    rng = random.Random(42)
    contacts = make_contacts(args.contacts, rng)
    now = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)

    t0 = time.perf_counter()
    dnc = DncList()
    for i in range(args.dnc):
        dnc.add(DncEntry(f"+1202{i:07d}", None, DncSource.REGISTRY))
    for c in contacts[::20]:  # 5% of the batch on the lists
        dnc.add(DncEntry(c.number, "c1", DncSource.DISPOSITION, expires_at=now + timedelta(days=30)))
    for c in contacts[5::50]:
        dnc.add(DncEntry(c.number, None, DncSource.OPT_OUT_KEY))
    build = time.perf_counter() - t0

    checker = ClaimChecker("c1", get_profile("us"), dnc)
    gc.collect()
    t0 = time.perf_counter()
    reasons = checker.check_batch(contacts, now)
    cold = time.perf_counter() - t0

    warm = []
    for r in range(args.runs):
        t = now + timedelta(seconds=r + 1)
        t0 = time.perf_counter()
        checker.check_batch(contacts, t)
        warm.append(time.perf_counter() - t0)
    # pre-originate: one full check per contact (DNC, window, attempt limits, ledger)
    profile = get_profile("us")
    ledger = AbandonmentLedger(profile.abandonment)
    for i in range(20_000):
        ledger.record(now - timedelta(seconds=i * 60), Outcome.ANSWERED)
    history = [AttemptRecord(now - timedelta(days=2), Outcome.NO_ANSWER)]
    windows = {s: checker.evaluator(s) for s in STATES}
    gc.collect()
    t0 = time.perf_counter()
    allowed = 0
    for c in contacts:
        r = pre_originate_check(
            number=c.number, campaign_id="c1", zones=c.zones, now=now,
            window=windows[c.subdivision], dnc=dnc, policy=profile.attempts,
            history=history, ledger=ledger,
        )
        allowed += r.allowed
    pre = time.perf_counter() - t0
    evaluator_for.cache_clear()

    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason.value] = counts.get(reason.value, 0) + 1
    print(f"contacts={args.contacts} dnc_entries={len(dnc)} (built in {build:.1f} s)")
    print(f"outcomes: {dict(sorted(counts.items()))}")
    print(f"cold (first tick, empty window caches): {cold * 1000:.1f} ms")
    print(
        f"warm: best {min(warm) * 1000:.1f} ms, median {statistics.median(warm) * 1000:.1f} ms "
        f"({statistics.median(warm) / args.contacts * 1e6:.2f} us/contact)"
    )
    print(
        f"pre_originate_check x {args.contacts}: {pre * 1000:.1f} ms "
        f"({pre / args.contacts * 1e6:.1f} us/call, {allowed} allowed)"
    )


if __name__ == "__main__":
    main()
