"""Campaign queues without hand edits: each campaign's queue made to exist on this engine's
Asterisk, with the campaign's priority as its `weight`, before the campaign dials.

How (asterisk-conf/README.md "How campaign queues come to exist"): the queue is a category
`[<queue>](dialer-campaign)` with `weight = <priority>` in the dialer-owned file
`queues_dialer.conf` (#included from queues.conf), written with AMI `UpdateConfig` (write
class `config`) and loaded with `QueueReload` of that queue alone (dynamic members stay).

- Idempotent: a queue Asterisk already has with the right weight costs one QueueStatus and
  no write; a changed weight is updated in place; a queue defined outside the dialer's file
  (by hand in queues.conf, or realtime) is left alone, a weight difference logged.
- Safe: only names the shipped dialplan can route (`[dialer-connect]`'s `_[0-9a-z].`:
  lowercase letters, digits, '-', '_', '.', two or more) are written, so a name can never
  close the category header or inject a setting.
- Observable: a queue that could not be made ready holds its campaign (no call is placed
  into a missing queue: a customer would hear the safe-harbour message, QUEUESTATUS=UNKNOWN)
  and says why in the log and in `dialer status`; it is tried again every few seconds and
  after every AMI (re)connect.
With `DIALER_QUEUE_SETUP=check` the engine writes nothing: it only checks that the queue
exists (for floors whose queues come from configuration management or realtime).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ami import actions, dialplan
from ami.client import ActionFailed, AMIClient

log = logging.getLogger("dialer.engine.queues")

QueueSetupMode = Literal["create", "check"]

# A queue name the [dialer-connect] pattern routes; safe as a configuration category.
QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]+$")
# A queue not ready is tried again after this long (the reload loop polls every 5 s).
RETRY_S = 5.0

# UpdateConfig's error texts (Asterisk 22, tests/ami/captures/04-queue-config.txt) -> what to do.
_EXPLAINED = {
    "Permission denied": "the AMI user may not edit configuration: add `config` to its"
                         " write classes in manager.conf (asterisk-conf/manager.conf)",
    "File requires escalated privileges": f"{dialplan.QUEUE_FILE} is not in Asterisk's configuration"
                                          f" directory: copy asterisk-conf/{dialplan.QUEUE_FILE} there",
    "Template category not found": f"{dialplan.QUEUE_FILE} lacks the template"
                                   f" [{dialplan.QUEUE_TEMPLATE}](!) (see asterisk-conf/{dialplan.QUEUE_FILE})",
}
_EXISTS = "Create category did not complete successfully"
_NO_CATEGORY = "Given category does not exist"
_NO_VARIABLE = "Update did not complete successfully"


class QueueSetupError(Exception):
    """The campaign's queue could not be made ready; the message says what to fix."""


class _NotOurs(Exception):
    """The queue's category is not in the dialer's file."""


@dataclass
class QueueReadiness:
    """What this engine knows of one queue on its Asterisk."""

    queue: str
    weight: int
    ready: bool = False
    error: str | None = None
    created: bool = False  # written by this engine (not found on its Asterisk first)
    next_try: float = 0.0

    def view(self) -> dict[str, Any]:
        return {"name": self.queue, "ready": self.ready, "weight": self.weight, "error": self.error}


class QueueSetup:
    """The queues of this engine's campaigns, made ready on its Asterisk."""

    def __init__(self, client: Callable[[], AMIClient | None], mode: QueueSetupMode = "create") -> None:
        self._client = client  # the engine's AMI client (None before it exists)
        self.mode = mode
        self.queues: dict[str, QueueReadiness] = {}

    def ready(self, queue: str) -> bool:
        state = self.queues.get(queue)
        return state is not None and state.ready

    def view(self, queue: str) -> dict[str, Any] | None:
        state = self.queues.get(queue)
        return state.view() if state is not None else None

    def due(self, queue: str, weight: int, now: float | None = None) -> bool:
        """Whether `ensure` has work: never tried, weight changed, or failed and due again."""
        state = self.queues.get(queue)
        if state is None or state.weight != weight:
            return True
        return not state.ready and (now if now is not None else time.monotonic()) >= state.next_try

    def forget(self, keep: set[str]) -> None:
        """Drop the queues no campaign of this engine uses any more."""
        for queue in set(self.queues) - keep:
            del self.queues[queue]

    def mark_unchecked(self) -> None:
        """After an AMI reconnect: Asterisk may have restarted, or be another box; every
        queue is checked again before its campaign dials."""
        for state in self.queues.values():
            state.ready, state.next_try = False, 0.0

    async def ensure(self, queue: str, weight: int) -> bool:
        """Make `queue` exist with `weight`; True when it is ready for calls."""
        state = self.queues.get(queue)
        if state is None or state.weight != weight:
            state = self.queues[queue] = QueueReadiness(queue, weight)
        try:
            state.created = await self._ensure(queue, weight) or state.created
        except QueueSetupError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - AMI down, a timeout: tried again later
            error = f"{type(exc).__name__}: {exc}"
        else:
            if not state.ready:
                log.info("queue %s ready on Asterisk (weight %d%s)", queue, weight,
                         ", created" if state.created else "")
            state.ready, state.error = True, None
            return True
        if error != state.error:  # once per distinct error, not every retry
            log.error("queue %s not ready, its campaigns do not dial: %s", queue, error)
        state.ready, state.error = False, error
        state.next_try = time.monotonic() + RETRY_S
        return False

    async def _ensure(self, queue: str, weight: int) -> bool:
        """Returns True when the queue was created (written and loaded) here."""
        client = self._client()
        if client is None or not client.logged_in:
            raise QueueSetupError("AMI is not connected")
        if not QUEUE_NAME.match(queue):
            raise QueueSetupError(
                f"queue name {queue!r} cannot be routed by [dialer-connect]: use lowercase letters,"
                " digits, '-', '_' or '.', at least two characters")
        live = await self._live_weight(client, queue)
        if live == weight:
            return False
        if self.mode == "check":
            if live is None:
                raise QueueSetupError(
                    f"queue {queue} does not exist on this Asterisk (DIALER_QUEUE_SETUP=check: add"
                    f" [{queue}]({dialplan.QUEUE_TEMPLATE}) with weight = {weight} and reload app_queue)")
            log.warning("queue %s has weight %d on Asterisk, the campaign's priority is %d"
                        " (DIALER_QUEUE_SETUP=check: not changed)", queue, live, weight)
            return False
        created = False
        if live is None:
            created = await self._add(client, queue, weight)
        else:
            try:
                await self._set_weight(client, queue, weight)
            except _NotOurs:
                log.warning("queue %s is configured outside %s: its weight %d is left as it is"
                            " (the campaign's priority is %d)", queue, dialplan.QUEUE_FILE, live, weight)
                return False
        await client.send(actions.queue_reload(queue))
        live = await self._live_weight(client, queue)
        if live is None:
            raise QueueSetupError(
                f"queue {queue} is in {dialplan.QUEUE_FILE} but app_queue did not load it: does"
                f" queues.conf `#include {dialplan.QUEUE_FILE}`? (see the Asterisk log)")
        if live != weight:
            log.warning("queue %s: weight %d written, Asterisk reports %d", queue, weight, live)
        return created

    @staticmethod
    async def _live_weight(client: AMIClient, queue: str) -> int | None:
        """The queue's weight as app_queue has it loaded; None when it has no such queue
        (QueueStatus then answers an empty list)."""
        for item in await client.queue_status(queue):
            if item.get("Event") == "QueueParams" and item.get("Queue") == queue:
                weight = item.get("Weight") or "0"
                return int(weight) if weight.lstrip("-").isdigit() else 0
        return None

    async def _add(self, client: AMIClient, queue: str, weight: int) -> bool:
        """Write `[queue](dialer-campaign)` + `weight`; True when the category was new."""
        try:
            await client.send(actions.update_config(dialplan.QUEUE_FILE, [
                actions.ConfigChange("NewCat", queue, options=f'inherit="{dialplan.QUEUE_TEMPLATE}"'),
                actions.ConfigChange("Append", queue, "weight", str(weight)),
            ]))
        except ActionFailed as exc:
            if exc.message != _EXISTS:
                raise QueueSetupError(_explain(exc)) from exc
            # In the file but not loaded (written before a failed reload): set the weight there.
            try:
                await self._set_weight(client, queue, weight)
            except _NotOurs:
                raise QueueSetupError(f"queue {queue}: {dialplan.QUEUE_FILE} refused it") from exc
            return False
        log.info("queue %s added to %s (weight %d)", queue, dialplan.QUEUE_FILE, weight)
        return True

    @staticmethod
    async def _set_weight(client: AMIClient, queue: str, weight: int) -> None:
        change = actions.ConfigChange("Update", queue, "weight", str(weight))
        try:
            await client.send(actions.update_config(dialplan.QUEUE_FILE, [change]))
        except ActionFailed as exc:
            if exc.message == _NO_CATEGORY:
                raise _NotOurs(queue) from exc
            if exc.message != _NO_VARIABLE:
                raise QueueSetupError(_explain(exc)) from exc
            # Neither the category nor its template sets a weight: add the line.
            try:
                await client.send(actions.update_config(dialplan.QUEUE_FILE, [
                    actions.ConfigChange("Append", queue, "weight", str(weight))]))
            except ActionFailed as exc2:
                raise QueueSetupError(_explain(exc2)) from exc2
        log.info("queue %s: weight set to %d in %s", queue, weight, dialplan.QUEUE_FILE)


def _explain(exc: ActionFailed) -> str:
    hint = _EXPLAINED.get(exc.message)
    return f"UpdateConfig of {dialplan.QUEUE_FILE} refused ({exc.message}): {hint}" if hint else str(exc)
