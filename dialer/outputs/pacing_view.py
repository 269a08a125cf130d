"""Pacing decisions in words, for `dialer status` and the demo's live view.

The engine's heartbeat keeps the reason code (`pacing_reason`, a `pacing.policy.PacingReason`
value); people read the dial level with what the code means next to it.
"""

from __future__ import annotations

from pacing.policy import PacingReason

REASON_TEXT: dict[str, str] = {
    PacingReason.NO_AGENTS.value: "no agents active",
    PacingReason.PROGRESSIVE.value: "progressive",
    PacingReason.RATIO.value: "ratio",
    PacingReason.ADAPTIVE.value: "adaptive",
    PacingReason.PI.value: "pi",
    PacingReason.PREDICTIVE.value: "predictive",
    PacingReason.WARMING_UP.value: "predictive warming up (few calls seen yet)",
    # Spent, or not earned yet: a new US campaign may abandon nothing before 34 answers.
    PacingReason.BUDGET_EXHAUSTED.value: "no abandon headroom: progressive",
    PacingReason.CAP_DIAL_LEVEL.value: "held at dial_level_max",
    PacingReason.CAP_IN_FLIGHT.value: "held at max_calls_in_flight",
    PacingReason.CAP_ATTEMPT_RATE.value: "held at max_attempts_per_agent_hour",
    PacingReason.CAP_OCCUPANCY.value: "max_occupancy reached: progressive",
}


def reason_text(reason: str | None) -> str:
    """What a pacing reason code means; an unknown code is shown as it is."""
    if not reason:
        return "no decision yet"
    return REASON_TEXT.get(reason, reason.replace("_", " "))


def dial_level_text(level: float | None, reason: str | None) -> str:
    """"1.42 predictive", "1.00 no abandon headroom: progressive": calls in flight per active
    agent after the last decision, and why."""
    if reason is None:
        return "-"
    return f"{level or 0.0:.2f} {reason_text(reason)}"
