"""The scenario sampler: reproducible, covers its ranges, readable unique names."""

from __future__ import annotations

import re

import pytest

from pacing import make_policy, simulate
from pacing.sampler import draw_scenario, sample_scenarios, scenario_index

N = 300


@pytest.fixture(scope="module")
def sample() -> list:
    return sample_scenarios(N, seed=3)


def test_same_seed_same_scenarios() -> None:
    a = sample_scenarios(25, seed=5)
    b = sample_scenarios(25, seed=5)
    assert [s.scenario for s in a] == [s.scenario for s in b]
    assert [s.params for s in a] == [s.params for s in b]
    # A larger sample starts with the smaller one; another seed is another sample.
    assert [s.scenario for s in sample_scenarios(40, seed=5)[:25]] == [s.scenario for s in a]
    assert [s.name for s in sample_scenarios(25, seed=6)] != [s.name for s in a]
    assert draw_scenario(17, 5).scenario == sample_scenarios(18, seed=5)[17].scenario


def test_names_are_unique_and_encode_the_draw(sample: list) -> None:
    names = [s.name for s in sample]
    assert len(set(names)) == N
    pat = re.compile(r"^s(\d{3})-a(\d+)-h(\d\.\d\d)-(exp|logn|fix)(\d+)-w(\d+)e?"
                     r"(-amd)?(-driftup|-driftdown)?(-churn)?$")
    for i, s in enumerate(sample):
        m = pat.match(s.name)
        assert m, s.name
        p = s.params
        assert int(m.group(1)) == i == scenario_index(s.name)
        assert int(m.group(2)) == s.scenario.agents == p["agents"]
        assert float(m.group(3)) == pytest.approx(p["human_rate"], abs=0.0051)
        assert int(m.group(5)) == p["talk_mean"] == s.scenario.world.talk.expected
        assert (m.group(7) is not None) == p["amd"] == s.scenario.amd
        assert (m.group(8) is not None) == (s.scenario.drift is not None)
        assert (m.group(9) is not None) == p["churn"] == s.scenario.churn
        assert s.scenario.name == s.name
    with pytest.raises(ValueError):
        scenario_index("a20-h0.30-exp180")


def test_ranges_are_covered(sample: list) -> None:
    scs = [s.scenario for s in sample]
    agents = [sc.agents for sc in scs]
    assert min(agents) == 5 and max(agents) >= 250 and max(agents) <= 300
    small = sum(1 for a in agents if a < 20)
    assert N // 3 <= small <= N // 3 + 1  # every third scenario is a small team
    assert sum(1 for a in agents if a >= 150) >= 30  # and large teams really are large
    hits = [sc.world.human_rate for sc in scs]
    assert 0.05 <= min(hits) < 0.07 and 0.6 < max(hits) <= 0.7
    talks = [sc.world.talk for sc in scs]
    assert {t.kind for t in talks} == {"exponential", "lognormal", "fixed"}
    assert 30 <= min(t.expected for t in talks) < 40 and 500 < max(t.expected for t in talks) <= 600
    cvs = [t.cv for t in talks if t.kind == "lognormal"]
    assert 0.5 <= min(cvs) < 0.6 and 1.4 < max(cvs) <= 1.5
    wraps = [sc.world.wrap for sc in scs]
    assert any(w.expected == 0 for w in wraps) and max(w.expected for w in wraps) <= 90
    assert {w.kind for w in wraps if w.expected > 0} == {"fixed", "exponential"}
    assert any(sc.amd for sc in scs) and not all(sc.amd for sc in scs)
    for sc in scs:
        w = sc.world
        assert w.no_answer_rate >= 0.05 - 1e-9
        assert (w.machine_rate > 0) == sc.amd  # machines only where AMD screens them
        assert 1.0 <= sc.connect_timeout <= 3.0
        assert 15.0 <= w.no_answer_ring <= 40.0
        assert 5.0 <= w.patience.expected <= 60.0 and w.patience.kind == "exponential"
        assert w.answer_ring.low >= 2.0 and w.answer_ring.high <= w.answer_ring.low + 25.0
        assert sc.hours == 4.0 and sc.abandon_cap == 0.03
    drifts = [sc for sc in scs if sc.drift is not None]
    up = [sc for sc in drifts if sc.drift[0] > sc.world.human_rate]
    down = [sc for sc in drifts if sc.drift[0] < sc.world.human_rate]
    assert len(up) >= 10 and len(down) >= 20
    for sc in drifts:
        to, start, over = sc.drift
        assert 0.1 * sc.duration <= start + 1 and start <= 0.6 * sc.duration + 1
        assert over >= 60 and start + over <= sc.duration
        # the world at the drift's end is valid: an upward drift fits in the no-answers
        sc.world.with_overrides(human_rate=to)
        assert to <= 0.7
    churn = sum(1 for sc in scs if sc.churn)
    assert 0.2 * N < churn < 0.4 * N


def test_hours_scale_the_shift() -> None:
    for s in sample_scenarios(30, seed=3, hours=0.5):
        assert s.scenario.hours == 0.5
        if s.scenario.drift is not None:
            assert s.scenario.drift[1] < 0.5 * 3600


def test_sampled_scenarios_run() -> None:
    """A few short shifts of sampled scenarios keep the simulator's books balanced."""
    for s in sample_scenarios(6, seed=3, hours=0.05):
        if s.agents > 60:
            continue
        res = simulate(s.scenario, make_policy("progressive"), seed=1)
        assert res.conservation_errors() == []
        assert res.attempts > 0
