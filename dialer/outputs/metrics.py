"""The Prometheus exporter: what Grafana and the alert rules read (DESIGN.md §8).

`DialerMetrics` owns its own `CollectorRegistry` (several engines or tests in one process
never collide) and serves `/metrics` from the engine's own event loop, so nothing here
needs a lock: the engine mutates and the scrape reads on the same thread.

Metric names are a contract with deploy/grafana and deploy/prometheus/rules.yml; a test
checks every name they use is defined here (`METRIC_NAMES`).

Label values are bounded: campaign names, system outcomes, agent/call states and
regulation window names. Never phone numbers, contact or agent names, or attempt ids:
`_safe_label` replaces anything that looks like one with "invalid" (and says so once at
WARNING, without the value).

Rolling figures (connect rate over 15 min / 1 h, calls this clock hour, calls in the last
60 min) are computed at scrape time from per-second buckets of the last hour, so they
slide without the engine having to tick them. At start `recompute_from_database` refills
those buckets and the abandon-rate gauges from `call_attempts`, so a restarted engine
shows the same ratios as before (counters restarting at zero is what Prometheus expects).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from compliance.abandonment import AbandonmentRule
from compliance.outcomes import HUMAN_ANSWERED, Outcome
from compliance.profiles import get_profile
from dialer.db.database import Database

log = logging.getLogger(__name__)

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

#: Every metric name this module exports (counters with their `_total` suffix).
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
_HOUR = 3600

# Buckets chosen for call-centre figures: a connect should take under 2 s (the legal
# deadline), ring time is bounded by the ring timeout, talk time is minutes.
TIME_TO_AGENT_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
RING_BUCKETS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0)
TALK_BUCKETS = (10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 1800.0)
ROUNDTRIP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_OUTCOMES = frozenset(o.value for o in Outcome)
_ABANDON_OUTCOMES = frozenset({Outcome.ABANDONED.value, Outcome.OPT_OUT.value})
_ANSWERED_OUTCOMES = frozenset(o.value for o in HUMAN_ANSWERED) | {Outcome.MACHINE.value}

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


# ---------------------------------------------------------------------------------------
# Rolling counts over the last hour, in one-second buckets

_ORIGINATED, _ENDED, _ANSWERED, _CONNECTED = 1, 2, 3, 4


class _LastHour:
    """Per-second counts [second, originated, ended, answered, connected], oldest first."""

    __slots__ = ("buckets",)

    def __init__(self) -> None:
        self.buckets: deque[list[int]] = deque()

    def add(self, second: int, field: int, count: int = 1) -> None:
        b = self.buckets
        if b and b[-1][0] == second:
            bucket = b[-1]
        elif not b or b[-1][0] < second:
            bucket = [second, 0, 0, 0, 0]
            b.append(bucket)
        else:  # late event (rare): find or insert its bucket in order
            for i in range(len(b) - 1, -1, -1):
                if b[i][0] == second:
                    bucket = b[i]
                    break
                if b[i][0] < second:
                    bucket = [second, 0, 0, 0, 0]
                    b.insert(i + 1, bucket)
                    break
            else:
                bucket = [second, 0, 0, 0, 0]
                b.appendleft(bucket)
        bucket[field] += count

    def prune(self, now: int) -> None:
        edge = now - _HOUR
        while self.buckets and self.buckets[0][0] <= edge:
            self.buckets.popleft()

    def sums(self, since_exclusive: int, now: int) -> tuple[int, int, int, int]:
        """(originated, ended, answered, connected) with since < second <= now."""
        o = e = a = c = 0
        for second, orig, ended, ans, conn in reversed(self.buckets):
            if second <= since_exclusive:
                break
            if second > now:
                continue
            o += orig
            e += ended
            a += ans
            c += conn
        return o, e, a, c


@dataclass(frozen=True, slots=True)
class AbandonFigures:
    """One campaign's abandonment over its regulation window (for the gauges)."""

    campaign: str
    window: str
    rate: float
    cap: float


class _RollingCollector(Collector):
    """Yields the scrape-time gauges: connect rate and hourly volume per campaign."""

    def __init__(self, owner: DialerMetrics) -> None:
        self._owner = owner

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(CONNECT_RATE, "", labels=["campaign", "window", "kind"])
        yield GaugeMetricFamily(CALLS_THIS_HOUR, "", labels=["campaign"])
        yield GaugeMetricFamily(CALLS_LAST_60M, "", labels=["campaign"])

    def collect(self) -> Iterator[Metric]:
        return iter(self._owner._rolling_families())


# ---------------------------------------------------------------------------------------
# SQL (kept together; all read-only, bounded by the last hour or the regulation window)

SQL_CAMPAIGNS = """
SELECT id, name, regulation FROM campaigns
"""

# Originates in the last hour, per campaign and second: calls_this_hour, calls_last_60m.
SQL_ORIGINATES_LAST_HOUR = """
SELECT c.name AS campaign,
       floor(extract(epoch FROM a.originated_at))::bigint AS second,
       count(*) AS n
FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id
WHERE a.originated_at > :since AND a.originated_at <= :now
GROUP BY 1, 2
"""

# Attempts that ended in the last hour, per campaign and second: the connect rates.
SQL_ENDINGS_LAST_HOUR = """
SELECT c.name AS campaign,
       floor(extract(epoch FROM a.ended_at))::bigint AS second,
       count(*) AS ended,
       count(a.answered_at) AS answered,
       count(a.connected_at) AS connected
FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id
WHERE a.ended_at > :since AND a.ended_at <= :now
GROUP BY 1, 2
"""

# Abandonment counts of one campaign over its window, classified exactly as
# compliance.abandonment.classify does (live / abandon / machine), with the connect wait
# taken as answered -> connected (answered) or answered -> ended (queue hang-up).
SQL_ABANDON_COUNTS = """
SELECT
  count(*) FILTER (WHERE outcome IN ('answered', 'abandoned', 'queue_hangup', 'opt_out')) AS live,
  count(*) FILTER (
    WHERE outcome IN ('abandoned', 'opt_out')
       OR (outcome = 'queue_hangup'
           AND (answered_at IS NULL OR ended_at - answered_at > make_interval(secs => :deadline)))
       OR (outcome = 'answered' AND answered_at IS NOT NULL AND connected_at IS NOT NULL
           AND connected_at - answered_at > make_interval(secs => :deadline))
  ) AS abandons,
  count(*) FILTER (WHERE outcome = 'machine') AS machines
FROM call_attempts
WHERE campaign_id = :campaign_id AND ended_at > :since AND ended_at <= :now
"""


def abandon_rate(rule: AbandonmentRule, live: int, abandons: int, machines: int) -> float:
    """N / D as compliance.abandonment defines it (AMD false positives where the rule says)."""
    fp = machines * rule.amd_fp_rate if rule.count_amd_false_positives else 0.0
    denominator = live + fp
    return (abandons + fp) / denominator if denominator > 0 else 0.0


# ---------------------------------------------------------------------------------------


class DialerMetrics:
    """Every figure the engine exports; one instance per engine process.

    The engine calls the event methods as calls progress (all cheap, never blocking) and
    the `set_*` methods whenever it recomputes a level. `clock` (epoch seconds) and
    `hour_zone` (where a "clock hour" starts) are injectable for tests and for sites whose
    time zone is not a whole number of hours from UTC.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, hour_zone: tzinfo = UTC) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._hour_zone = hour_zone
        self._rolling: dict[str, _LastHour] = {}
        self._agent_states: set[str] = set()
        self._call_states: dict[str, set[str]] = {}
        self._server: asyncio.Server | None = None
        self.port: int | None = None
        r = self.registry

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            # prometheus_client appends _total itself
            return Counter(name.removesuffix("_total"), doc, labels, registry=r)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, registry=r)

        self._attempts = counter(ATTEMPTS, "Attempts ended, by system outcome", ("campaign", "outcome"))
        self._answers = counter(ANSWERS, "Calls answered (person or machine)", ("campaign",))
        self._human_answers = counter(HUMAN_ANSWERS, "Calls answered by a person (AMD human or no AMD)", ("campaign",))
        self._agent_connects = counter(AGENT_CONNECTS, "Answered calls connected to an agent", ("campaign",))
        self._abandons = counter(ABANDONS, "Abandoned calls (no agent in time, incl. opt-outs)", ("campaign",))
        self._opt_outs = counter(OPT_OUTS, "Opt-out key pressed after the safe-harbour message", ("campaign",))
        self._ami_reconnects = counter(AMI_RECONNECTS, "AMI reconnections after a lost connection")
        self._abandon_rate = gauge(ABANDON_RATE, "Abandon rate over the regulation window", ("campaign", "window"))
        self._abandon_cap = gauge(ABANDON_CAP, "Abandon-rate cap of the campaign's regulation", ("campaign",))
        self._dial_level = gauge(DIAL_LEVEL, "Calls placed per free agent (pacer's current level)", ("campaign",))
        self._hopper_depth = gauge(HOPPER_DEPTH, "Contacts claimed and waiting to be dialled", ("campaign",))
        self._dialable = gauge(DIALABLE_CONTACTS, "Contacts left that can still be dialled", ("campaign",))
        self._agents = gauge(AGENTS, "Logged-in agents by state", ("state",))
        self._calls = gauge(CALLS, "Calls in progress by state", ("campaign", "state"))
        self._ami_up = gauge(AMI_UP, "1 when the AMI connection is up and logged in")
        self._time_to_agent = Histogram(
            TIME_TO_AGENT, "Answer to agent connect", ("campaign",), buckets=TIME_TO_AGENT_BUCKETS, registry=r
        )
        self._ring = Histogram(RING_SECONDS, "Originate to answer", ("campaign",), buckets=RING_BUCKETS, registry=r)
        self._talk = Histogram(TALK_SECONDS, "Agent connect to hang-up", ("campaign",), buckets=TALK_BUCKETS, registry=r)
        self._roundtrip = Histogram(
            ORIGINATE_ROUNDTRIP, "Originate action to its AMI response", buckets=ROUNDTRIP_BUCKETS, registry=r
        )
        r.register(_RollingCollector(self))

    # --- call events -----------------------------------------------------------------

    def attempt_originated(self, campaign: str, *, at: float | None = None) -> None:
        """An Originate was sent (hourly volume counts these)."""
        self._window(campaign).add(self._second(at), _ORIGINATED)

    def originate_roundtrip(self, seconds: float) -> None:
        """Time from sending Originate to Asterisk's response to the action."""
        self._roundtrip.observe(max(0.0, seconds))

    def call_answered(self, campaign: str, *, ring_seconds: float | None = None) -> None:
        """The far end answered (a person or a machine)."""
        c = safe_label(campaign)
        self._answers.labels(c).inc()
        if ring_seconds is not None:
            self._ring.labels(c).observe(max(0.0, ring_seconds))

    def human_answered(self, campaign: str) -> None:
        """A person answered: AMD said HUMAN/NOTSURE, or AMD is off."""
        self._human_answers.labels(safe_label(campaign)).inc()

    def agent_connected(self, campaign: str, *, time_to_agent_seconds: float | None = None) -> None:
        """An agent was connected to the answered call."""
        c = safe_label(campaign)
        self._agent_connects.labels(c).inc()
        if time_to_agent_seconds is not None:
            self._time_to_agent.labels(c).observe(max(0.0, time_to_agent_seconds))

    def attempt_ended(
        self,
        campaign: str,
        outcome: str,
        *,
        answered: bool | None = None,
        connected: bool | None = None,
        talk_seconds: float | None = None,
        at: float | None = None,
    ) -> None:
        """An attempt closed with its system outcome (compliance.outcomes.Outcome value).

        `answered` / `connected` default from the outcome (machine and every human outcome
        are answered; only `answered` was connected to an agent). Abandons count
        `abandoned` and `opt_out` (the opt-out key is only offered on abandoned calls).
        """
        c = safe_label(campaign)
        o = outcome if outcome in _OUTCOMES else Outcome.UNKNOWN.value
        self._attempts.labels(c, o).inc()
        if o in _ABANDON_OUTCOMES:
            self._abandons.labels(c).inc()
        if o == Outcome.OPT_OUT.value:
            self._opt_outs.labels(c).inc()
        if talk_seconds is not None:
            self._talk.labels(c).observe(max(0.0, talk_seconds))
        if answered is None:
            answered = o in _ANSWERED_OUTCOMES
        if connected is None:
            connected = o == Outcome.ANSWERED.value
        window = self._window(campaign)
        second = self._second(at)
        window.add(second, _ENDED)
        if answered:
            window.add(second, _ANSWERED)
        if connected:
            window.add(second, _CONNECTED)

    # --- levels ----------------------------------------------------------------------

    def set_abandon(self, campaign: str, window: str | timedelta, rate: float, cap: float) -> None:
        """The campaign's abandon rate over its regulation window, and the cap it must stay under."""
        label = window_label(window) if isinstance(window, timedelta) else window
        c = safe_label(campaign)
        self._abandon_rate.labels(c, safe_label(label)).set(rate)
        self._abandon_cap.labels(c).set(cap)

    def set_dial_level(self, campaign: str, level: float) -> None:
        self._dial_level.labels(safe_label(campaign)).set(level)

    def set_hopper_depth(self, campaign: str, depth: int) -> None:
        self._hopper_depth.labels(safe_label(campaign)).set(depth)

    def set_dialable_contacts(self, campaign: str, count: int) -> None:
        self._dialable.labels(safe_label(campaign)).set(count)

    def set_agents(self, counts_by_state: Mapping[str, int]) -> None:
        """Agents per state (ready, not_ready, on_call, wrapup...); states absent now read 0."""
        states = {safe_label(s): n for s, n in counts_by_state.items()}
        for gone in self._agent_states - states.keys():
            self._agents.labels(gone).set(0)
        for state, n in states.items():
            self._agents.labels(state).set(n)
        self._agent_states |= states.keys()

    def set_calls(self, campaign: str, counts_by_state: Mapping[str, int]) -> None:
        """Calls in progress per state (ringing, queued, connected...); absent states read 0."""
        c = safe_label(campaign)
        states = {safe_label(s): n for s, n in counts_by_state.items()}
        seen = self._call_states.setdefault(c, set())
        for gone in seen - states.keys():
            self._calls.labels(c, gone).set(0)
        for state, n in states.items():
            self._calls.labels(c, state).set(n)
        seen |= states.keys()

    def set_ami_up(self, up: bool) -> None:
        self._ami_up.set(1 if up else 0)

    def ami_reconnected(self) -> None:
        self._ami_reconnects.inc()

    def forget_campaign(self, campaign: str) -> None:
        """Stop exporting a deleted campaign's rolling figures (counters stay until restart)."""
        self._rolling.pop(safe_label(campaign), None)

    # --- rolling figures ---------------------------------------------------------------

    def _second(self, at: float | None) -> int:
        return math.floor(self._clock() if at is None else at)

    def _window(self, campaign: str) -> _LastHour:
        c = safe_label(campaign)
        window = self._rolling.get(c)
        if window is None:
            window = self._rolling[c] = _LastHour()
        return window

    def _hour_start(self, now: float) -> int:
        local = datetime.fromtimestamp(now, self._hour_zone)
        return math.floor(local.replace(minute=0, second=0, microsecond=0).timestamp())

    def connect_rates(self, campaign: str, now: float | None = None) -> dict[tuple[str, str], float]:
        """{(window, kind): rate}: answered ÷ ended and connected ÷ ended, per window."""
        t = math.floor(self._clock() if now is None else now)
        window = self._rolling.get(safe_label(campaign)) or _LastHour()
        rates: dict[tuple[str, str], float] = {}
        for name, seconds in CONNECT_WINDOWS.items():
            _, ended, answered, connected = window.sums(t - seconds, t)
            rates[(name, "answered")] = answered / ended if ended else 0.0
            rates[(name, "connected")] = connected / ended if ended else 0.0
        return rates

    def _rolling_families(self) -> list[Metric]:
        now = self._clock()
        t = math.floor(now)
        hour_start = self._hour_start(now)
        rate = GaugeMetricFamily(
            CONNECT_RATE,
            "Answered (kind=answered) or agent-connected (kind=connected) ÷ attempts ended in the window",
            labels=["campaign", "window", "kind"],
        )
        this_hour = GaugeMetricFamily(CALLS_THIS_HOUR, "Attempts originated in the current clock hour", labels=["campaign"])
        last_60m = GaugeMetricFamily(CALLS_LAST_60M, "Attempts originated in the last 60 minutes", labels=["campaign"])
        for campaign, window in sorted(self._rolling.items()):
            window.prune(t)
            for (name, kind), value in self.connect_rates(campaign, now).items():
                rate.add_metric([campaign, name, kind], value)
            this_hour.add_metric([campaign], window.sums(hour_start - 1, t)[0])
            last_60m.add_metric([campaign], window.sums(t - _HOUR, t)[0])
        return [rate, this_hour, last_60m]

    # --- restore at start --------------------------------------------------------------

    async def recompute_from_database(
        self,
        db: Database,
        *,
        rules: Mapping[str, AbandonmentRule] | None = None,
        now: datetime | None = None,
    ) -> list[AbandonFigures]:
        """Refill the rolling windows and abandon-rate gauges from `call_attempts`.

        Call once at engine start, before feeding live events: it replaces the rolling
        state. `rules` maps campaign name -> the campaign's abandonment rule (with its
        overrides applied); a campaign not in it uses its regulation profile's rule.
        """
        at = now or datetime.fromtimestamp(self._clock(), UTC)
        since = at - timedelta(seconds=_HOUR)
        figures: list[AbandonFigures] = []
        async with db.engine.connect() as conn:
            campaigns = (await conn.execute(text(SQL_CAMPAIGNS))).all()
            originates = (await conn.execute(text(SQL_ORIGINATES_LAST_HOUR), {"since": since, "now": at})).all()
            endings = (await conn.execute(text(SQL_ENDINGS_LAST_HOUR), {"since": since, "now": at})).all()
            for campaign_id, name, regulation in campaigns:
                rule = (rules or {}).get(name) or _profile_rule(regulation)
                if rule is None:
                    continue
                row = (
                    await conn.execute(
                        text(SQL_ABANDON_COUNTS),
                        {
                            "campaign_id": campaign_id,
                            "since": at - rule.window,
                            "now": at,
                            "deadline": rule.connect_deadline_s,
                        },
                    )
                ).one()
                figures.append(
                    AbandonFigures(name, window_label(rule.window), abandon_rate(rule, *row), rule.cap)
                )
        restored: dict[str, _LastHour] = {}
        per_second: dict[tuple[str, int], list[int]] = {}
        for name, second, n in originates:
            per_second.setdefault((safe_label(name), int(second)), [0, 0, 0, 0])[0] += n
        for name, second, ended, answered, connected in endings:
            counts = per_second.setdefault((safe_label(name), int(second)), [0, 0, 0, 0])
            counts[1] += ended
            counts[2] += answered
            counts[3] += connected
        for (name, second), counts in sorted(per_second.items()):
            restored.setdefault(name, _LastHour()).buckets.append([second, *counts])
        for _, name, _ in campaigns:
            restored.setdefault(safe_label(name), _LastHour())
        self._rolling = restored
        for f in figures:
            self.set_abandon(f.campaign, f.window, f.rate, f.cap)
        return figures

    # --- HTTP ------------------------------------------------------------------------

    def render(self) -> bytes:
        """The exposition text Prometheus scrapes."""
        return generate_latest(self.registry)

    async def start(self, port: int, host: str = "0.0.0.0") -> int:
        """Serve GET /metrics on `port` (0: an ephemeral port); returns the bound port."""
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("metrics: serving /metrics on %s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A deliberately tiny HTTP/1.0-style server on the engine's loop: Prometheus sends
        # one GET per scrape; no threads means no locking around the figures.
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if method not in ("GET", "HEAD"):
                await _respond(writer, "405 Method Not Allowed", b"GET only\n", "text/plain")
            elif path.split("?", 1)[0] == "/metrics":
                body = self.render()
                await _respond(writer, "200 OK", body if method == "GET" else b"", CONTENT_TYPE_LATEST, len(body))
            elif path == "/":
                await _respond(writer, "200 OK", b'<a href="/metrics">/metrics</a>\n', "text/html")
            else:
                await _respond(writer, "404 Not Found", b"not found\n", "text/plain")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _respond(
    writer: asyncio.StreamWriter, status: str, body: bytes, content_type: str, length: int | None = None
) -> None:
    headers = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
    )
    writer.write(headers.encode("latin-1") + body)
    await writer.drain()


def _profile_rule(regulation: str) -> AbandonmentRule | None:
    try:
        return get_profile(regulation).abandonment
    except KeyError:
        return None


def parse_exposition(text_body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(name, sorted labels): value} from exposition text (tests and the CLI status use it)."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text_body):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


__all__ = [
    "DialerMetrics", "AbandonFigures", "METRIC_NAMES", "HISTOGRAMS", "CONNECT_WINDOWS",
    "safe_label", "window_label", "abandon_rate", "parse_exposition",
]
