"""The metric families Grafana and the alert rules read: names, help, buckets and bounded labels.

Metric names are a contract with deploy/grafana and deploy/prometheus/rules.yml; a test
checks every name they use is defined here (`METRIC_NAMES`).

Label values are bounded: campaign names, system outcomes, agent/call states and
regulation window names. Never phone numbers, contact or agent names, or attempt ids:
`safe_label` replaces anything that looks like one with "invalid" (and says so once at
WARNING, without the value).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from compliance.outcomes import HUMAN_ANSWERED, Outcome

# The records keep the logger name of the module this package grew from.
log = logging.getLogger("dialer.outputs.metrics")

# ---------------------------------------------------------------------------------------
# Names (the dashboard and rules use exactly these)

ATTEMPTS = "dialer_attempts_total"
ANSWERS = "dialer_answers_total"
HUMAN_ANSWERS = "dialer_human_answers_total"
AGENT_CONNECTS = "dialer_agent_connects_total"
ABANDONS = "dialer_abandons_total"
OPT_OUTS = "dialer_opt_outs_total"
AMI_RECONNECTS = "dialer_ami_reconnects_total"
CONNECT_RATE = "dialer_connect_rate"
CALLS_THIS_HOUR = "dialer_calls_this_hour"
CALLS_LAST_60M = "dialer_calls_last_60m"
ABANDON_RATE = "dialer_abandon_rate"
ABANDON_CAP = "dialer_abandon_cap"
DIAL_LEVEL = "dialer_dial_level"
HOPPER_DEPTH = "dialer_hopper_depth"
DIALABLE_CONTACTS = "dialer_dialable_contacts"
AGENTS = "dialer_agents"
CALLS = "dialer_calls"
AMI_UP = "dialer_ami_up"
TIME_TO_AGENT = "dialer_time_to_agent_seconds"
RING_SECONDS = "dialer_ring_seconds"
TALK_SECONDS = "dialer_talk_seconds"
ORIGINATE_ROUNDTRIP = "dialer_originate_roundtrip_seconds"

#: Every metric name this package exports (counters with their `_total` suffix).
METRIC_NAMES: frozenset[str] = frozenset(
    {
        ATTEMPTS, ANSWERS, HUMAN_ANSWERS, AGENT_CONNECTS, ABANDONS, OPT_OUTS, AMI_RECONNECTS,
        CONNECT_RATE, CALLS_THIS_HOUR, CALLS_LAST_60M, ABANDON_RATE, ABANDON_CAP, DIAL_LEVEL,
        HOPPER_DEPTH, DIALABLE_CONTACTS, AGENTS, CALLS, AMI_UP, TIME_TO_AGENT, RING_SECONDS,
        TALK_SECONDS, ORIGINATE_ROUNDTRIP,
    }
)
HISTOGRAMS: frozenset[str] = frozenset({TIME_TO_AGENT, RING_SECONDS, TALK_SECONDS, ORIGINATE_ROUNDTRIP})

#: The connect-rate windows and their length in seconds.
CONNECT_WINDOWS: Mapping[str, int] = {"15m": 15 * 60, "1h": 3600}
HOUR = 3600

# Help of the gauges computed at scrape time (windows.py yields them).
CONNECT_RATE_HELP = "Answered (kind=answered) or agent-connected (kind=connected) ÷ attempts ended in the window"
CALLS_THIS_HOUR_HELP = "Attempts originated in the current clock hour"
CALLS_LAST_60M_HELP = "Attempts originated in the last 60 minutes"

# Buckets chosen for call-centre figures: a connect should take under 2 s (the legal
# deadline), ring time is bounded by the ring timeout, talk time is minutes.
TIME_TO_AGENT_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
RING_BUCKETS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0)
TALK_BUCKETS = (10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 1800.0)
ROUNDTRIP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

OUTCOMES = frozenset(o.value for o in Outcome)
ABANDON_OUTCOMES = frozenset({Outcome.ABANDONED.value, Outcome.OPT_OUT.value})
ANSWERED_OUTCOMES = frozenset(o.value for o in HUMAN_ANSWERED) | {Outcome.MACHINE.value}


@dataclass(frozen=True, slots=True)
class Families:
    """The counters, gauges and histograms the engine updates as events happen."""

    attempts: Counter
    answers: Counter
    human_answers: Counter
    agent_connects: Counter
    abandons: Counter
    opt_outs: Counter
    ami_reconnects: Counter
    abandon_rate: Gauge
    abandon_cap: Gauge
    dial_level: Gauge
    hopper_depth: Gauge
    dialable: Gauge
    agents: Gauge
    calls: Gauge
    ami_up: Gauge
    time_to_agent: Histogram
    ring: Histogram
    talk: Histogram
    roundtrip: Histogram

    @classmethod
    def register(cls, r: CollectorRegistry) -> Families:
        """Every event-driven family, registered in `r` (registration order is exposition order)."""

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            # prometheus_client appends _total itself
            return Counter(name.removesuffix("_total"), doc, labels, registry=r)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, registry=r)

        return cls(
            attempts=counter(ATTEMPTS, "Attempts ended, by system outcome", ("campaign", "outcome")),
            answers=counter(ANSWERS, "Calls answered (person or machine)", ("campaign",)),
            human_answers=counter(HUMAN_ANSWERS, "Calls answered by a person (AMD human or no AMD)", ("campaign",)),
            agent_connects=counter(AGENT_CONNECTS, "Answered calls connected to an agent", ("campaign",)),
            abandons=counter(ABANDONS, "Abandoned calls (no agent in time, incl. opt-outs)", ("campaign",)),
            opt_outs=counter(OPT_OUTS, "Opt-out key pressed after the safe-harbour message", ("campaign",)),
            ami_reconnects=counter(AMI_RECONNECTS, "AMI reconnections after a lost connection"),
            abandon_rate=gauge(ABANDON_RATE, "Abandon rate over the regulation window", ("campaign", "window")),
            abandon_cap=gauge(ABANDON_CAP, "Abandon-rate cap of the campaign's regulation", ("campaign",)),
            dial_level=gauge(DIAL_LEVEL, "Calls placed per free agent (pacer's current level)", ("campaign",)),
            hopper_depth=gauge(HOPPER_DEPTH, "Contacts claimed and waiting to be dialled", ("campaign",)),
            dialable=gauge(DIALABLE_CONTACTS, "Contacts left that can still be dialled", ("campaign",)),
            agents=gauge(AGENTS, "Logged-in agents by state", ("state",)),
            calls=gauge(CALLS, "Calls in progress by state", ("campaign", "state")),
            ami_up=gauge(AMI_UP, "1 when the AMI connection is up and logged in"),
            time_to_agent=Histogram(
                TIME_TO_AGENT, "Answer to agent connect", ("campaign",), buckets=TIME_TO_AGENT_BUCKETS, registry=r
            ),
            ring=Histogram(RING_SECONDS, "Originate to answer", ("campaign",), buckets=RING_BUCKETS, registry=r),
            talk=Histogram(TALK_SECONDS, "Agent connect to hang-up", ("campaign",), buckets=TALK_BUCKETS, registry=r),
            roundtrip=Histogram(
                ORIGINATE_ROUNDTRIP, "Originate action to its AMI response", buckets=ROUNDTRIP_BUCKETS, registry=r
            ),
        )


# ---------------------------------------------------------------------------------------
# Label hygiene

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_DIGIT_RUN = re.compile(r"\d{6,}")  # a phone number, or an id, hidden in a campaign name
_UUID_LIKE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}")
INVALID_LABEL = "invalid"
_warned: list[bool] = []


def _looks_personal(value: str) -> bool:
    return bool(_DIGIT_RUN.search(value) or _UUID_LIKE.search(value))


def safe_label(value: str) -> str:
    """The value if it is a bounded, impersonal label; else "invalid".

    Campaign names follow the campaign-file rule (lowercase, digits, `_ . -`); outcomes
    and states are short identifiers. Anything with a long digit run or a UUID shape
    could be a phone number or an attempt id and never reaches Prometheus.
    """
    if _LABEL.match(value) and not _looks_personal(value):
        return value
    if not _warned:
        # once per process, and never the value itself: it may be a phone number
        _warned.append(True)
        log.warning("metrics: a label value was refused (not a bounded name); exported as %r", INVALID_LABEL)
    return INVALID_LABEL


def window_label(window: timedelta) -> str:
    """A regulation window as a label: 30 days -> "30d", 24 hours -> "24h"."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds > 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
