"""The engine's use of compliance/, end to end (the example in the issue report)."""

from __future__ import annotations

from datetime import UTC, datetime

from compliance import (
    AbandonmentLedger,
    AttemptRecord,
    ClaimCandidate,
    ClaimChecker,
    DecisionKind,
    DncEntry,
    DncList,
    DncSource,
    NumberHistory,
    Outcome,
    Reason,
    apply_overrides,
    evaluator_for,
    get_profile,
    next_action,
    normalise,
    pre_originate_check,
    zones_for_contact,
)


def test_engine_flow() -> None:
    # campaign start: profile + overrides from the campaign file
    profile = apply_overrides(get_profile("us"), {"abandon_cap": 0.03, "max_attempts_per_day": 3})
    dnc = DncList([DncEntry("+13055550001", None, DncSource.REGISTRY)])  # loaded from the DB
    ledger = AbandonmentLedger(profile.abandonment)  # replayed from the last 30 days
    checker = ClaimChecker("camp-7", profile, dnc)
    now = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in Miami

    # claim time: a batch of rows (number E.164, zone from the record or the number, state)
    rows = [("+13055550001", None, "FL"), ("+13055550002", None, "FL"), ("+12125550003", "Asia/Tokyo", None)]
    batch = [ClaimCandidate(n, zones_for_contact(tz, n), st) for n, tz, st in rows]
    verdicts = checker.check_batch(batch, now)
    assert verdicts == [Reason.DNC_GLOBAL, Reason.OK, Reason.OUTSIDE_WINDOW]
    dialable = [c for c, r in zip(batch, verdicts, strict=True) if r is Reason.OK]

    # right before Originate
    c = dialable[0]
    history: list[AttemptRecord] = []  # this contact's earlier attempts in this campaign
    res = pre_originate_check(
        number=c.number, campaign_id="camp-7", zones=c.zones, now=now,
        window=evaluator_for(profile.window_for(c.subdivision)), dnc=dnc,
        policy=profile.attempts, history=history, number_history=NumberHistory(),
        ledger=ledger, agent_reserved=False,
    )
    assert res.allowed and res.reason is Reason.OK

    # the call ended: feed the ledger, decide the next attempt
    ledger.record(now, Outcome.NO_ANSWER)
    decision = next_action(
        profile.attempts, history, Outcome.NO_ANSWER, now,
        window=evaluator_for(profile.window_for(c.subdivision)), zones=c.zones,
        day_zone=c.zones[0],
    )
    assert decision.kind is DecisionKind.RETRY and decision.at is not None
    assert decision.reason is Reason.RETRY

    # an abandoned call with an opt-out: DNC row written and honoured at once
    ledger.record(now, Outcome.OPT_OUT)
    d2 = next_action(profile.attempts, history, Outcome.OPT_OUT, now)
    assert d2.kind is DecisionKind.FINAL and d2.dnc is not None
    dnc.add(profile.dnc_entry(c.number, "camp-7", d2.dnc, DncSource.OPT_OUT_KEY, now))
    assert pre_originate_check(
        number=c.number, campaign_id="camp-7", zones=c.zones, now=now,
        window=profile.window_for("FL"), dnc=dnc, policy=profile.attempts,
    ).reason is Reason.DNC_GLOBAL
    snap = ledger.snapshot(now)
    assert (snap.live, snap.abandons, snap.rate, snap.headroom) == (1, 1, 1.0, 0)
    assert normalise("(305) 555-0002", "US") == "+13055550002"
