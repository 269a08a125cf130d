"""The labelled reference optimum of a scenario, and the CMDP solver's fast settings."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from pacing.optimum import default_in_flight, solve_cmdp, solve_optimum
from pacing.reference import (
    availability,
    drift_segments,
    expected_wait,
    label_for,
    model_params,
    reference_for,
)
from pacing.sampler import sample_scenarios
from pacing.simulator import Scenario
from pacing.world import Duration, WorldModel

BASE = Scenario(agents=6, hours=4.0, world=WorldModel(human_rate=0.3, talk=Duration.exponential(120.0),
                                                      wrap=Duration.fixed(15.0)),
                connect_timeout=2.0, name="base")


def test_labels_follow_the_scenario_kind() -> None:
    logn = replace(BASE.world, talk=Duration.lognormal(120.0, 0.8))
    amd_world = replace(BASE.world, machine_rate=0.2, amd_false_positive=0.1)
    assert label_for(BASE) == "cmdp"
    assert label_for(replace(BASE, world=logn)) == "cmdp-exponentialised"
    assert label_for(replace(BASE, world=replace(BASE.world, talk=Duration.fixed(120.0)))) == (
        "cmdp-exponentialised")
    assert label_for(replace(BASE, world=amd_world, amd=True)) == "cmdp-amd"
    assert label_for(replace(BASE, world=amd_world)) == "cmdp-machines"
    assert label_for(replace(BASE, drift=(0.15, 3600.0, 600.0))) == "cmdp-segments"
    assert label_for(replace(BASE, churn=True)) == "cmdp-availability"
    assert label_for(replace(BASE, world=replace(amd_world, talk=Duration.fixed(60.0)),
                             amd=True, drift=(0.5, 100.0, 0.0), churn=True)) == (
        "cmdp-exponentialised+amd+segments+availability")


def test_sampled_labels_match_their_draws() -> None:
    for s in sample_scenarios(120, seed=3):
        label = label_for(s.scenario)
        p = s.params
        assert ("exponentialised" in label) == (p["talk_kind"] != "exponential"), s.name
        assert ("amd" in label) == p["amd"], s.name
        assert ("segments" in label) == (p["drift"] is not None), s.name
        assert ("availability" in label) == p["churn"], s.name
        uncapped = label.replace("+level-cap", "").replace("-level-cap", "")
        assert (uncapped == "cmdp") == (s.scenario.is_exponential and p["wrap_mean"] >= 0), s.name


def test_exact_label_is_the_cmdp_with_the_connect_timeout() -> None:
    ref = reference_for(BASE)
    assert ref.label == "cmdp" and ref.availability == 1.0 and len(ref.parts) == 1
    wait = expected_wait(2.0, BASE.world.patience)
    direct = solve_optimum(6, BASE.world, wait_s=wait)
    assert ref.busy == pytest.approx(direct.busy, abs=2e-4)
    assert ref.abandon_ratio == pytest.approx(0.03, abs=1e-3)
    # Waiting up to the connect timeout saves people the instant-loss model drops.
    assert ref.busy > solve_optimum(6, BASE.world).busy + 1e-3


def test_exponentialised_uses_the_same_means() -> None:
    logn = replace(BASE, world=replace(BASE.world, talk=Duration.lognormal(120.0, 0.6)))
    a, b = reference_for(BASE), reference_for(logn)
    assert b.label == "cmdp-exponentialised"
    assert b.busy == pytest.approx(a.busy, abs=1e-9)


def test_amd_maps_onto_agent_bound_calls() -> None:
    w = replace(BASE.world, machine_rate=0.3, amd_false_positive=0.1, amd_false_negative=0.2,
                amd_notsure=0.0)
    sc = replace(BASE, world=w, amd=True)
    mp = model_params(sc)
    assert mp.p == pytest.approx(0.3 * 0.9 + 0.3 * 0.2)
    # people talk 120 s, machines AMD missed 8 s; wrap-up after both
    assert mp.service_s == pytest.approx((0.27 * 120 + 0.06 * 8.0) / 0.33 + 15.0)
    plain = model_params(replace(sc, amd=False))
    assert plain.p == pytest.approx(0.6)
    # AMD's decision time lengthens the answered calls' ring
    assert mp.ring_s - plain.ring_s == pytest.approx(0.6 * 3.0)
    ref = reference_for(sc)
    assert ref.label == "cmdp-amd"
    assert ref.parts[0]["p"] == pytest.approx(0.33, abs=1e-5)


def test_segments_weight_each_rate_by_its_time() -> None:
    sc = replace(BASE, drift=(0.15, 3600.0, 3600.0))  # 4 h: 1 h at 0.30, ramp, 2 h at 0.15
    segs = drift_segments(sc)
    assert [w for w, _ in segs] == pytest.approx([0.25, 0.25, 0.5])
    assert [h for _, h in segs] == pytest.approx([0.30, 0.225, 0.15])
    ref = reference_for(sc)
    assert ref.label == "cmdp-segments"
    busy = 0.0
    for w, h in segs:
        busy += w * reference_for(replace(BASE, world=replace(BASE.world, human_rate=h))).busy
    assert ref.busy == pytest.approx(busy, abs=1e-9)
    assert sum(p["weight"] for p in ref.parts) == pytest.approx(1.0)
    # a drift that starts after the shift ends is no drift
    assert drift_segments(replace(sc, drift=(0.15, 99999.0, 60.0))) == [(1.0, 0.30)]


def test_availability_scales_by_the_churn_schedule() -> None:
    sc = replace(BASE, churn=True)
    n_avail, share = availability(sc)
    # a quarter log in up to 30 min late, 15 % leave early, two 10-15 min breaks each
    assert 0.85 < share < 0.93
    assert 6 * 0.8 < n_avail < 6 * share
    ref = reference_for(sc)
    assert ref.label == "cmdp-availability" and ref.availability == pytest.approx(share)
    lo, hi = math.floor(n_avail), math.floor(n_avail) + 1
    b_lo = reference_for(replace(BASE, agents=lo)).busy
    b_hi = reference_for(replace(BASE, agents=hi)).busy
    expect = share * ((hi - n_avail) * b_lo + (n_avail - lo) * b_hi)
    assert ref.busy == pytest.approx(expect, abs=1e-9)
    assert ref.busy < reference_for(BASE).busy


def test_expected_wait() -> None:
    assert expected_wait(2.0, Duration.exponential(30.0)) == pytest.approx(30 * (1 - math.exp(-2 / 30)))
    assert expected_wait(2.0, Duration.fixed(1.0)) == pytest.approx(1.0, abs=0.01)
    assert expected_wait(2.0, Duration.fixed(10.0)) == pytest.approx(2.0, abs=0.01)
    assert expected_wait(0.0, Duration.exponential(30.0)) == 0.0


def test_fast_settings_match_the_full_state_space() -> None:
    """The fold below N - window busy agents and 1.5x the steady calls in flight (what
    the reference uses from 20 agents) change the optimum by less than 1e-3."""
    args = (30, 0.15, 200.0, 20.0)
    full = solve_cmdp(*args, wait_s=1.5)
    fast = solve_cmdp(*args, wait_s=1.5, b_window=int(2 * math.sqrt(30) + 10),
                      max_in_flight=default_in_flight(*args, factor=1.5), rel_tol=0.2)
    assert fast.states < 0.7 * full.states
    assert fast.floor_mass < 1e-4
    assert fast.busy == pytest.approx(full.busy, abs=1e-3)
    # A window too narrow is detected and widened.
    narrow = solve_cmdp(*args, wait_s=1.5, b_window=2, rel_tol=0.2)
    assert narrow.busy == pytest.approx(full.busy, abs=1e-3)


def test_waiting_for_an_agent_raises_the_optimum_smoothly() -> None:
    w = WorldModel(human_rate=0.3)
    a = solve_optimum(5, w)
    b = solve_optimum(5, w, wait_s=0.5)
    assert a.busy < b.busy < a.busy + 1e-3  # 5 agents of 200 s: 1 % are saved in 0.5 s
    assert solve_optimum(5, w, wait_s=5.0).busy > b.busy + 2e-3


def test_availability_matches_the_simulated_break_share() -> None:
    """The schedule as the simulator plays it: a break that starts during another is not
    taken (in a 1 h shift both breaks fall in the same 30 minutes, so this matters)."""
    from pacing import make_policy, simulate

    sc = replace(BASE, agents=20, hours=1.0, churn=True)
    _, share = availability(sc)
    runs = [simulate(sc, make_policy("progressive"), seed=k) for k in (1, 2, 3)]
    logged = sum(r.logged_in_time for r in runs)
    simulated = (logged - sum(r.break_time for r in runs)) / logged
    assert share == pytest.approx(simulated, abs=0.03)


def test_the_reference_obeys_the_dial_level_cap_the_policies_obey() -> None:
    """6 % of dials answered, 35-second calls: keeping 10 agents busy needs about nine calls
    in flight per agent. Every policy is held at max_dial_level (3 by default), so the
    reference is too, and says so in its label."""
    world = WorldModel(human_rate=0.06, talk=Duration.exponential(35.0), wrap=Duration.fixed(5.0))
    capped = Scenario(agents=10, hours=4.0, world=world, name="capped")
    free = replace(capped, limits=replace(capped.limits, max_dial_level=20.0))
    assert label_for(capped) == "cmdp-level-cap" and label_for(free) == "cmdp"
    held, unheld = reference_for(capped), reference_for(free)
    assert held.busy < unheld.busy - 0.05, (held.busy, unheld.busy)
