"""The PBX simulator: an asyncio TCP server that speaks AMI like Asterisk 22.10.1.

See ami/simulator.py for the public summary. Everything here runs on one event loop;
simulated durations are divided by ``config.time_scale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ami import dialplan
from ami.ids import MAX_UNIQUEID_LEN
from ami.sim.calls import (
    APP,
    CONNECT,
    DIALING,
    ENDED,
    QUEUED,
    SAFE_HARBOUR,
    TALKING,
    Call,
)
from ami.sim.channels import (
    CAUSE_TXT,
    Agent,
    Chan,
    Member,
    Queue,
    hms,
    member_block,
    queue_member_item,
)
from ami.sim.config import SimConfig
from pacing.world import AmdVerdict, LineResult

log = logging.getLogger("ami.simulator")

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
SHUTTING_DOWN = "Asterisk is shutting down"
GARBLED = b"\x00\xff\xfeGARBLED \x01 no separator here\r\n%%%\r\n\r\n"


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


class Session:
    __slots__ = ("writer", "authed", "classes", "challenge", "username", "closed")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.authed = False
        self.classes: frozenset[str] | None = frozenset()  # None = all, empty = off
        self.challenge: str | None = None
        self.username = ""
        self.closed = False

    def wants(self, cls: str) -> bool:
        if not self.authed or self.closed:
            return False
        return self.classes is None or cls in self.classes

    def write(self, data: bytes) -> None:
        if not self.closed:
            try:
                self.writer.write(data)
            except (ConnectionError, RuntimeError):
                self.closed = True


def _parse_request(raw: bytes) -> list[tuple[str, str]]:
    out = []
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line:
            continue
        k, sep, v = line.partition(":")
        if sep:
            out.append((k.strip(), v.strip()))
    return out


def _parse_callerid(value: str) -> tuple[str, str]:
    value = value.strip()
    if "<" in value and value.endswith(">"):
        name, _, num = value[:-1].rpartition("<")
        return num.strip(), name.strip().strip('"')
    return value, ""


def _leading_int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    digits = ""
    for ch in value.strip():
        if ch.isdigit():
            digits += ch
        else:
            break
    return int(digits) if digits else 0


class PbxSimulator:
    """Simulated Asterisk. ``async with PbxSimulator(SimConfig(...)) as sim: sim.port``.

    Failure injection: `drop_connections()`, ``response_delay`` (seconds, real time),
    ``silent`` (read actions, answer nothing: a half-dead connection), `send_garbled()`,
    `shutdown()` (graceful, optionally restarting).
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.stats = SimStats()
        self.response_delay = 0.0
        self.silent = False
        #: fault injection: action name (lower case) -> the Error Message it is refused with
        self.refuse_actions: dict[str, str] = {}
        self.shutting_down = False
        self.sessions: set[Session] = set()
        self.channels: dict[str, Chan] = {}  # by name
        self.calls: dict[str, Call] = {}  # by attempt id
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, Queue] = {}
        self._server: asyncio.Server | None = None
        self._chan_seq = 0
        self._uid_seq = 0
        self._bridge_seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = random.Random(self.config.seed)
        # app_agent_pool keeps every idle logged-in agent in one holding bridge.
        self._holding_bridge = str(uuid.UUID(
            int=random.Random(f"{self.config.seed}:holding").getrandbits(128), version=4))
        self._start_epoch = int(time.time())
        self._started_loop = 0.0
        self._listeners: list[Callable[[bytes], None]] = []
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._started_loop = loop.time()
        self._server = await asyncio.start_server(self._handle, self.config.host,
                                                  self.config.port, limit=1 << 20)
        self._login_all_agents()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for sess in list(self.sessions):
            sess.closed = True
            sess.writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def __aenter__(self) -> PbxSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "simulator not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def live_channels(self) -> int:
        return len(self.channels)

    @property
    def active_calls(self) -> int:
        return len(self.calls)

    def on_event_bytes(self, listener: Callable[[bytes], None]) -> None:
        """Tap every emitted event (as bytes), e.g. for recording a run."""
        self._listeners.append(listener)

    def _reset_state(self) -> None:
        self.channels.clear()
        self.calls.clear()
        self.agents = {}
        for i in range(self.config.agents):
            aid = str(self.config.first_agent + i)
            self.agents[aid] = Agent(aid)
        self.queues = {q: Queue(q, self.config.wrapuptime.get(q)) for q in self.config.queues}
        self._chan_seq = 0
        self._uid_seq = 0

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------------ time
    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _sim_elapsed(self, since_loop: float) -> float:
        return (self._now() - since_loop) * self.config.time_scale

    async def _sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(sim_seconds, 0.0) / self.config.time_scale)

    # ------------------------------------------------------------------ failure injection
    def drop_connections(self) -> None:
        """Abort every AMI connection at once (calls go on, like a network drop)."""
        for sess in list(self.sessions):
            sess.closed = True
            transport = sess.writer.transport
            transport.abort()
        self.sessions.clear()

    def send_garbled(self) -> None:
        """Write a malformed message to every logged-in session."""
        for sess in list(self.sessions):
            if sess.authed:
                sess.write(GARBLED)

    async def shutdown(self, *, restart: bool = False, grace: float = 0.0) -> None:
        """Graceful shutdown like ``core restart|stop gracefully``.

        Every action gets ``Asterisk is shutting down``; calls may run on for ``grace``
        simulated seconds, then the rest are hung up and agents logged off; then
        ``Event: Shutdown`` and EOF on every session. With ``restart`` the simulator
        comes back with no calls, no dynamic members and fresh counters (its simulated
        agents log in again); without it the listener is closed.
        """
        self.shutting_down = True
        if grace > 0:
            tasks = [c.task for c in self.calls.values() if c.task is not None]
            if tasks:
                await asyncio.wait(tasks, timeout=grace / self.config.time_scale)
        for call in list(self.calls.values()):
            self._hangup_call(call, 16, reason="caller")
        await asyncio.sleep(0)
        for call in list(self.calls.values()):
            if call.task is not None:
                with contextlib.suppress(BaseException):
                    await call.task
        for agent in self.agents.values():
            if agent.logged_in:
                self._agent_logoff(agent)
        self._emit("Shutdown", "system,all",
                   f"Shutdown: Cleanly\r\nRestart: {'True' if restart else 'False'}\r\n")
        for sess in list(self.sessions):
            sess.closed = True
            with contextlib.suppress(Exception):
                sess.writer.close()
        self.sessions.clear()
        if restart:
            self._reset_state()
            self._start_epoch = int(time.time())
            self.shutting_down = False
            self._login_all_agents()
        elif self._server is not None:
            self._server.close()

    # ------------------------------------------------------------------ output
    def _emit(self, name: str, privilege: str, body: str, *, timestamp: bool = True) -> None:
        head = f"Event: {name}\r\nPrivilege: {privilege}\r\n"
        if timestamp:
            head += f"Timestamp: {time.time():.6f}\r\n"
        data = (head + body + "\r\n").encode("utf-8")
        self.stats.events += 1
        cls = privilege.partition(",")[0]
        for sess in self.sessions:
            if sess.wants(cls):
                sess.write(data)
        for listener in self._listeners:
            listener(data)

    def _emit_chan(self, name: str, ch: Chan, extra: str = "", privilege: str = "call,all"
                   ) -> None:
        self._emit(name, privilege, ch.block() + extra)

    def _respond(self, sess: Session, text: str) -> None:
        if self.silent:
            return
        data = text.encode("utf-8")
        if self.response_delay > 0:
            asyncio.get_running_loop().call_later(self.response_delay, sess.write, data)
        else:
            sess.write(data)

    def _ok(self, sess: Session, aid: str | None, message: str | None = None,
            extra: str = "") -> None:
        text = "Response: Success\r\n"
        if aid is not None:
            text += f"ActionID: {aid}\r\n"
        if message is not None:
            text += f"Message: {message}\r\n"
        self._respond(sess, text + extra + "\r\n")

    def _err(self, sess: Session, aid: str | None, message: str) -> None:
        text = "Response: Error\r\n"
        if aid is not None:
            text += f"ActionID: {aid}\r\n"
        self._respond(sess, text + f"Message: {message}\r\n\r\n")

    # ------------------------------------------------------------------ sessions
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sess = Session(writer)
        self.sessions.add(sess)
        self.stats.connections += 1
        writer.write(BANNER)
        try:
            while not sess.closed:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    break
                headers = _parse_request(raw)
                if not headers:
                    continue
                await self._on_action(sess, headers)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            sess.closed = True
            self.sessions.discard(sess)
            with contextlib.suppress(Exception):
                writer.close()

    async def _on_action(self, sess: Session, headers: list[tuple[str, str]]) -> None:
        m: dict[str, str] = {}
        variables: list[str] = []
        for k, v in headers:
            if k.lower() == "variable":
                variables.extend(x for x in v.split(",") if x)
            m.setdefault(k.lower(), v)
        aid = m.get("actionid")
        action = m.get("action")
        if action is None:
            self._err(sess, aid, "Missing action in request")
            return
        name = action.lower()
        self.stats.actions[name] += 1
        if self.shutting_down:
            self._err(sess, aid, SHUTTING_DOWN)
            return
        if name == "login":
            await self._login(sess, aid, m)
            return
        if name == "challenge":
            sess.challenge = str(self._rng.randint(100000000, 999999999))
            self._ok(sess, aid, None, f"Challenge: {sess.challenge}\r\n")
            return
        if name == "logoff":
            self._respond(sess, f"Response: Goodbye\r\nActionID: {aid}\r\n"
                                f"Message: Thanks for all the fish.\r\n\r\n")
            sess.closed = True
            sess.writer.close()
            return
        if not sess.authed:
            self._err(sess, aid, "Permission denied")
            return
        refusal = self.refuse_actions.get(name)
        if refusal is not None:
            self._err(sess, aid, refusal)
            return
        handler = self._handlers.get(name)
        if handler is None:
            self._err(sess, aid, f"Invalid/unknown command: {action}. Use Action: ListCommands "
                                 f"to show available commands.")
            return
        handler(self, sess, aid, m, variables, headers)

    async def _login(self, sess: Session, aid: str | None, m: dict[str, str]) -> None:
        if sess.authed:
            self._ok(sess, aid, "Already authenticated")
            return
        cfg = self.config
        user = m.get("username", "")
        ok = user == cfg.username
        if ok:
            if m.get("authtype", "").lower() == "md5":
                expected = hashlib.md5(((sess.challenge or "") + cfg.secret).encode()).hexdigest()
                ok = sess.challenge is not None and m.get("key", "").lower() == expected
            else:
                ok = m.get("secret", "") == cfg.secret
        if not ok:
            self.stats.failed_logins += 1
            await self._sleep(cfg.bad_login_delay)
            self._err(sess, aid, "Authentication failed")
            await asyncio.sleep(0.01)
            sess.closed = True
            sess.writer.close()
            return
        self.stats.logins += 1
        ev = m.get("events", "on").strip().lower()
        if ev in ("on", "yes", "all", "true", "1"):
            sess.classes = None
        elif ev in ("off", "no", "false", "0", ""):
            sess.classes = frozenset()
        else:
            sess.classes = frozenset(x.strip() for x in ev.split(","))
        self._ok(sess, aid, "Authentication accepted")
        sess.authed = True
        if sess.wants("system"):
            uptime = int(self._sim_elapsed(self._started_loop))
            sess.write((f"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: {uptime}\r\n"
                        f"LastReload: {uptime}\r\nStatus: Fully Booted\r\n\r\n").encode())

    # ------------------------------------------------------------------ naming
    def _next_chan_suffix(self) -> str:
        n = self._chan_seq
        self._chan_seq += 1
        return f"{n:08x}"

    def _auto_uid(self) -> str:
        n = self._uid_seq
        self._uid_seq += 1
        return f"{self._start_epoch}.{n}"

    def _new_chan(self, name: str, uid: str, linkedid: str, context: str, exten: str,
                  state: int) -> Chan:
        ch = Chan(name, uid, linkedid, context, exten, state, self._now())
        self.channels[name] = ch
        return ch

    def _uid_in_use(self, uid: str) -> Chan | None:
        """Asterisk's check: a live Uniqueid that starts with ``uid`` (case-insensitive)."""
        low = uid.lower()
        for ch in self.channels.values():
            if ch.uniqueid.lower().startswith(low):
                return ch
        return None

    def _hangup_chan(self, ch: Chan, cause: int) -> None:
        if self.channels.pop(ch.name, None) is None:
            return
        self._emit_chan("Hangup", ch, f"Cause: {cause}\r\nCause-txt: {CAUSE_TXT.get(cause, 'Unknown')}\r\n")

    def _newstate(self, ch: Chan, state: int) -> None:
        ch.state = state
        self._emit_chan("Newstate", ch)

    # ------------------------------------------------------------------ actions
    def _a_ping(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                h: list[tuple[str, str]]) -> None:
        self._ok(sess, aid, None, f"Ping: Pong\r\nTimestamp: {time.time():.6f}\r\n")

    def _a_corestatus(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                      h: list[tuple[str, str]]) -> None:
        started = time.gmtime(self._start_epoch)
        self._ok(sess, aid, None,
                 f"CoreStartupDate: {time.strftime('%Y-%m-%d', started)}\r\n"
                 f"CoreStartupTime: {time.strftime('%H:%M:%S', started)}\r\n"
                 f"CoreReloadDate: {time.strftime('%Y-%m-%d', started)}\r\n"
                 f"CoreReloadTime: {time.strftime('%H:%M:%S', started)}\r\n"
                 f"CoreCurrentCalls: {len(self.calls)}\r\n")

    def _a_coresettings(self, sess: Session, aid: str | None, m: dict[str, str],
                        v: list[str], h: list[tuple[str, str]]) -> None:
        self._ok(sess, aid, None, "AMIversion: 11.0.0\r\nAsteriskVersion: 22.10.1\r\n"
                                  "SystemName: \r\nCoreMaxCalls: 0\r\n")

    def _a_userevent(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                     h: list[tuple[str, str]]) -> None:
        body = f"UserEvent: {m.get('userevent', '')}\r\n"
        for k, val in h:
            if k.lower() not in ("action", "userevent"):
                body += f"{k}: {val}\r\n"
        self._emit("UserEvent", "user,all", body)
        self._ok(sess, aid, "Event Sent")

    def _a_originate(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                     h: list[tuple[str, str]]) -> None:
        channel = m.get("channel")
        if not channel:
            self._err(sess, aid, "Channel not specified")
            return
        cid = m.get("channelid")
        if cid is not None and len(cid) > MAX_UNIQUEID_LEN:
            self._err(sess, aid, f"Uniqueid length exceeds maximum of {MAX_UNIQUEID_LEN}")
            return
        context, exten, priority = m.get("context"), m.get("exten"), m.get("priority")
        application = m.get("application")
        if exten and not (context and priority):
            self._err(sess, aid, "Originate with 'Exten' requires 'Context' and 'Priority'")
            return
        if priority is not None and not priority.isdigit():
            self._err(sess, aid, "Invalid priority")
            return
        if "/" not in channel:
            self._err(sess, aid, "Invalid channel")
            return
        if not application and context is not None and not self._exten_exists(context, exten):
            self._err(sess, aid, "Extension does not exist.")
            return
        async_ = m.get("async", "false").lower() in ("true", "yes", "1", "on")
        self.stats.originates += 1
        self.stats.originate_channel_ids.append(cid or "")
        self.stats.originate_action_ids.append(aid or "")
        tech, _, rest = channel.partition("/")
        number, _, where = rest.partition("@")
        num, name = _parse_callerid(m.get("callerid", ""))
        variables = {}
        for item in v:
            k, _, val = item.partition("=")
            variables[k.strip().lstrip("_")] = val
        call = Call(
            attempt_id=cid or "", action_id=aid or "", dial_string=channel, tech=tech,
            number=number, context=context, exten=exten, priority=priority or "1",
            application=application, app_data=m.get("data"),
            timeout_ms=_leading_int(m.get("timeout"), 30000), caller_num=num,
            caller_name=name, account=m.get("account", ""), variables=variables,
            rng=random.Random(f"{self.config.seed}:{cid or self.stats.originates}"),
        )
        call.extra["where"] = where
        call.extra["other_id"] = m.get("otherchannelid") or ""
        if not async_:
            self._spawn(self._sync_originate(sess, call), f"originate-sync-{cid}")
            return
        self._ok(sess, aid, "Originate successfully queued")
        self._start_call(call)

    async def _sync_originate(self, sess: Session, call: Call) -> None:
        self._start_call(call, sync_session=sess)

    def _start_call(self, call: Call, sync_session: Session | None = None) -> None:
        cid = call.attempt_id
        if cid:
            other = self._uid_in_use(cid)
            if other is not None or cid in self.calls:
                uid = other.uniqueid if other is not None else cid
                asyncio.get_running_loop().call_soon(
                    self._originate_response, call, False, 0, call.dial_string, uid,
                    sync_session)
                return
        if call.tech.lower() not in ("local", "pjsip"):
            asyncio.get_running_loop().call_soon(
                self._originate_response, call, False, 0, call.dial_string, cid or "<unknown>",
                sync_session)
            return
        if not cid:
            call.attempt_id = self._auto_uid()
            call.extra["auto_id"] = "1"
        self.calls[call.attempt_id] = call
        self.stats.calls_started += 1
        call.task = self._spawn(self._play(call, sync_session), f"call-{call.attempt_id}")

    def _exten_exists(self, context: str, exten: str | None) -> bool:
        if context == dialplan.CONNECT_CONTEXT and exten is not None:
            if exten not in self.queues and self.config.auto_create_queues:
                self.queues[exten] = Queue(exten, self.config.wrapuptime.get(exten))
            return exten in self.queues
        return False

    def _originate_response(self, call: Call, success: bool, reason: int, channel: str,
                            uid: str, sync_session: Session | None = None) -> None:
        if call.outcome_sent:
            return
        call.outcome_sent = True
        if call.application:
            where = f"Application: {call.application}\r\nData: {call.app_data or ''}\r\n"
        else:
            where = f"Context: {call.context}\r\nExten: {call.exten}\r\n"
        body = (f"ActionID: {call.action_id}\r\nResponse: {'Success' if success else 'Failure'}"
                f"\r\nChannel: {channel}\r\n{where}Reason: {reason}\r\nUniqueid: {uid}\r\n"
                f"CallerIDNum: {call.caller_num or '<unknown>'}\r\n"
                f"CallerIDName: {call.caller_name or '<unknown>'}\r\n")
        self.stats.outcomes[f"{'Success' if success else 'Failure'}/{reason}"] += 1
        self._emit("OriginateResponse", "call,all", body)
        if sync_session is not None:
            if success:
                self._ok(sync_session, call.action_id, "Originate successfully queued")
            else:
                self._err(sync_session, call.action_id, "Originate failed")

    # ------------------------------------------------------------------ call playout
    async def _play(self, call: Call, sync_session: Session | None) -> None:
        try:
            answered = await self._dial(call, sync_session)
            if answered:
                await self._after_answer(call)
        except asyncio.CancelledError:
            if call.hangup_cause is None:
                raise
            self._teardown_call(call)
        finally:
            self._finish_call(call)

    def _finish_call(self, call: Call) -> None:
        call.stage = ENDED
        if self.calls.pop(call.attempt_id, None) is not None:
            self.stats.calls_ended += 1
        for ch in call.channels():
            self._hangup_chan(ch, 16)
        q = self.queues.get(call.queue or "")
        if q is not None and call in q.waiting:
            q.waiting.remove(call)

    def _var_float(self, call: Call, name: str) -> float | None:
        val = call.variables.get(name)
        if val is None or val == "":
            return None
        try:
            return float(val)
        except ValueError:
            return None

    async def _dial(self, call: Call, sync_session: Session | None) -> bool:
        cfg = self.config
        world = cfg.world
        rng = call.rng
        forced = call.variables.get("SIM_RESULT")
        planned = None if forced else self._last_digit_plan(call)
        if planned is not None:
            result, plan_ring = planned
        else:
            result = LineResult(forced) if forced else world.line_result(rng)
            plan_ring = None
        call.result = result
        ring = self._var_float(call, "SIM_RING")
        if ring is None:
            ring = plan_ring if plan_ring is not None else world.ring_time(result, rng)
        timeout_s = call.timeout_ms / 1000.0
        local = call.tech.lower() == "local"
        cid = call.attempt_id
        where = call.extra.get("where", "")
        if local:
            suffix = self._next_chan_suffix()
            base = f"{call.dial_string}-{suffix}"
            other = call.extra.get("other_id") or (
                self._auto_uid() if call.extra.get("auto_id") else f"{cid};2")
            ch1 = self._new_chan(base + ";1", cid, cid, where, call.number, 0)
            ch2 = self._new_chan(base + ";2", other, cid, where, call.number, 4)
            call.ch1, call.ch2 = ch1, ch2
            ch1.call = ch2.call = call
            self._emit_chan("Newchannel", ch1)
            self._emit_chan("Newchannel", ch2)
            ch1.account = ch2.account = call.account
            ch1.set_caller(call.caller_num, call.caller_name)
            ch2.set_caller(call.caller_num, call.caller_name)
            if where != cfg.pstn_context:
                # No such context on the far side: both halves die at once.
                self._hangup_chan(ch1, 0)
                self._hangup_chan(ch2, 0)
                self._originate_response(call, False, 0, call.dial_string, cid, sync_session)
                return False
            dial_string = f"{call.number}@{where}"
        else:
            trunk = where or call.number
            ch1 = self._new_chan(f"PJSIP/{trunk}-{self._next_chan_suffix()}", cid, cid,
                                 cfg.pjsip_context, "s", 0)
            call.ch1 = ch1
            ch1.call = call
            self._emit_chan("Newchannel", ch1)
            ch1.account = call.account
            ch1.set_caller(call.caller_num, call.caller_name)
            dial_string = f"{call.number}@{trunk}"
        self._emit("DialBegin", "call,all", ch1.block("Dest") + f"DialString: {dial_string}\r\n")
        # As Asterisk 22 lists an Originate's channel while it rings (measured with
        # asterisk-conf's sim-pstn): AppDial2 on ours, the far Local half in Wait.
        ch1.app, ch1.appdata = "AppDial2", "(Outgoing Line)"
        if call.ch2 is not None:
            call.ch2.app, call.ch2.appdata = "Wait", f"{int(timeout_s)}"
        if result not in (LineResult.BUSY, LineResult.CONGESTION, LineResult.INVALID):
            # busy / congestion (486, 503, Busy(), Congestion()) never ring first
            self._newstate(ch1, 5)
        call.stage = DIALING
        if ring >= timeout_s:
            await self._sleep(timeout_s)
            self._fail_timeout(call, sync_session)
            return False
        await self._sleep(ring)
        if result in (LineResult.HUMAN, LineResult.MACHINE):
            ch1.app, ch1.appdata = "", ""  # the connect context's dialplan takes over
            if call.ch2 is not None:
                self._newstate(call.ch2, 6)
            self._newstate(ch1, 6)
            self._emit("DialEnd", "call,all", ch1.block("Dest") + "DialStatus: ANSWER\r\n")
            self._originate_response(call, True, 4, ch1.name, cid, sync_session)
            return True
        self._fail_line(call, result, sync_session)
        return False

    def _last_digit_plan(self, call: Call) -> tuple[LineResult, float] | None:
        """asterisk-conf's sim-pstn: the number's last digit picks the customer."""
        if self.config.number_plan != "last-digit":
            return None
        digits = [ch for ch in call.number if ch.isdigit()]
        if not digits:
            return None
        d, rng = int(digits[-1]), call.rng
        if d <= 3:
            call.variables.setdefault("SIM_TALK", f"{rng.uniform(20, 90):.3f}")
            call.variables.setdefault("SIM_AMD", "HUMAN")
            return LineResult.HUMAN, rng.uniform(2, 8)
        if d <= 5:
            return LineResult.BUSY, rng.uniform(0, 2)
        if d == 6:
            return LineResult.NO_ANSWER, float("inf")
        if d == 7:
            return LineResult.NO_ANSWER, 30.0
        if d == 8:
            return LineResult.CONGESTION, rng.uniform(0, 2)
        call.variables.setdefault("SIM_AMD", "MACHINE")
        call.variables.setdefault("SIM_TALK", f"{rng.uniform(20, 40):.3f}")
        return LineResult.MACHINE, rng.uniform(2, 6)

    def _fail_timeout(self, call: Call, sync_session: Session | None) -> None:
        ch1 = call.ch1
        assert ch1 is not None
        if call.ch2 is not None:
            self._emit_chan("HangupRequest", call.ch2, "Cause: 19\r\n")
            self._hangup_chan(call.ch2, 19)
        self._originate_response(call, False, 3, call.dial_string, call.attempt_id, sync_session)
        self._hangup_chan(ch1, 19)

    def _fail_line(self, call: Call, result: LineResult, sync_session: Session | None) -> None:
        ch1 = call.ch1
        assert ch1 is not None
        status, cause, local_reason = {
            LineResult.BUSY: ("BUSY", 17, 5),
            LineResult.CONGESTION: ("CONGESTION", 34, 8),
            LineResult.INVALID: ("CHANUNAVAIL", 1, 0),
            LineResult.NO_ANSWER: ("NOANSWER", 19, 0),
        }[result]
        if call.ch2 is not None:  # Local: the far half carries the cause
            ch2 = call.ch2
            if result in (LineResult.BUSY, LineResult.CONGESTION):
                self._newstate(ch2, 7)
                self._emit("DialEnd", "call,all", ch1.block("Dest") + f"DialStatus: {status}\r\n")
                self._originate_response(call, False, local_reason, call.dial_string,
                                         call.attempt_id, sync_session)
                self._hangup_chan(ch1, 0)
                self._hangup_chan(ch2, cause)
            else:
                self._emit_chan("HangupRequest", ch1, f"Cause: {cause}\r\n")
                self._hangup_chan(ch2, cause)
                self._emit("DialEnd", "call,all", ch1.block("Dest") + f"DialStatus: {status}\r\n")
                self._originate_response(call, False, 0, call.dial_string, call.attempt_id,
                                         sync_session)
                self._hangup_chan(ch1, cause)
        else:  # PJSIP: Reason 0, the cause is on our channel
            self._emit("DialEnd", "call,all", ch1.block("Dest") + f"DialStatus: {status}\r\n")
            self._originate_response(call, False, 0, call.dial_string, call.attempt_id,
                                     sync_session)
            self._hangup_chan(ch1, cause)
        self.stats.outcomes[result.value] += 1

    async def _after_answer(self, call: Call) -> None:
        ch1 = call.ch1
        assert ch1 is not None
        cfg = self.config
        if call.application:
            call.stage = APP
            ch1.app, ch1.appdata = call.application, call.app_data or ""
            talk = self._var_float(call, "SIM_TALK")
            await self._sleep(talk if talk is not None else cfg.world.talk.sample(call.rng))
            self._end_both(call, 16)
            return
        ch1.context, ch1.exten, ch1.priority = call.context or "", call.exten or "", "1"
        if call.ch2 is not None:
            call.ch2.app = "Wait"
        while True:
            try:
                if call.context == dialplan.CONNECT_CONTEXT and (call.exten or "") in self.queues:
                    await self._connect_flow(call)
                else:
                    await self._sleep(1.0)
                    self._end_both(call, 16)
                return
            except asyncio.CancelledError:
                target = call.redirect_to
                if target is None or call.hangup_cause is not None:
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                call.redirect_to = None
                self._leave_for_redirect(call)
                call.context, call.exten = target
                ch1.context, ch1.exten, ch1.priority = target[0], target[1], "1"

    def _leave_for_redirect(self, call: Call) -> None:
        q = self.queues.get(call.queue or "")
        if call.stage == QUEUED and q is not None and call in q.waiting:
            if call.agent_future is not None and not call.agent_future.done():
                call.agent_future.cancel()
            self._leave_queue(call, q, abandon=False)
        elif call.stage == TALKING:
            m = call.member
            if call.connected_at:
                self._complete_talk(call, "transfer")
            elif m is not None:
                agent = self.agents.get(m.agent_id or "")
                if agent is not None:
                    agent.call = None
                    self._refresh_members(agent.id)
                if q is not None and call in q.waiting:
                    self._leave_queue(call, q, abandon=False)
        for ch in (call.agent_req1, call.agent_req2):
            if ch is not None:
                self._hangup_chan(ch, 16)
        call.agent_req1 = call.agent_req2 = None
        call.connected_at = 0.0
        call.member = None
        call.stage = CONNECT

    async def _connect_flow(self, call: Call) -> None:
        ch1 = call.ch1
        assert ch1 is not None
        cfg = self.config
        world = cfg.world
        rng = call.rng
        call.stage = CONNECT
        result = call.result or LineResult.HUMAN
        if call.variables.get(dialplan.VAR_AMD, "").lower() == "yes":
            ch1.app = "AMD"
            await self._stage_sleep(call, world.amd_time.sample(rng))
            forced = call.variables.get("SIM_AMD")
            verdict = AmdVerdict(forced) if forced else world.amd_verdict(result, rng)
            amd_cause = {AmdVerdict.HUMAN: "HUMAN-800-800", AmdVerdict.MACHINE: "MAXWORDS-3-2",
                         AmdVerdict.NOTSURE: "TOOLONG-5000"}[verdict]
            ch1.priority = "3"
            self._emit_chan("UserEvent", ch1,
                            f"UserEvent: {dialplan.USEREVENT_AMD}\r\n"
                            f"AttemptId: {call.variables.get(dialplan.VAR_ATTEMPT, '')}\r\n"
                            f"Status: {verdict.value}\r\nCause: {amd_cause}\r\n", "user,all")
            if verdict is AmdVerdict.MACHINE:
                self.stats.outcomes["amd_machine"] += 1
                self._end_both(call, 16)
                return
        queue_name = call.exten or ""
        q = self.queues[queue_name]
        timeout = self._var_float(call, dialplan.VAR_QUEUE_TIMEOUT)
        if timeout is None:
            timeout = cfg.queue_timeout
        # asterisk-conf passes whole seconds to Queue() (CUT(QT,.,1)); app_queue's expiry
        # is start + atoi(timeout), so "0.5" becomes an immediate TIMEOUT.
        timeout = float(int(timeout))
        patience: float | None = None
        if result is LineResult.HUMAN:
            patience = self._var_float(call, "SIM_PATIENCE")
            if patience is None:
                patience = world.patience.sample(rng)
        # ---- queue
        call.stage = QUEUED
        call.queue = queue_name
        ch1.app, ch1.appdata, ch1.priority = "Queue", f"{queue_name},,,,{int(timeout)}", "2"
        q.waiting.append(call)
        call.position = len(q.waiting)
        call.joined_at = self._now()
        loop = asyncio.get_running_loop()
        call.agent_future = loop.create_future()
        self._emit_chan("QueueCallerJoin", ch1,
                        f"Queue: {queue_name}\r\nPosition: {call.position}\r\n"
                        f"Count: {len(q.waiting)}\r\n", "agent,all")
        self._assign(q)
        wait = timeout if patience is None else min(timeout, patience)
        if not call.agent_future.done():
            await asyncio.wait({call.agent_future}, timeout=wait / cfg.time_scale)
        if call.agent_future.done() and not call.agent_future.cancelled():
            await self._talk(call, q, call.agent_future.result())
            return
        # ---- no agent: customer gone or queue timeout
        call.agent_future.cancel()
        caller_hung_up = patience is not None and patience < timeout
        if caller_hung_up:
            self._emit_chan("HangupRequest", ch1, "Cause: 16\r\n")
        self._leave_queue(call, q, abandon=True)
        if caller_hung_up:
            self.stats.outcomes["caller_abandon"] += 1
            self._end_both(call, 16)
            return
        self.stats.outcomes["queue_timeout"] += 1
        call.stage = SAFE_HARBOUR
        attempt = call.variables.get(dialplan.VAR_ATTEMPT, "")
        ch1.priority = "3"
        self._emit_chan("UserEvent", ch1,
                        f"UserEvent: {dialplan.USEREVENT_QUEUE_RESULT}\r\nAttemptId: {attempt}\r\n"
                        f"QueueStatus: TIMEOUT\r\n", "user,all")
        ch1.app, ch1.appdata = "Read", "DIGIT,beep,1,,1,4"
        await self._stage_sleep(call, cfg.safe_harbour_time)
        forced_digit = call.variables.get("SIM_OPTOUT")
        if forced_digit is not None:
            digit = forced_digit
        elif result is LineResult.HUMAN and rng.random() < cfg.opt_out_probability:
            digit = dialplan.OPT_OUT_DIGIT
        else:
            digit = ""
        if digit == dialplan.OPT_OUT_DIGIT:
            self.stats.opt_outs += 1
        self._emit_chan("UserEvent", ch1,
                        f"UserEvent: {dialplan.USEREVENT_OPT_OUT}\r\nAttemptId: {attempt}\r\n"
                        f"Digit: {digit}\r\n", "user,all")
        self._end_both(call, 16)

    async def _stage_sleep(self, call: Call, sim_seconds: float) -> None:
        await self._sleep(sim_seconds)

    def _leave_queue(self, call: Call, q: Queue, *, abandon: bool) -> None:
        ch1 = call.ch1
        assert ch1 is not None
        pos = q.waiting.index(call) + 1 if call in q.waiting else call.position
        if call in q.waiting:
            q.waiting.remove(call)
        if abandon:
            q.abandoned += 1
            hold = int(self._sim_elapsed(call.joined_at))
            self._emit_chan("QueueCallerAbandon", ch1,
                            f"Queue: {q.name}\r\nPosition: {pos}\r\nOriginalPosition: "
                            f"{call.position}\r\nHoldTime: {hold}\r\n", "agent,all")
        self._emit_chan("QueueCallerLeave", ch1,
                        f"Queue: {q.name}\r\nPosition: {pos}\r\nCount: {len(q.waiting)}\r\n",
                        "agent,all")

    def _end_both(self, call: Call, cause: int) -> None:
        if call.ch1 is not None:
            self._hangup_chan(call.ch1, cause)
        if call.ch2 is not None:
            self._hangup_chan(call.ch2, cause)

    # ------------------------------------------------------------------ agents & queues
    def _member_status(self, m: Member) -> int:
        if m.agent_id is None:
            return 4
        agent = self.agents.get(m.agent_id)
        if agent is None or not agent.logged_in:
            return 5
        if agent.call is not None or agent.wrapping:
            return 2
        if self._now() < agent.ready_at:
            return 5
        return 1

    def _refresh_members(self, agent_id: str) -> None:
        """Recompute status of the agent's members; QueueMemberStatus on change."""
        for q in self.queues.values():
            for m in q.members.values():
                if m.agent_id != agent_id:
                    continue
                status = self._member_status(m)
                agent = self.agents.get(agent_id)
                in_call = agent is not None and agent.call is not None
                if status != m.status or in_call != m.in_call:
                    m.status, m.in_call = status, in_call
                    self._emit("QueueMemberStatus", "agent,all", member_block(m))
        for q in list(self.queues.values()):
            self._assign(q)

    def _free(self, m: Member) -> bool:
        return not m.paused and self._member_status(m) == 1 and not m.ringing

    def _assign(self, q: Queue) -> None:
        while q.waiting:
            free = [m for m in q.members.values() if self._free(m)]
            if not free:
                return
            member = min(free, key=lambda m: (m.last_call, m.interface))
            call = next((c for c in q.waiting
                         if c.agent_future is not None and not c.agent_future.done()), None)
            if call is None:
                return
            agent = self.agents[member.agent_id or ""]
            agent.call = call
            assert call.agent_future is not None
            call.agent_future.set_result(member)

    async def _talk(self, call: Call, q: Queue, m: Member) -> None:
        ch1 = call.ch1
        assert ch1 is not None and m.agent_id is not None
        cfg = self.config
        agent = self.agents[m.agent_id]
        call.member = m
        call.stage = TALKING
        # app_queue dials Local/<id>@agent-request
        base = f"{m.interface}-{self._next_chan_suffix()}"
        r1 = self._new_chan(base + ";1", self._auto_uid(), call.attempt_id,
                            dialplan.AGENT_REQUEST_CONTEXT, m.agent_id, 0)
        r2 = self._new_chan(base + ";2", self._auto_uid(), call.attempt_id,
                            dialplan.AGENT_REQUEST_CONTEXT, m.agent_id, 4)
        call.agent_req1, call.agent_req2 = r1, r2
        r1.call = r2.call = call
        r1.app, r1.appdata = "AppDial", "(Outgoing Line)"
        r2.app, r2.appdata = "AgentRequest", m.agent_id
        self._emit_chan("Newchannel", r1)
        self._emit_chan("Newchannel", r2)
        qm = f"Queue: {q.name}\r\nInterface: {m.interface}\r\nMemberName: {m.member_name}\r\n"
        self._emit("AgentCalled", "agent,all", ch1.block() + r1.block("Dest") + qm)
        self._emit("DialBegin", "call,all",
                   ch1.block() + r1.block("Dest") + f"DialString: {m.interface}\r\n")
        self._newstate(r1, 5)
        self._refresh_members(m.agent_id)
        await self._sleep(cfg.agent_answer_delay)
        self._newstate(r2, 6)
        self._newstate(r1, 6)
        self._emit("DialEnd", "call,all", ch1.block() + r1.block("Dest") + "DialStatus: ANSWER\r\n")
        call.hold_time = int(self._sim_elapsed(call.joined_at))
        self._leave_queue(call, q, abandon=False)
        q.completed += 1
        self._emit("AgentConnect", "agent,all", ch1.block() + r1.block("Dest") + qm +
                   f"HoldTime: {call.hold_time}\r\nRingTime: 0\r\n")
        self._bridge_seq += 1
        call.bridge_id = str(uuid.UUID(int=call.rng.getrandbits(128), version=4))
        bridge = (f"BridgeUniqueid: {call.bridge_id}\r\nBridgeType: basic\r\n"
                  f"BridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\n"
                  f"BridgeName: <unknown>\r\n")
        call.extra["bridge"] = bridge
        self._emit("BridgeEnter", "call,all", bridge + "BridgeNumChannels: 1\r\n"
                   "BridgeVideoSourceMode: none\r\n" + r1.block())
        self._emit("BridgeEnter", "call,all", bridge + "BridgeNumChannels: 2\r\n"
                   "BridgeVideoSourceMode: none\r\n" + ch1.block())
        ch1.bridge = r1.bridge = call.bridge_id
        phone = agent.phone2
        if phone is not None:  # AgentRequest takes the agent out of the holding bridge
            r2.bridge = phone.bridge = str(uuid.uuid5(uuid.NAMESPACE_OID, call.bridge_id))
        call.connected_at = self._now()
        agent.call_started = time.time()
        m.calls_taken += 1
        m.last_call = int(time.time())
        self._refresh_members(m.agent_id)
        # The agent-request Local pair optimises away shortly after connect: then the
        # customer and the agent's AgentLogin channel share one bridge, and the customer
        # takes the agent softphone's Linkedid and connected line (as in 03-01, 03-04).
        await self._sleep(0.06)
        self._hangup_chan(r1, 16)
        self._hangup_chan(r2, 16)
        call.agent_req1 = call.agent_req2 = None
        if phone is not None and agent.phone2 is phone:
            phone.bridge = call.bridge_id
            ch1.linkedid = phone.linkedid
            ch1.conn_num, ch1.conn_name = m.agent_id, f"Agent {m.agent_id}"
            phone.conn_num, phone.conn_name = ch1.cid_num, ch1.cid_name
            phone.account = ch1.account
        talk = self._var_float(call, "SIM_TALK")
        if talk is None:
            talk = cfg.world.talk.sample(call.rng)
        await self._sleep(max(talk - 0.06, 0.0))
        self._complete_talk(call, "caller")
        self._end_both(call, 16)

    def _complete_talk(self, call: Call, reason: str) -> None:
        ch1 = call.ch1
        m = call.member
        if ch1 is None or m is None or m.agent_id is None:
            return
        agent = self.agents[m.agent_id]
        talk = int(self._sim_elapsed(call.connected_at))
        dest = agent.phone2.block("Dest") if agent.phone2 is not None else ""
        bridge = call.extra.get("bridge", "")
        # The agent ending the call with '*' takes the customer out of the bridge first.
        agent_ends = call.variables.get("SIM_AGENT_ENDS", "") not in ("", "0", "no")
        if agent_ends:
            self._emit("BridgeLeave", "call,all", bridge + "BridgeNumChannels: 0\r\n"
                       "BridgeVideoSourceMode: none\r\n" + ch1.block())
        self._emit("AgentComplete", "agent,all",
                   ch1.block() + dest + f"Queue: {m.queue}\r\nInterface: {m.interface}\r\n"
                   f"MemberName: {m.member_name}\r\nHoldTime: {call.hold_time}\r\n"
                   f"TalkTime: {talk}\r\nReason: {reason}\r\n")
        if not agent_ends:
            self._emit("BridgeLeave", "call,all", bridge + "BridgeNumChannels: 0\r\n"
                       "BridgeVideoSourceMode: none\r\n" + ch1.block())
        call.member = None
        agent.call = None
        ch1.bridge = ""
        if agent.phone2 is not None:  # back to the holding bridge
            agent.phone2.bridge = self._holding_bridge
            agent.phone2.conn_num, agent.phone2.conn_name = agent.phone2.cid_num, agent.phone2.cid_name
        self.stats.outcomes["agent_complete"] += 1
        if agent.logged_in:
            self._start_wrap(agent, m.queue)

    def _start_wrap(self, agent: Agent, queue: str) -> None:
        q = self.queues.get(queue)
        wrap = q.wrapuptime if q is not None and q.wrapuptime is not None else None
        if wrap is None:
            wrap = self.config.world.wrap.sample(self._rng)
        agent.wrapping = True
        self._refresh_members(agent.id)

        def done() -> None:
            agent.wrapping = False
            self._refresh_members(agent.id)

        asyncio.get_running_loop().call_later(wrap / self.config.time_scale, done)

    def _teardown_call(self, call: Call) -> None:
        """The call was ended from outside (AMI Hangup, agent logoff, shutdown)."""
        cause = call.hangup_cause or 16
        if call.stage == DIALING:
            if call.ch2 is not None:
                self._hangup_chan(call.ch2, cause)
            self._originate_response(call, False, 1, call.dial_string, call.attempt_id)
            if call.ch1 is not None:
                self._hangup_chan(call.ch1, cause)
            return
        q = self.queues.get(call.queue or "")
        if call.stage == QUEUED and q is not None and call in q.waiting:
            if call.agent_future is not None and not call.agent_future.done():
                call.agent_future.cancel()
            if call.ch1 is not None:
                self._emit_chan("HangupRequest", call.ch1, f"Cause: {cause}\r\n")
            self._leave_queue(call, q, abandon=True)
        elif call.stage == TALKING:
            m = call.member
            if m is not None and call.connected_at == 0.0:
                # hung up while the agent was being rung
                agent = self.agents.get(m.agent_id or "")
                if agent is not None:
                    agent.call = None
                    self._refresh_members(agent.id)
                if q is not None and call in q.waiting:
                    self._leave_queue(call, q, abandon=True)
            else:
                self._complete_talk(call, call.end_reason)
        self._end_both(call, cause)

    def _hangup_call(self, call: Call, cause: int, *, reason: str = "caller") -> None:
        if call.task is None or call.task.done() or call.stage == ENDED:
            return
        call.hangup_cause = cause
        call.end_reason = reason
        call.task.cancel()

    def _login_all_agents(self) -> None:
        for agent in self.agents.values():
            if not agent.logged_in:
                self.agent_login(agent.id)

    def agent_login(self, agent_id: str) -> None:
        """Log a simulated agent in to the pool (softphone channels + AgentLogin)."""
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id)
        if agent.logged_in:
            return
        base = f"Local/{agent_id}@agent-login-ctx-{self._next_chan_suffix()}"
        uid = f"agentphone-{agent_id}"
        p1 = self._new_chan(base + ";1", uid, uid, "agent-login-ctx", agent_id, 6)
        p2 = self._new_chan(base + ";2", uid + "-2", uid, "agent-login-ctx", agent_id, 6)
        for p in (p1, p2):
            p.set_caller(agent_id, f"Agent {agent_id}")
            p.agent_id = agent_id
        p1.app, p1.appdata = "Wait", "3600"
        p2.app, p2.appdata, p2.priority = "AgentLogin", f"{agent_id},s", "5"
        p2.bridge = self._holding_bridge
        agent.phone1, agent.phone2 = p1, p2
        agent.logged_in = True
        agent.login_at = time.time()
        agent.ready_at = self._now() + self.config.member_ready_delay / self.config.time_scale
        self._emit_chan("Newchannel", p1)
        self._emit_chan("Newchannel", p2)
        self._emit_chan("AgentLogin", p2, f"Agent: {agent_id}\r\n", "agent,all")
        self._refresh_members(agent_id)
        loop = asyncio.get_running_loop()
        loop.call_later(self.config.member_ready_delay / self.config.time_scale + 0.001,
                        self._refresh_members, agent_id)

    def agent_logoff_by_id(self, agent_id: str) -> bool:
        agent = self.agents.get(agent_id)
        if agent is None or not agent.logged_in:
            return False
        self._agent_logoff(agent)
        return True

    def _agent_logoff(self, agent: Agent) -> None:
        agent.logged_in = False
        agent.wrapping = False
        if agent.call is not None:
            call = agent.call
            self._hangup_call(call, 16, reason="agent")
            if call.connected_at:
                self._complete_talk(call, "agent")
        p2 = agent.phone2
        if p2 is not None:
            logintime = int(time.time() - agent.login_at)
            self._emit_chan("AgentLogoff", p2, f"Agent: {agent.id}\r\nLogintime: {logintime}\r\n",
                            "agent,all")
            self._hangup_chan(p2, 16)
        if agent.phone1 is not None:
            self._hangup_chan(agent.phone1, 16)
        agent.phone1 = agent.phone2 = None
        self._refresh_members(agent.id)

    # ------------------------------------------------------------------ member actions
    def _find_queue(self, name: str) -> Queue | None:
        q = self.queues.get(name)
        if q is None and self.config.auto_create_queues and name:
            q = self.queues[name] = Queue(name, self.config.wrapuptime.get(name))
        return q

    def _a_queueadd(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                    h: list[tuple[str, str]]) -> None:
        iface = m.get("interface")
        qname = m.get("queue")
        if not iface:
            self._err(sess, aid, "'Interface' not specified.")
            return
        if not qname:
            self._err(sess, aid, "'Queue' not specified.")
            return
        q = self._find_queue(qname)
        if q is None:
            self._err(sess, aid, "Unable to add interface to queue: No such queue")
            return
        if iface in q.members:
            self._err(sess, aid, "Unable to add interface: Already there")
            return
        agent_id = dialplan.agent_from_interface(iface)
        paused = m.get("paused", "false").lower() in ("true", "yes", "1", "on")
        mem = Member(q.name, iface, m.get("membername") or iface,
                     m.get("stateinterface") or iface, agent_id,
                     penalty=_leading_int(m.get("penalty"), 0), paused=paused,
                     paused_reason=m.get("reason", "") if paused else "",
                     login_time=int(time.time()))
        if agent_id is not None and agent_id not in self.agents:
            self.agents[agent_id] = Agent(agent_id)
        mem.status = self._member_status(mem)
        agent = self.agents.get(agent_id or "")
        mem.in_call = agent is not None and agent.call is not None
        q.members[iface] = mem
        self._ok(sess, aid, "Added interface to queue")
        self._emit("QueueMemberAdded", "agent,all", member_block(mem))
        if agent_id is not None and agent is not None and agent.logged_in:
            asyncio.get_running_loop().call_later(
                max(agent.ready_at - self._now(), 0.0) + 0.001, self._refresh_members, agent_id)
        self._assign(q)

    def _a_queueremove(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                       h: list[tuple[str, str]]) -> None:
        iface, qname = m.get("interface"), m.get("queue")
        if not iface or not qname:
            self._err(sess, aid, "Need 'Queue' and 'Interface' parameters.")
            return
        q = self.queues.get(qname)
        if q is None or iface not in q.members:
            self._err(sess, aid, "Unable to remove interface: Not there")
            return
        mem = q.members.pop(iface)
        self._ok(sess, aid, "Removed interface from queue")
        self._emit("QueueMemberRemoved", "agent,all", member_block(mem))

    def _a_queuepause(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                      h: list[tuple[str, str]]) -> None:
        iface, paused_s = m.get("interface"), m.get("paused")
        if not iface or paused_s is None:
            self._err(sess, aid, "Need 'Interface' and 'Paused' parameters.")
            return
        paused = paused_s.lower() in ("true", "yes", "1", "on")
        qname = m.get("queue")
        targets = [q.members[iface] for q in self.queues.values()
                   if iface in q.members and (not qname or q.name == qname)]
        if not targets:
            self._err(sess, aid, "Interface not found")
            return
        self._ok(sess, aid, "Interface paused successfully" if paused
                 else "Interface unpaused successfully")
        for mem in targets:
            mem.paused = paused
            mem.paused_reason = m.get("reason", "") if paused else ""
            if paused:
                mem.last_pause = int(time.time())
            self._emit("QueueMemberPause", "agent,all", member_block(mem))
        for q in list(self.queues.values()):
            self._assign(q)

    # ------------------------------------------------------------------ channel actions
    def _a_hangup(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                  h: list[tuple[str, str]]) -> None:
        name = m.get("channel")
        if not name:
            self._err(sess, aid, "No channel specified")
            return
        ch = self.channels.get(name)
        if ch is None:
            self._err(sess, aid, "No such channel")
            return
        cause = _leading_int(m.get("cause"), 16) or 16
        self._ok(sess, aid, "Channel Hungup")
        if ch.agent_id is not None:
            agent = self.agents.get(ch.agent_id)
            if agent is not None:
                self._agent_logoff(agent)
            return
        if ch.call is not None:
            self._hangup_call(ch.call, cause)
        else:
            self._hangup_chan(ch, cause)

    def _a_redirect(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                    h: list[tuple[str, str]]) -> None:
        name = m.get("channel")
        if not name:
            self._err(sess, aid, "Channel not specified")
            return
        ctx, exten = m.get("context"), m.get("exten")
        if not ctx:
            self._err(sess, aid, "Context not specified")
            return
        if not exten:
            self._err(sess, aid, "Exten not specified")
            return
        ch = self.channels.get(name)
        if ch is None:
            self._err(sess, aid, "Channel not specified")
            return
        call = ch.call
        if call is None or call.stage not in (CONNECT, QUEUED, SAFE_HARBOUR, TALKING):
            self._err(sess, aid, "Redirect failed")
            return
        self._ok(sess, aid, "Redirect successful")
        call.redirect_to = (ctx, exten)
        if call.task is not None:
            call.task.cancel()

    def _a_agentlogoff(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                       h: list[tuple[str, str]]) -> None:
        agent_id = m.get("agent")
        if not agent_id:
            self._err(sess, aid, "No agent specified")
            return
        agent = self.agents.get(agent_id)
        if agent is None:
            self._err(sess, aid, "No such agent")
            return
        self._ok(sess, aid, "Agent logged out")
        if agent.logged_in:
            self._agent_logoff(agent)

    # ------------------------------------------------------------------ list actions
    def _list(self, sess: Session, aid: str | None, message: str, items: list[str],
              complete: str, extra: str = "") -> None:
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        out = [f"Response: Success\r\n{a}EventList: start\r\nMessage: {message}\r\n\r\n"]
        out += items
        out.append(f"Event: {complete}\r\n{a}EventList: Complete\r\nListItems: {len(items)}\r\n"
                   f"{extra}\r\n")
        self._respond(sess, "".join(out))

    def _a_coreshowchannels(self, sess: Session, aid: str | None, m: dict[str, str],
                            v: list[str], h: list[tuple[str, str]]) -> None:
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        items = []
        for ch in self.channels.values():
            items.append(f"Event: CoreShowChannel\r\n{a}{ch.block()}Application: {ch.app}\r\n"
                         f"ApplicationData: {ch.appdata}\r\n"
                         f"Duration: {hms(self._sim_elapsed(ch.created))}\r\n"
                         f"BridgeId: {ch.bridge}\r\n\r\n")
        self._list(sess, aid, "Channels will follow", items, "CoreShowChannelsComplete")

    def _a_queuestatus(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                       h: list[tuple[str, str]]) -> None:
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        qname, member = m.get("queue"), m.get("member")
        items = []
        for q in self.queues.values():
            if qname and q.name != qname:
                continue
            items.append(
                f"Event: QueueParams\r\nQueue: {q.name}\r\nMax: 0\r\nStrategy: leastrecent\r\n"
                f"Calls: {len(q.waiting)}\r\nHoldtime: 0\r\nTalkTime: 0\r\n"
                f"Completed: {q.completed}\r\nAbandoned: {q.abandoned}\r\nServiceLevel: 20\r\n"
                f"ServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: 0\r\n{a}\r\n")
            for mem in q.members.values():
                if member and mem.interface != member and mem.member_name != member:
                    continue
                items.append(queue_member_item(mem) + a + "\r\n")
            for pos, call in enumerate(q.waiting, 1):
                ch = call.ch1
                if ch is None:
                    continue
                items.append(
                    f"Event: QueueEntry\r\nQueue: {q.name}\r\nPosition: {pos}\r\n"
                    f"Channel: {ch.name}\r\nUniqueid: {ch.uniqueid}\r\n"
                    f"CallerIDNum: {ch.cid_num}\r\nCallerIDName: {ch.cid_name}\r\n"
                    f"ConnectedLineNum: {ch.conn_num}\r\nConnectedLineName: {ch.conn_name}\r\n"
                    f"Wait: {int(self._sim_elapsed(call.joined_at))}\r\nPriority: 0\r\n{a}\r\n")
        self._list(sess, aid, "Queue status will follow", items, "QueueStatusComplete")

    def _a_queuesummary(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                        h: list[tuple[str, str]]) -> None:
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        qname = m.get("queue")
        items = []
        for q in self.queues.values():
            if qname and q.name != qname:
                continue
            logged = sum(1 for mem in q.members.values() if self._member_status(mem) not in (4, 5))
            avail = sum(1 for mem in q.members.values() if self._free(mem))
            longest = max((int(self._sim_elapsed(c.joined_at)) for c in q.waiting), default=0)
            items.append(f"Event: QueueSummary\r\nQueue: {q.name}\r\nLoggedIn: {logged}\r\n"
                         f"Available: {avail}\r\nCallers: {len(q.waiting)}\r\nHoldTime: 0\r\n"
                         f"TalkTime: 0\r\nLongestHoldTime: {longest}\r\n{a}\r\n")
        self._list(sess, aid, "Queue summary will follow", items, "QueueSummaryComplete")

    def _a_agents(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                  h: list[tuple[str, str]]) -> None:
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        items = []
        for agent in self.agents.values():
            head = f"Event: Agents\r\nAgent: {agent.id}\r\nName: Agent {agent.id}\r\n"
            if not agent.logged_in or agent.phone2 is None:
                items.append(head + f"Status: AGENT_LOGGEDOFF\r\n{a}\r\n")
                continue
            if agent.call is not None and agent.call.ch1 is not None:
                head += (f"Status: AGENT_ONCALL\r\nTalkingToChan: {agent.call.ch1.name}\r\n"
                         f"CallStarted: {int(agent.call_started)}\r\n")
            else:
                head += "Status: AGENT_IDLE\r\n"
            items.append(head + f"LoggedInTime: {int(agent.login_at)}\r\n"
                         + agent.phone2.block() + a + "\r\n")
        self._list(sess, aid, "Agents will follow", items, "AgentsComplete")

    def _a_status(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                  h: list[tuple[str, str]]) -> None:
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        name = m.get("channel")
        if name and name not in self.channels:
            self._err(sess, aid, "No such channel")
            return
        items = []
        for ch in self.channels.values():
            if name and ch.name != name:
                continue
            items.append(
                f"Event: Status\r\nPrivilege: Call\r\n{ch.block()}Type: "
                f"{ch.name.partition('/')[0]}\r\nDNID: \r\nEffectiveConnectedLineNum: "
                f"{ch.conn_num}\r\nEffectiveConnectedLineName: {ch.conn_name}\r\n"
                f"TimeToHangup: 0\r\nBridgeID: {ch.bridge}\r\nApplication: {ch.app}\r\n"
                f"Data: {ch.appdata}\r\nNativeformats: (ulaw)\r\nReadformat: ulaw\r\n"
                f"Readtrans: \r\nWriteformat: ulaw\r\nWritetrans: \r\nCallgroup: 0\r\n"
                f"Pickupgroup: 0\r\nSeconds: {int(self._sim_elapsed(ch.created))}\r\n{a}\r\n")
        self._list(sess, aid, "Channel status will follow", items, "StatusComplete",
                   f"Items: {len(items)}\r\n")

    _handlers: dict[str, Callable[[PbxSimulator, Session, str | None, dict[str, str],
                                   list[str], list[tuple[str, str]]], None]] = {
        "ping": _a_ping,
        "corestatus": _a_corestatus,
        "coresettings": _a_coresettings,
        "userevent": _a_userevent,
        "originate": _a_originate,
        "hangup": _a_hangup,
        "redirect": _a_redirect,
        "queueadd": _a_queueadd,
        "queueremove": _a_queueremove,
        "queuepause": _a_queuepause,
        "agentlogoff": _a_agentlogoff,
        "coreshowchannels": _a_coreshowchannels,
        "queuestatus": _a_queuestatus,
        "queuesummary": _a_queuesummary,
        "agents": _a_agents,
        "status": _a_status,
    }
