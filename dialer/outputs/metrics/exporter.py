"""`DialerMetrics`: the one object the engine's observers feed, and the `/metrics` endpoint it serves.

`DialerMetrics` owns its own `CollectorRegistry` (several engines or tests in one process
never collide). The engine calls its event methods on its event loop as calls progress
(all cheap, never blocking); the endpoint renders the registry on its own thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from compliance.abandonment import AbandonmentRule
from compliance.outcomes import Outcome
from dialer.db.database import Database
from dialer.engine.agents import AgentState
from dialer.outputs.metrics.definitions import (
    ABANDON_OUTCOMES,
    ANSWERED_OUTCOMES,
    OUTCOMES,
    Families,
    safe_label,
    window_label,
)
from dialer.outputs.metrics.recompute import AbandonFigures, recompute
from dialer.outputs.metrics.server import MetricsServer
from dialer.outputs.metrics.windows import (
    ANSWERED,
    CONNECTED,
    ENDED,
    ORIGINATED,
    RollingCollector,
    RollingWindows,
)

log = logging.getLogger("dialer.outputs.metrics")


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
        self._windows = RollingWindows(clock, hour_zone)
        self._agent_states: set[str] = set()
        self._call_states: dict[str, set[str]] = {}
        self._server: MetricsServer | None = None
        self.port: int | None = None
        self._f = Families.register(self.registry)
        self.registry.register(RollingCollector(self._windows))

    # --- call events -----------------------------------------------------------------

    def attempt_originated(self, campaign: str, *, at: float | None = None) -> None:
        """An Originate was sent (hourly volume counts these)."""
        self._windows.add(safe_label(campaign), self._second(at), ORIGINATED)

    def originate_roundtrip(self, seconds: float) -> None:
        """Time from sending Originate to Asterisk's response to the action."""
        self._f.roundtrip.observe(max(0.0, seconds))

    def call_answered(self, campaign: str, *, ring_seconds: float | None = None) -> None:
        """The far end answered (a person or a machine)."""
        c = safe_label(campaign)
        self._f.answers.labels(c).inc()
        if ring_seconds is not None:
            self._f.ring.labels(c).observe(max(0.0, ring_seconds))

    def human_answered(self, campaign: str) -> None:
        """A person answered: AMD said HUMAN/NOTSURE, or AMD is off."""
        self._f.human_answers.labels(safe_label(campaign)).inc()

    def agent_connected(self, campaign: str, *, time_to_agent_seconds: float | None = None) -> None:
        """An agent was connected to the answered call."""
        c = safe_label(campaign)
        self._f.agent_connects.labels(c).inc()
        if time_to_agent_seconds is not None:
            self._f.time_to_agent.labels(c).observe(max(0.0, time_to_agent_seconds))

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
        o = outcome if outcome in OUTCOMES else Outcome.UNKNOWN.value
        self._f.attempts.labels(c, o).inc()
        if o in ABANDON_OUTCOMES:
            self._f.abandons.labels(c).inc()
        if o == Outcome.OPT_OUT.value:
            self._f.opt_outs.labels(c).inc()
        if talk_seconds is not None:
            self._f.talk.labels(c).observe(max(0.0, talk_seconds))
        if answered is None:
            answered = o in ANSWERED_OUTCOMES
        if connected is None:
            connected = o == Outcome.ANSWERED.value
        fields = (ENDED,) + ((ANSWERED,) if answered else ()) + ((CONNECTED,) if connected else ())
        self._windows.add(c, self._second(at), *fields)

    # --- levels ----------------------------------------------------------------------

    def set_abandon(self, campaign: str, window: str | timedelta, rate: float, cap: float) -> None:
        """The campaign's abandon rate over its regulation window, and the cap it must stay under."""
        label = window_label(window) if isinstance(window, timedelta) else window
        c = safe_label(campaign)
        self._f.abandon_rate.labels(c, safe_label(label)).set(rate)
        self._f.abandon_cap.labels(c).set(cap)

    def set_dial_level(self, campaign: str, level: float) -> None:
        self._f.dial_level.labels(safe_label(campaign)).set(level)

    def set_hopper_depth(self, campaign: str, depth: int) -> None:
        self._f.hopper_depth.labels(safe_label(campaign)).set(depth)

    def set_dialable_contacts(self, campaign: str, count: int) -> None:
        self._f.dialable.labels(safe_label(campaign)).set(count)

    def set_agents(self, counts_by_state: Mapping[str, int]) -> None:
        """Logged-in agents per state (ready, paused, on_call, wrap_up...); states absent now
        read 0. Logged-out agents are not counted: with nobody logged in the gauge sums to 0,
        which is what the DialerNoAgents alert looks for."""
        states = {safe_label(s): n for s, n in counts_by_state.items() if s != AgentState.LOGGED_OUT}
        for gone in self._agent_states - states.keys():
            self._f.agents.labels(gone).set(0)
        for state, n in states.items():
            self._f.agents.labels(state).set(n)
        self._agent_states |= states.keys()

    def set_calls(self, campaign: str, counts_by_state: Mapping[str, int]) -> None:
        """Calls in progress per state (ringing, queued, connected...); absent states read 0."""
        c = safe_label(campaign)
        states = {safe_label(s): n for s, n in counts_by_state.items()}
        seen = self._call_states.setdefault(c, set())
        for gone in seen - states.keys():
            self._f.calls.labels(c, gone).set(0)
        for state, n in states.items():
            self._f.calls.labels(c, state).set(n)
        seen |= states.keys()

    def set_ami_up(self, up: bool) -> None:
        self._f.ami_up.set(1 if up else 0)

    def ami_reconnected(self) -> None:
        self._f.ami_reconnects.inc()

    def forget_campaign(self, campaign: str) -> None:
        """Stop exporting a deleted campaign's rolling figures (counters stay until restart)."""
        self._windows.forget(safe_label(campaign))

    # --- rolling figures ---------------------------------------------------------------

    def _second(self, at: float | None) -> int:
        return math.floor(self._clock() if at is None else at)

    def connect_rates(self, campaign: str, now: float | None = None) -> dict[tuple[str, str], float]:
        """{(window, kind): rate}: answered ÷ ended and connected ÷ ended, per window."""
        return self._windows.connect_rates(safe_label(campaign), now)

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
        restored, figures = await recompute(db, at, rules)
        self._windows.replace(restored)
        for f in figures:
            self.set_abandon(f.campaign, f.window, f.rate, f.cap)
        return figures

    # --- HTTP ------------------------------------------------------------------------

    def render(self) -> bytes:
        """The exposition text Prometheus scrapes."""
        return generate_latest(self.registry)

    async def start(self, port: int, host: str = "0.0.0.0") -> int:
        """Serve GET /metrics on `port` (0: an ephemeral port); returns the bound port."""
        server = MetricsServer(self.registry)
        # binding looks the host name up (getfqdn): off the loop
        self.port = await asyncio.to_thread(server.start, host, port)
        self._server = server
        log.info("metrics: serving /metrics on %s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.stop)


def parse_exposition(text_body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(name, sorted labels): value} from exposition text (tests and the CLI status use it)."""
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text_body):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values
