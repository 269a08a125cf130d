"""The project's own asyncio AMI client (uvloop-safe; no third-party AMI library).

Import everything from here; the parts: amiclient.py (`AMIClient`), connection.py
(connect, login, reconnect, keep-alive, resync, the reader), correlation.py (actions in
flight, list results, Originate outcomes), subscriptions.py (event queues), config.py,
errors.py.

Usage (the engine's side)::

    from ami import actions
    from ami.client import AMIClient, ClientConfig, ConnectionState, ResyncSnapshot
    from ami.ids import new_channel_id

    client = AMIClient(ClientConfig(host="127.0.0.1", port=5038,
                                    username="dialer", secret="s3cret"))
    client.on_state(lambda state, exc: print("AMI", state, exc))
    async def resync(snap: ResyncSnapshot) -> None: ...   # reconcile live calls/members
    client.set_resync_hook(resync)
    events = client.subscribe({"Hangup", "UserEvent", "OriginateResponse"}, maxsize=50_000)
    await client.connect()                 # raises AuthenticationError on a bad login

    handle = await client.originate(actions.OriginateRequest(
        channel="PJSIP/5551234@carrier", channel_id=new_channel_id(),
        context="dialer-connect", exten="campaign1", timeout_ms=25_000,
        variables={"DIALER_ATTEMPT": "..."}))        # returns once "queued"
    outcome = await handle.outcome()       # OriginateResponse, or OriginateOutcomeUnknown

    async for ev in events: ...            # typed events (ami.events), per subscriber

Guarantees:
- One reader task per connection (``readuntil(b"\\r\\n\\r\\n")``); malformed messages are
  logged and skipped. Events go to each subscriber's bounded queue with ``put_nowait``; a
  full queue drops (and counts) for that subscriber only, and a callback that raises is
  logged, so no consumer can stall or break the reader.
- ActionIDs are ``<random per-process prefix>-<n>``: unique across sessions and restarts.
  Each action has a deadline (`ActionTimeout`). An ``Error`` reply raises `ActionFailed`
  (`AsteriskShuttingDown` for "Asterisk is shutting down").
- List actions collect ``EventList: start`` .. ``<X>Complete`` and check ``ListItems``.
- Nothing is ever re-sent after a reconnect: pending actions fail with `ConnectionLost`,
  pending originate outcomes with `OriginateOutcomeUnknown`; the engine decides. After
  every (re)connect the resync hook gets CoreShowChannels + QueueStatus results. Until the
  hook has finished the state is SYNCING (``connected`` is False), so nothing new is
  placed on a picture the engine has not reconciled yet; a failed resync is retried with
  back-off. `connect()` returns once the first resync has finished.
- OriginateResponse is broadcast to all sessions: only our own ActionIDs resolve handles
  (`OriginateResponse.ours` tells subscribers which is which).
- Keep-alive Ping every ``ping_interval`` with ``ping_timeout``: a silent connection is
  closed and reopened with exponential back-off. A failed login raises
  `AuthenticationError` and is never retried in a loop (state AUTH_FAILED).
"""

from __future__ import annotations

from ami.client.amiclient import AMIClient
from ami.client.config import ClientConfig, ConnectionState
from ami.client.connection import ResyncHook, ResyncSnapshot, StateCallback
from ami.client.correlation import ListResult, OriginateHandle
from ami.client.errors import (
    SHUTTING_DOWN_TEXT,
    ActionFailed,
    ActionTimeout,
    AMIError,
    AsteriskShuttingDown,
    AuthenticationError,
    ConnectionLost,
    ListIncomplete,
    NotConnected,
    OriginateOutcomeUnknown,
)
from ami.client.subscriptions import Subscription
from ami.events import Shutdown

__all__ = [
    "AMIClient", "ClientConfig", "ConnectionState", "ResyncSnapshot", "ListResult",
    "OriginateHandle", "Subscription", "AMIError", "ActionFailed", "AsteriskShuttingDown",
    "ActionTimeout", "ConnectionLost", "NotConnected", "AuthenticationError",
    "ListIncomplete", "OriginateOutcomeUnknown", "Shutdown",
    "SHUTTING_DOWN_TEXT", "ResyncHook", "StateCallback",
]
