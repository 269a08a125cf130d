"""The simulator's counters (`PbxSimulator.stats`), read by tests and benchmarks."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass
class SimStats:
    """Counters for tests and benchmarks."""

    actions: Counter[str] = field(default_factory=Counter)
    originates: int = 0
    #: the latest 10,000 ChannelIds / ActionIDs of Originates received
    originate_channel_ids: deque[str] = field(default_factory=lambda: deque(maxlen=10_000))
    originate_action_ids: deque[str] = field(default_factory=lambda: deque(maxlen=10_000))
    events: int = 0
    connections: int = 0
    logins: int = 0
    failed_logins: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    calls_started: int = 0
    calls_ended: int = 0
    opt_outs: int = 0
    #: answered callers who found no free agent when they joined the queue (they waited:
    #: connected later, hung up, or timed out to the safe-harbour message)
    joined_with_no_agent_free: int = 0
