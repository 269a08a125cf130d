"""Rolling figures over the last hour: connect rates and hourly volume, computed at scrape time.

Each campaign keeps per-second buckets of the last hour, so the figures slide without
the engine having to tick them. The engine adds to the buckets on its event loop while
a scrape reads them on the HTTP server's thread: one lock guards them, held only for
the few list operations of an event, or for a scrape to prune and copy them (the sums
are taken on the copies, outside the lock).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dialer.outputs.metrics.definitions import (
    CALLS_LAST_60M,
    CALLS_LAST_60M_HELP,
    CALLS_THIS_HOUR,
    CALLS_THIS_HOUR_HELP,
    CONNECT_RATE,
    CONNECT_RATE_HELP,
    CONNECT_WINDOWS,
    HOUR,
)

# Fields of a bucket [second, originated, ended, answered, connected].
ORIGINATED, ENDED, ANSWERED, CONNECTED = 1, 2, 3, 4


class LastHour:
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
        edge = now - HOUR
        while self.buckets and self.buckets[0][0] <= edge:
            self.buckets.popleft()

    def pruned_copy(self, now: int) -> LastHour:
        """Prune, then a copy whose deque is its own (the buckets are shared)."""
        self.prune(now)
        copy = LastHour()
        copy.buckets = self.buckets.copy()
        return copy

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


def _rates(window: LastHour, t: int) -> dict[tuple[str, str], float]:
    rates: dict[tuple[str, str], float] = {}
    for name, seconds in CONNECT_WINDOWS.items():
        _, ended, answered, connected = window.sums(t - seconds, t)
        rates[(name, "answered")] = answered / ended if ended else 0.0
        rates[(name, "connected")] = connected / ended if ended else 0.0
    return rates


class RollingWindows:
    """The last hour of every campaign (keyed by its safe label), and the gauges made from it.

    `clock` (epoch seconds) and `hour_zone` (where a "clock hour" starts) come from
    `DialerMetrics`, injectable for tests and for sites whose time zone is not a whole
    number of hours from UTC.
    """

    def __init__(self, clock: Callable[[], float], hour_zone: tzinfo) -> None:
        self._clock = clock
        self._hour_zone = hour_zone
        self._lock = threading.Lock()
        self._campaigns: dict[str, LastHour] = {}

    def add(self, campaign: str, second: int, *fields: int) -> None:
        """Count one event in each of `fields` at `second` for `campaign` (a safe label)."""
        with self._lock:
            window = self._campaigns.get(campaign)
            if window is None:
                window = self._campaigns[campaign] = LastHour()
            for field in fields:
                window.add(second, field)

    def forget(self, campaign: str) -> None:
        with self._lock:
            self._campaigns.pop(campaign, None)

    def replace(self, restored: dict[str, LastHour]) -> None:
        """Swap in windows rebuilt from the database (keyed by safe label)."""
        with self._lock:
            self._campaigns = restored

    def connect_rates(self, campaign: str, now: float | None = None) -> dict[tuple[str, str], float]:
        """{(window, kind): rate}: answered ÷ ended and connected ÷ ended, per window."""
        t = math.floor(self._clock() if now is None else now)
        with self._lock:
            return _rates(self._campaigns.get(campaign) or LastHour(), t)

    def _hour_start(self, now: float) -> int:
        local = datetime.fromtimestamp(now, self._hour_zone)
        return math.floor(local.replace(minute=0, second=0, microsecond=0).timestamp())

    def families(self) -> list[Metric]:
        """The connect-rate and hourly-volume gauges as of now, campaigns in name order."""
        now = self._clock()
        t = math.floor(now)
        hour_start = self._hour_start(now)
        rate = GaugeMetricFamily(CONNECT_RATE, CONNECT_RATE_HELP, labels=["campaign", "window", "kind"])
        this_hour = GaugeMetricFamily(CALLS_THIS_HOUR, CALLS_THIS_HOUR_HELP, labels=["campaign"])
        last_60m = GaugeMetricFamily(CALLS_LAST_60M, CALLS_LAST_60M_HELP, labels=["campaign"])
        with self._lock:
            # under the lock only the pruning and a shallow copy (C speed); the sums below
            # read the copies, whose bucket counts the engine may still raise meanwhile
            snapshot = [(campaign, window.pruned_copy(t)) for campaign, window in sorted(self._campaigns.items())]
        for campaign, window in snapshot:
            for (name, kind), value in _rates(window, t).items():
                rate.add_metric([campaign, name, kind], value)
            this_hour.add_metric([campaign], window.sums(hour_start - 1, t)[0])
            last_60m.add_metric([campaign], window.sums(t - HOUR, t)[0])
        return [rate, this_hour, last_60m]


class RollingCollector(Collector):
    """Yields the scrape-time gauges of `RollingWindows` into a registry."""

    def __init__(self, windows: RollingWindows) -> None:
        self._windows = windows

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(CONNECT_RATE, "", labels=["campaign", "window", "kind"])
        yield GaugeMetricFamily(CALLS_THIS_HOUR, "", labels=["campaign"])
        yield GaugeMetricFamily(CALLS_LAST_60M, "", labels=["campaign"])

    def collect(self) -> Iterator[Metric]:
        return iter(self._windows.families())
