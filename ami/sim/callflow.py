"""A simulated call from Originate to its end: dialling, the line's answer, redirects, hang-ups."""

from __future__ import annotations

import asyncio

from ami import dialplan
from ami.sim.calls import APP, CONNECT, DIALING, ENDED, QUEUED, TALKING, SimCall
from ami.sim.connect import ConnectFlow
from ami.sim.core import PbxCore
from ami.sim.direct import DIRECT_AGENT, DirectFlow
from ami.sim.queues import Agent, AgentPool
from ami.sim.transport import Session
from pacing.world import LineResult


class CallFlow:
    """Starts, plays out and ends calls; what happens after answer is `ConnectFlow`'s."""

    def __init__(self, core: PbxCore, pool: AgentPool, connect: ConnectFlow) -> None:
        self._core = core
        self._pool = pool
        self._connect = connect
        self._direct = DirectFlow(core, pool, connect)

    # ------------------------------------------------------------------ start
    async def sync_originate(self, sess: Session, call: SimCall) -> None:
        self.start_call(call, sync_session=sess)

    def start_call(self, call: SimCall, sync_session: Session | None = None) -> None:
        core = self._core
        cid = call.attempt_id
        if cid:
            other = core.uid_in_use(cid)
            if other is not None or cid in core.calls:
                uid = other.uniqueid if other is not None else cid
                asyncio.get_running_loop().call_soon(
                    self.originate_response, call, False, 0, call.dial_string, uid,
                    sync_session)
                return
        if call.tech.lower() not in ("local", "pjsip"):
            asyncio.get_running_loop().call_soon(
                self.originate_response, call, False, 0, call.dial_string, cid or "<unknown>",
                sync_session)
            return
        if not cid:
            call.attempt_id = core.auto_uid()
            call.extra["auto_id"] = "1"
        core.calls[call.attempt_id] = call
        core.stats.calls_started += 1
        call.task = core.spawn(self._play(call, sync_session), f"call-{call.attempt_id}")

    def originate_response(self, call: SimCall, success: bool, reason: int, channel: str,
                           uid: str, sync_session: Session | None = None) -> None:
        if call.outcome_sent:
            return
        core = self._core
        call.outcome_sent = True
        if call.application:
            where = f"Application: {call.application}\r\nData: {call.app_data or ''}\r\n"
        else:
            where = f"Context: {call.context}\r\nExten: {call.exten}\r\n"
        body = (f"ActionID: {call.action_id}\r\nResponse: {'Success' if success else 'Failure'}"
                f"\r\nChannel: {channel}\r\n{where}Reason: {reason}\r\nUniqueid: {uid}\r\n"
                f"CallerIDNum: {call.caller_num or '<unknown>'}\r\n"
                f"CallerIDName: {call.caller_name or '<unknown>'}\r\n")
        core.stats.outcomes[f"{'Success' if success else 'Failure'}/{reason}"] += 1
        core.emit("OriginateResponse", "call,all", body)
        if sync_session is not None:
            if success:
                core.out.ok(sync_session, call.action_id, "Originate successfully queued")
            else:
                core.out.err(sync_session, call.action_id, "Originate failed")

    # ------------------------------------------------------------------ playout
    async def _play(self, call: SimCall, sync_session: Session | None) -> None:
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

    def _finish_call(self, call: SimCall) -> None:
        core = self._core
        call.stage = ENDED
        if core.calls.pop(call.attempt_id, None) is not None:
            core.stats.calls_ended += 1
        for ch in call.channels():
            core.hangup_chan(ch, 16)
        q = self._pool.queues.get(call.queue or "")
        if q is not None and call in q.waiting:
            q.waiting.remove(call)

    async def _dial(self, call: SimCall, sync_session: Session | None) -> bool:
        core = self._core
        cfg = core.config
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
        ring = call.float_variable("SIM_RING")
        if ring is None:
            ring = plan_ring if plan_ring is not None else world.ring_time(result, rng)
        timeout_s = call.timeout_ms / 1000.0
        local = call.tech.lower() == "local"
        cid = call.attempt_id
        where = call.extra.get("where", "")
        if local:
            suffix = core.next_chan_suffix()
            base = f"{call.dial_string}-{suffix}"
            other = call.extra.get("other_id") or (
                core.auto_uid() if call.extra.get("auto_id") else f"{cid};2")
            ch1 = core.new_chan(base + ";1", cid, cid, where, call.number, 0)
            ch2 = core.new_chan(base + ";2", other, cid, where, call.number, 4)
            call.ch1, call.ch2 = ch1, ch2
            ch1.attempt_id = ch2.attempt_id = call.attempt_id
            core.emit_chan("Newchannel", ch1)
            core.emit_chan("Newchannel", ch2)
            ch1.account = ch2.account = call.account
            ch1.set_caller(call.caller_num, call.caller_name)
            ch2.set_caller(call.caller_num, call.caller_name)
            if where != cfg.pstn_context:
                # No such context on the far side: both halves die at once.
                core.hangup_chan(ch1, 0)
                core.hangup_chan(ch2, 0)
                self.originate_response(call, False, 0, call.dial_string, cid, sync_session)
                return False
            dial_string = f"{call.number}@{where}"
        else:
            trunk = where or call.number
            ch1 = core.new_chan(f"PJSIP/{trunk}-{core.next_chan_suffix()}", cid, cid,
                                cfg.pjsip_context, "s", 0)
            call.ch1 = ch1
            ch1.attempt_id = call.attempt_id
            core.emit_chan("Newchannel", ch1)
            ch1.account = call.account
            ch1.set_caller(call.caller_num, call.caller_name)
            dial_string = f"{call.number}@{trunk}"
        core.emit("DialBegin", "call,all", ch1.block("Dest") + f"DialString: {dial_string}\r\n")
        # As Asterisk 22 lists an Originate's channel while it rings (measured with
        # asterisk-conf's sim-pstn): AppDial2 on ours, the far Local half in Wait.
        ch1.app, ch1.appdata = "AppDial2", "(Outgoing Line)"
        if call.ch2 is not None:
            call.ch2.app, call.ch2.appdata = "Wait", f"{int(timeout_s)}"
        if result not in (LineResult.BUSY, LineResult.CONGESTION, LineResult.INVALID):
            # busy / congestion (486, 503, Busy(), Congestion()) never ring first
            core.newstate(ch1, 5)
        call.stage = DIALING
        if ring >= timeout_s:
            await core.sleep(timeout_s)
            self._fail_timeout(call, sync_session)
            return False
        await core.sleep(ring)
        if result in (LineResult.HUMAN, LineResult.MACHINE):
            ch1.app, ch1.appdata = "", ""  # the connect context's dialplan takes over
            if call.ch2 is not None:
                core.newstate(call.ch2, 6)
            core.newstate(ch1, 6)
            core.emit("DialEnd", "call,all", ch1.block("Dest") + "DialStatus: ANSWER\r\n")
            self.originate_response(call, True, 4, ch1.name, cid, sync_session)
            return True
        self._fail_line(call, result, sync_session)
        return False

    def _last_digit_plan(self, call: SimCall) -> tuple[LineResult, float] | None:
        """asterisk-conf's sim-pstn: the number's last digit picks the customer."""
        if self._core.config.number_plan != "last-digit":
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

    def _fail_timeout(self, call: SimCall, sync_session: Session | None) -> None:
        core = self._core
        ch1 = call.ch1
        assert ch1 is not None
        if call.ch2 is not None:
            core.emit_chan("HangupRequest", call.ch2, "Cause: 19\r\n")
            core.hangup_chan(call.ch2, 19)
        self.originate_response(call, False, 3, call.dial_string, call.attempt_id, sync_session)
        core.hangup_chan(ch1, 19)

    def _fail_line(self, call: SimCall, result: LineResult,
                   sync_session: Session | None) -> None:
        core = self._core
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
                core.newstate(ch2, 7)
                core.emit("DialEnd", "call,all", ch1.block("Dest") + f"DialStatus: {status}\r\n")
                self.originate_response(call, False, local_reason, call.dial_string,
                                        call.attempt_id, sync_session)
                core.hangup_chan(ch1, 0)
                core.hangup_chan(ch2, cause)
            else:
                core.emit_chan("HangupRequest", ch1, f"Cause: {cause}\r\n")
                core.hangup_chan(ch2, cause)
                core.emit("DialEnd", "call,all", ch1.block("Dest") + f"DialStatus: {status}\r\n")
                self.originate_response(call, False, 0, call.dial_string, call.attempt_id,
                                        sync_session)
                core.hangup_chan(ch1, cause)
        else:  # PJSIP: Reason 0, the cause is on our channel
            core.emit("DialEnd", "call,all", ch1.block("Dest") + f"DialStatus: {status}\r\n")
            self.originate_response(call, False, 0, call.dial_string, call.attempt_id,
                                    sync_session)
            core.hangup_chan(ch1, cause)
        core.stats.outcomes[result.value] += 1

    async def _after_answer(self, call: SimCall) -> None:
        core = self._core
        ch1 = call.ch1
        assert ch1 is not None
        cfg = core.config
        if call.application:
            call.stage = APP
            ch1.app, ch1.appdata = call.application, call.app_data or ""
            talk = call.float_variable("SIM_TALK")
            await core.sleep(talk if talk is not None else cfg.world.talk.sample(call.rng))
            core.end_both(call, 16)
            return
        ch1.context, ch1.exten, ch1.priority = call.context or "", call.exten or "", "1"
        if call.ch2 is not None:
            call.ch2.app = "Wait"
        while True:
            try:
                if (call.context == dialplan.CONNECT_CONTEXT
                        and self._pool.exten_exists(call.context, call.exten)):
                    await self._connect.run(call)
                elif self._direct.handles(call):
                    await self._direct.run(call)
                else:
                    await core.sleep(1.0)
                    core.end_both(call, 16)
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

    def _leave_for_redirect(self, call: SimCall) -> None:
        core, pool = self._core, self._pool
        q = pool.queues.get(call.queue or "")
        if call.stage == QUEUED and q is not None and call in q.waiting:
            if call.agent_future is not None and not call.agent_future.done():
                call.agent_future.cancel()
            pool.leave_queue(call, q, abandon=False)
        elif call.stage == TALKING:
            m = call.member
            if call.connected_at:
                self._complete_talk(call, "transfer")
            elif m is not None:
                agent = pool.agents.get(m.agent_id or "")
                if agent is not None:
                    agent.call = None
                    pool.refresh_members(agent.id)
                if q is not None and call in q.waiting:
                    pool.leave_queue(call, q, abandon=False)
        for ch in (call.agent_req1, call.agent_req2):
            if ch is not None:
                core.hangup_chan(ch, 16)
        call.agent_req1 = call.agent_req2 = None
        call.connected_at = 0.0
        call.member = None
        call.stage = CONNECT

    def _complete_talk(self, call: SimCall, reason: str) -> None:
        """The talk ends: through app_queue (AgentComplete) or an agent-direct bridge."""
        if DIRECT_AGENT in call.extra:
            self._direct.complete(call, reason)
        else:
            self._connect.complete_talk(call, reason)

    # ------------------------------------------------------------------ ended from outside
    def _teardown_call(self, call: SimCall) -> None:
        """The call was ended from outside (AMI Hangup, agent logoff, shutdown)."""
        core, pool = self._core, self._pool
        cause = call.hangup_cause or 16
        if call.stage == DIALING:
            if call.ch2 is not None:
                core.hangup_chan(call.ch2, cause)
            self.originate_response(call, False, 1, call.dial_string, call.attempt_id)
            if call.ch1 is not None:
                core.hangup_chan(call.ch1, cause)
            return
        q = pool.queues.get(call.queue or "")
        if call.stage == QUEUED and q is not None and call in q.waiting:
            if call.agent_future is not None and not call.agent_future.done():
                call.agent_future.cancel()
            if call.ch1 is not None:
                core.emit_chan("HangupRequest", call.ch1, f"Cause: {cause}\r\n")
            pool.leave_queue(call, q, abandon=True)
        elif call.stage == TALKING:
            m = call.member
            if m is not None and call.connected_at == 0.0:
                # hung up while the agent was being rung
                agent = pool.agents.get(m.agent_id or "")
                if agent is not None:
                    agent.call = None
                    pool.refresh_members(agent.id)
                if q is not None and call in q.waiting:
                    pool.leave_queue(call, q, abandon=True)
            else:
                self._complete_talk(call, call.end_reason)
        core.end_both(call, cause)

    def hangup_call(self, call: SimCall, cause: int, *, reason: str = "caller") -> None:
        """End a call from outside; its task tears it down by stage."""
        if call.task is None or call.task.done() or call.stage == ENDED:
            return
        call.hangup_cause = cause
        call.end_reason = reason
        call.task.cancel()

    def redirect(self, call: SimCall, context: str, exten: str) -> None:
        """Send an answered call to ``context``/``exten`` (AMI Redirect)."""
        call.redirect_to = (context, exten)
        if call.task is not None:
            call.task.cancel()

    def agent_logoff(self, agent: Agent) -> None:
        """The agent leaves the pool: its call ends (Reason agent), then its phones hang up."""
        agent.logged_in = False
        agent.wrapping = False
        if agent.call is not None:
            call = agent.call
            self.hangup_call(call, 16, reason="agent")
            if call.connected_at:
                self._complete_talk(call, "agent")
        self._pool.hang_up_phones(agent)
