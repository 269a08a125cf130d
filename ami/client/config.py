"""The AMI client's settings (`ClientConfig`) and its connection states."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ConnectionState(str, enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    SYNCING = "syncing"  # logged in; the resync hook runs: not usable for new calls yet
    CONNECTED = "connected"
    SHUTTING_DOWN = "shutting_down"  # Event: Shutdown received
    AUTH_FAILED = "auth_failed"
    CLOSED = "closed"


@dataclass(slots=True)
class ClientConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "dialer"
    secret: str = ""
    auth: str = "md5"  # "md5" (Challenge) or "plain"
    events: str = "on"
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    reconnect_min: float = 0.2
    reconnect_max: float = 30.0
    originate_margin: float = 15.0  # outcome deadline = ring timeout + this
    resync_timeout: float = 30.0
    resync_retry_max: float = 5.0  # back-off cap between failed resync attempts
    reader_limit: int = 1 << 20
