"""The Prometheus exporter: what Grafana and the alert rules read (DESIGN.md §8).

- `definitions`: the metric families (names, help, buckets), `METRIC_NAMES` (the contract
  with deploy/grafana and deploy/prometheus/rules.yml) and bounded labels (`safe_label`,
  `window_label`).
- `windows`: rolling figures over the last hour (connect rates, hourly volume), computed
  at scrape time from per-second buckets.
- `recompute`: those windows and the abandon-rate gauges rebuilt from `call_attempts` when
  an engine starts; its SQL lives in `queries`.
- `server`: `/metrics` served by prometheus_client's WSGI app on a daemon thread.
- `exporter`: `DialerMetrics`, the facade the engine's observers feed, and
  `parse_exposition` for tests and status readers.
"""

from dialer.outputs.metrics.definitions import (
    ABANDON_CAP,
    ABANDON_RATE,
    ABANDONS,
    AGENT_CONNECTS,
    AGENTS,
    AMI_RECONNECTS,
    AMI_UP,
    ANSWERS,
    ATTEMPTS,
    CALLS,
    CALLS_LAST_60M,
    CALLS_THIS_HOUR,
    CONNECT_RATE,
    CONNECT_WINDOWS,
    DIAL_LEVEL,
    DIALABLE_CONTACTS,
    HISTOGRAMS,
    HOPPER_DEPTH,
    HUMAN_ANSWERS,
    INVALID_LABEL,
    METRIC_NAMES,
    OPT_OUTS,
    ORIGINATE_ROUNDTRIP,
    RING_SECONDS,
    TALK_SECONDS,
    TIME_TO_AGENT,
    safe_label,
    window_label,
)
from dialer.outputs.metrics.exporter import DialerMetrics, parse_exposition
from dialer.outputs.metrics.recompute import AbandonFigures, abandon_rate

__all__ = [
    "DialerMetrics", "AbandonFigures", "METRIC_NAMES", "HISTOGRAMS", "CONNECT_WINDOWS",
    "safe_label", "window_label", "abandon_rate", "parse_exposition", "INVALID_LABEL",
    "ABANDON_CAP", "ABANDON_RATE", "ABANDONS", "AGENT_CONNECTS", "AGENTS", "AMI_RECONNECTS", "AMI_UP",
    "ANSWERS", "ATTEMPTS", "CALLS", "CALLS_LAST_60M", "CALLS_THIS_HOUR", "CONNECT_RATE", "DIAL_LEVEL",
    "DIALABLE_CONTACTS", "HOPPER_DEPTH", "HUMAN_ANSWERS", "OPT_OUTS", "ORIGINATE_ROUNDTRIP",
    "RING_SECONDS", "TALK_SECONDS", "TIME_TO_AGENT",
]
