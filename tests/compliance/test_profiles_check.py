"""Regulation profiles, overrides, the claim batch check and the pre-originate check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from compliance.abandonment import AbandonmentLedger
from compliance.attempts import AttemptRecord, NumberHistory
from compliance.check import ClaimCandidate, ClaimChecker, pre_originate_check
from compliance.dnc import DncEntry, DncList, DncScope, DncSource
from compliance.outcomes import Outcome
from compliance.profiles import (
    PROFILES,
    US_STATE_HOURS,
    OverrideError,
    apply_overrides,
    get_profile,
)
from compliance.reasons import Reason
from compliance.windows import is_callable

# Wednesday 10 June 2026, 00:30 UTC = 20:30 EDT (Miami) on 9 June
LATE_EVENING_MIAMI = datetime(2026, 6, 10, 0, 30, tzinfo=UTC)
MIAMI = ("America/New_York",)


def test_profile_values() -> None:
    us, uk, cn, none = (PROFILES[n] for n in ("us", "uk", "cn", "none"))
    assert str(us.window.weekly.days[0][0]) == "08:00-21:00"
    assert (us.abandonment.cap, us.abandonment.window, us.min_ring_s) == (0.03, timedelta(days=30), 15.0)
    assert us.safe_harbour_message and us.opt_out_key and us.abandonment.connect_deadline_s == 2.0
    assert str(US_STATE_HOURS["FL"].days[3][0]) == "08:00-20:00"
    assert uk.abandonment.window == timedelta(hours=24) and uk.abandonment.count_amd_false_positives
    assert uk.attempts.no_repeat_after_abandon == timedelta(hours=72)
    assert uk.presentable_cli_required and uk.info_message_within_s == 2.0
    assert [str(s) for s in cn.window.weekly.days[6]] == ["09:00-12:00", "14:00-20:00"]
    assert cn.window.holidays and cn.recording_retention_days == 30
    assert cn.attempts.refusal_dnc_scope is DncScope.GLOBAL and cn.dnc_expiry is None
    assert none.abandonment.cap == 1.0 and str(none.window.weekly.days[0][0]) == "00:00-24:00"
    with pytest.raises(KeyError):
        get_profile("fr")


def test_us_state_hours_apply_when_state_known() -> None:
    us = get_profile("us")
    assert is_callable(us.window_for(None), MIAMI, LATE_EVENING_MIAMI)
    assert not is_callable(us.window_for("FL"), MIAMI, LATE_EVENING_MIAMI)
    assert not is_callable(us.window_for("US-FL"), MIAMI, LATE_EVENING_MIAMI)
    assert us.window_for("FL") is us.window_for("fl")  # memoised
    # Texas: Sunday from noon only; 11:00 CDT Sunday 14 June 2026 = 16:00 UTC
    sunday_11 = datetime(2026, 6, 14, 16, 0, tzinfo=UTC)
    assert not is_callable(us.window_for("TX"), ("America/Chicago",), sunday_11)
    assert is_callable(us.window_for("TX"), ("America/Chicago",), sunday_11 + timedelta(hours=1))
    # the table is extendable per campaign
    p = apply_overrides(us, {"state_hours": {"NY": "09:00-19:00"}})
    assert not is_callable(p.window_for("NY"), MIAMI, datetime(2026, 6, 10, 23, 30, tzinfo=UTC))
    assert "FL" in p.state_hours


def test_overrides_apply_and_errors_name_fields() -> None:
    p = apply_overrides(
        get_profile("cn"),
        {
            "calling_hours": {"weekdays": "09:00-12:00,14:00-18:00", "weekend": ""},
            "holidays": [],
            "blackout_dates": ["2026-06-19"],
            "abandon_cap": 0.02,
            "max_attempts_per_day": 2,
            "min_gap_minutes": 90,
            "retry": {"busy": {"delays_minutes": [10, 30], "max": 4}, "machine": False},
            "fallback_zone": "Asia/Shanghai",
        },
    )
    assert p.window.weekly.days[5] == () and p.window.holidays == ()
    assert p.abandonment.cap == 0.02 and p.attempts.max_attempts_per_day == 2
    assert p.attempts.min_gap_same_number == timedelta(minutes=90)
    assert p.attempts.rule_for("busy").delays == (timedelta(minutes=10), timedelta(minutes=30))
    assert not p.attempts.rule_for("machine").retry
    assert p.attempts.rule_for("no_answer") == get_profile("cn").attempts.rule_for("no_answer")
    with pytest.raises(OverrideError) as exc:
        apply_overrides(
            get_profile("us"),
            {
                "abandon_cap": 3,
                "calling_hours": "9-5",
                "holidays": ["XX"],
                "colour": "red",
                "max_attempts_total": 0,
                "fallback_zone": "Mars/Base",
                "opt_out_key": "yes",
            },
        )
    fields = [f for f, _ in exc.value.errors]
    assert fields == [
        "abandon_cap", "calling_hours", "holidays", "colour", "max_attempts_total",
        "fallback_zone", "opt_out_key",
    ]
    assert "abandon_cap: must be <= 1" in str(exc.value)


def make_dnc() -> DncList:
    d = DncList()
    d.add(DncEntry("+13055550001", None, DncSource.REGISTRY))
    d.add(DncEntry("+13055550002", "c1", DncSource.DISPOSITION))
    return d


def test_claim_checker_batch() -> None:
    checker = ClaimChecker("c1", get_profile("us"), make_dnc())
    noon = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 EDT
    batch = [
        ClaimCandidate("+13055550001", MIAMI),
        ClaimCandidate("+13055550002", MIAMI),
        ClaimCandidate("+13055550003", MIAMI, "FL"),
        ClaimCandidate("+13055550004", ()),
        ClaimCandidate("3055550005", MIAMI),
        ClaimCandidate("+17015550006", ("America/Denver", "America/North_Dakota/Center")),
    ]
    assert checker.check_batch(batch, noon) == [
        Reason.DNC_GLOBAL, Reason.DNC_CAMPAIGN, Reason.OK, Reason.UNKNOWN_TIMEZONE,
        Reason.INVALID_NUMBER, Reason.OK,
    ]
    assert ClaimChecker("c2", get_profile("us"), make_dnc()).check(batch[1], noon) is Reason.OK
    late = checker.check_batch(
        [ClaimCandidate("+13055550003", MIAMI, "FL"), ClaimCandidate("+13055550003", MIAMI)],
        LATE_EVENING_MIAMI,
    )
    assert late == [Reason.OUTSIDE_WINDOW, Reason.OK]


def test_pre_originate_check_reasons() -> None:
    uk = get_profile("uk")
    dnc = make_dnc()
    now = datetime(2026, 6, 10, 11, 0, tzinfo=UTC)  # 12:00 BST
    london = ("Europe/London",)
    base: dict[str, Any] = dict(campaign_id="c1", zones=london, now=now, window=uk.window, dnc=dnc, policy=uk.attempts)

    assert pre_originate_check(number="+442079460958", **base).allowed
    r = pre_originate_check(number="02079460958", **base)
    assert r.reason is Reason.INVALID_NUMBER
    r = pre_originate_check(number="+13055550001", **base)
    assert r.reason is Reason.DNC_GLOBAL
    # a DNC entry added seconds ago is honoured
    dnc.add(DncEntry("+442079460958", "c1", DncSource.OPT_OUT_KEY, added_at=now))
    r = pre_originate_check(number="+442079460958", **base)
    assert (r.allowed, r.reason) == (False, Reason.DNC_CAMPAIGN)

    n = "+442079460959"
    r = pre_originate_check(number=n, **{**base, "now": datetime(2026, 6, 10, 21, 0, tzinfo=UTC)})
    assert r.reason is Reason.OUTSIDE_WINDOW
    assert r.not_before == datetime(2026, 6, 11, 7, 0, tzinfo=UTC)
    r = pre_originate_check(number=n, **{**base, "zones": ()})
    assert r.reason is Reason.UNKNOWN_TIMEZONE

    nh = NumberHistory(last_attempt_at=now - timedelta(hours=30), last_abandon_at=now - timedelta(hours=30))
    r = pre_originate_check(number=n, number_history=nh, **base)
    assert (r.reason, r.not_before) == (Reason.ABANDON_COOLDOWN, now + timedelta(hours=42))
    assert pre_originate_check(number=n, number_history=nh, agent_reserved=True, **base).allowed

    hist = [AttemptRecord(now - timedelta(hours=h), Outcome.NO_ANSWER) for h in (3, 2, 1)]
    r = pre_originate_check(number=n, history=hist, **base)
    assert r.reason is Reason.MAX_ATTEMPTS_DAY

    ledger = AbandonmentLedger(uk.abandonment)
    for _ in range(97):
        ledger.record(now - timedelta(hours=1), Outcome.ANSWERED)
    for _ in range(2):
        ledger.record(now - timedelta(hours=1), Outcome.ABANDONED)
    assert pre_originate_check(number=n, ledger=ledger, **base).allowed
    ledger.record(now - timedelta(minutes=5), Outcome.ABANDONED)  # 3 / 100: at the cap
    r = pre_originate_check(number=n, ledger=ledger, **base)
    assert r.reason is Reason.ABANDON_CAP
    assert pre_originate_check(number=n, ledger=ledger, agent_reserved=True, **base).allowed


def test_campaign_problems() -> None:
    from compliance.profiles import campaign_problems

    uk = get_profile("uk")
    probs = campaign_problems(
        uk, ring_timeout_s=12, caller_id=None, safe_harbour_message=False, opt_out_key=False,
        connect_timeout_s=5,
    )
    assert [f for f, _ in probs] == ["ring_timeout_s", "caller_id", "safe_harbour_message", "connect_timeout_s"]
    assert campaign_problems(
        get_profile("us"), ring_timeout_s=20, caller_id="+12025550100", safe_harbour_message=True,
        opt_out_key=True, connect_timeout_s=2,
    ) == []
    cn = campaign_problems(
        get_profile("cn"), ring_timeout_s=5, caller_id=None, safe_harbour_message=False,
        opt_out_key=False, recording_retention_days=7,
    )
    assert cn == [("recording_retention_days", "must be >= 30 under profile cn")]


def test_state_from_area_code_and_combined_states() -> None:
    from compliance.numbers import us_state_for_number

    assert us_state_for_number("+13055551234") == "FL"
    assert us_state_for_number("+14155551234") == "CA"
    assert us_state_for_number("+442079460958") is None
    us = get_profile("us")
    both = us.window_for("FL,TX")
    assert both is us.window_for("TX", "FL")
    assert [str(s) for s in both.weekly.days[6]] == ["12:00-20:00"]  # TX Sunday ∩ FL
    assert us.window_for("CA") is us.window, "states without stricter hours keep the base window"
    checker = ClaimChecker("c1", us, DncList())
    assert checker.check(ClaimCandidate("+13055550003", MIAMI, "CA,FL"), LATE_EVENING_MIAMI) is (
        Reason.OUTSIDE_WINDOW
    )


def test_dnc_entry_from_decision() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    e = get_profile("cn").dnc_entry("+8613812345678", "c9", DncScope.GLOBAL, DncSource.DISPOSITION, now, "refused")
    assert (e.campaign_id, e.expires_at, e.added_at) == (None, None, now)
    p = apply_overrides(get_profile("uk"), {"dnc_expiry_days": 365})
    e = p.dnc_entry("+442079460958", "c9", DncScope.CAMPAIGN, DncSource.OPT_OUT_KEY, now)
    assert e.campaign_id == "c9" and e.expires_at == now + timedelta(days=365)
