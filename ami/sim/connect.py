"""An answered call in the connect context: AMD, the queue, the agent's talk, safe harbour."""

from __future__ import annotations

import asyncio
import time
import uuid

from ami import dialplan
from ami.sim.calls import CONNECT, QUEUED, SAFE_HARBOUR, TALKING, SimCall
from ami.sim.channels import Member
from ami.sim.core import PbxCore
from ami.sim.queues import AgentPool, Queue
from pacing.world import AmdVerdict, LineResult


class ConnectFlow:
    """Plays ``dialer-connect,<queue>`` for one answered call, as asterisk-conf's dialplan does."""

    def __init__(self, core: PbxCore, pool: AgentPool) -> None:
        self._core = core
        self._pool = pool
        self._bridge_seq = 0

    async def run(self, call: SimCall) -> None:
        core, pool = self._core, self._pool
        ch1 = call.ch1
        assert ch1 is not None
        cfg = core.config
        world = cfg.world
        rng = call.rng
        call.stage = CONNECT
        result = call.result or LineResult.HUMAN
        if await self.amd(call):
            return
        if call.variables.get(dialplan.VAR_RECORD, "").lower() == "yes":
            self.record(call)
        queue_name = call.exten or ""
        q = pool.queues.get(queue_name)
        if q is None:
            # Queue() into a queue app_queue does not have: no Queue* event, it returns at
            # once with QUEUESTATUS=UNKNOWN and the dialplan plays the safe-harbour message.
            core.stats.outcomes["queue_unknown"] += 1
            await self.safe_harbour(call, "UNKNOWN", result)
            return
        timeout = call.float_variable(dialplan.VAR_QUEUE_TIMEOUT)
        if timeout is None:
            timeout = cfg.queue_timeout
        # asterisk-conf passes whole seconds to Queue() (CUT(QT,.,1)); app_queue's expiry
        # is start + atoi(timeout), so "0.5" becomes an immediate TIMEOUT.
        timeout = float(int(timeout))
        patience: float | None = None
        if result is LineResult.HUMAN:
            patience = call.float_variable("SIM_PATIENCE")
            if patience is None:
                patience = world.patience.sample(rng)
        # ---- queue
        call.stage = QUEUED
        call.queue = queue_name
        ch1.app, ch1.appdata, ch1.priority = "Queue", f"{queue_name},,,,{int(timeout)}", "2"
        q.waiting.append(call)
        call.position = len(q.waiting)
        call.joined_at = core.now()
        loop = asyncio.get_running_loop()
        call.agent_future = loop.create_future()
        core.emit_chan("QueueCallerJoin", ch1,
                       f"Queue: {queue_name}\r\nPosition: {call.position}\r\n"
                       f"Count: {len(q.waiting)}\r\n", "agent,all")
        pool.assign(q)
        wait = timeout if patience is None else min(timeout, patience)
        if not call.agent_future.done():
            core.stats.joined_with_no_agent_free += 1
            await asyncio.wait({call.agent_future}, timeout=wait / cfg.time_scale)
        if call.agent_future.done() and not call.agent_future.cancelled():
            await self._talk(call, q, call.agent_future.result())
            return
        # ---- no agent: customer gone or queue timeout
        call.agent_future.cancel()
        caller_hung_up = patience is not None and patience < timeout
        if caller_hung_up:
            core.emit_chan("HangupRequest", ch1, "Cause: 16\r\n")
        pool.leave_queue(call, q, abandon=True)
        if caller_hung_up:
            core.stats.outcomes["caller_abandon"] += 1
            core.end_both(call, 16)
            return
        core.stats.outcomes["queue_timeout"] += 1
        await self.safe_harbour(call, "TIMEOUT", result)

    def record(self, call: SimCall) -> None:
        """MixMonitor starts (MixMonitorStart names only the channel), then the dialplan's
        DialerRecording says the file, as asterisk-conf's [dialer-connect] and
        [dialer-agent-connect] do."""
        core, ch1 = self._core, call.ch1
        assert ch1 is not None
        attempt = call.variables.get(dialplan.VAR_ATTEMPT, "")
        ch1.app, ch1.appdata = "MixMonitor", f"{core.config.recording_dir}/{attempt}.wav"
        core.emit_chan("MixMonitorStart", ch1)
        core.emit_chan("UserEvent", ch1,
                       f"UserEvent: {dialplan.USEREVENT_RECORDING}\r\nAttemptId: {attempt}\r\n"
                       f"Path: {core.config.recording_dir}/{attempt}.wav\r\n", "user,all")
        core.stats.outcomes["recorded"] += 1

    async def amd(self, call: SimCall) -> bool:
        """AMD() and its UserEvent when DIALER_AMD=yes; True when a machine was hung up on."""
        core = self._core
        ch1 = call.ch1
        assert ch1 is not None
        world, rng = core.config.world, call.rng
        result = call.result or LineResult.HUMAN
        if call.variables.get(dialplan.VAR_AMD, "").lower() == "yes":
            ch1.app = "AMD"
            await self._stage_sleep(call, world.amd_time.sample(rng))
            forced = call.variables.get("SIM_AMD")
            verdict = AmdVerdict(forced) if forced else world.amd_verdict(result, rng)
            amd_cause = {AmdVerdict.HUMAN: "HUMAN-800-800", AmdVerdict.MACHINE: "MAXWORDS-3-2",
                         AmdVerdict.NOTSURE: "TOOLONG-5000"}[verdict]
            ch1.priority = "3"
            core.emit_chan("UserEvent", ch1,
                           f"UserEvent: {dialplan.USEREVENT_AMD}\r\n"
                           f"AttemptId: {call.variables.get(dialplan.VAR_ATTEMPT, '')}\r\n"
                           f"Status: {verdict.value}\r\nCause: {amd_cause}\r\n", "user,all")
            if verdict is AmdVerdict.MACHINE:
                core.stats.outcomes["amd_machine"] += 1
                core.end_both(call, 16)
                return True
        return False

    async def safe_harbour(self, call: SimCall, queue_status: str, result: LineResult) -> None:
        """No agent took the answered call: DialerQueueResult, the message, the opt-out key."""
        core, cfg, rng = self._core, self._core.config, call.rng
        ch1 = call.ch1
        assert ch1 is not None
        call.stage = SAFE_HARBOUR
        attempt = call.variables.get(dialplan.VAR_ATTEMPT, "")
        ch1.priority = "3"
        core.emit_chan("UserEvent", ch1,
                       f"UserEvent: {dialplan.USEREVENT_QUEUE_RESULT}\r\nAttemptId: {attempt}\r\n"
                       f"QueueStatus: {queue_status}\r\n", "user,all")
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
            core.stats.opt_outs += 1
        core.emit_chan("UserEvent", ch1,
                       f"UserEvent: {dialplan.USEREVENT_OPT_OUT}\r\nAttemptId: {attempt}\r\n"
                       f"Digit: {digit}\r\n", "user,all")
        core.end_both(call, 16)

    async def _stage_sleep(self, call: SimCall, sim_seconds: float) -> None:
        await self._core.sleep(sim_seconds)

    async def _talk(self, call: SimCall, q: Queue, m: Member) -> None:
        core, pool = self._core, self._pool
        ch1 = call.ch1
        assert ch1 is not None and m.agent_id is not None
        cfg = core.config
        agent = pool.agents[m.agent_id]
        call.member = m
        call.stage = TALKING
        # app_queue dials Local/<id>@agent-request
        base = f"{m.interface}-{core.next_chan_suffix()}"
        r1 = core.new_chan(base + ";1", core.auto_uid(), call.attempt_id,
                           dialplan.AGENT_REQUEST_CONTEXT, m.agent_id, 0)
        r2 = core.new_chan(base + ";2", core.auto_uid(), call.attempt_id,
                           dialplan.AGENT_REQUEST_CONTEXT, m.agent_id, 4)
        call.agent_req1, call.agent_req2 = r1, r2
        r1.attempt_id = r2.attempt_id = call.attempt_id
        r1.app, r1.appdata = "AppDial", "(Outgoing Line)"
        r2.app, r2.appdata = "AgentRequest", m.agent_id
        core.emit_chan("Newchannel", r1)
        core.emit_chan("Newchannel", r2)
        qm = f"Queue: {q.name}\r\nInterface: {m.interface}\r\nMemberName: {m.member_name}\r\n"
        core.emit("AgentCalled", "agent,all", ch1.block() + r1.block("Dest") + qm)
        core.emit("DialBegin", "call,all",
                  ch1.block() + r1.block("Dest") + f"DialString: {m.interface}\r\n")
        core.newstate(r1, 5)
        pool.refresh_members(m.agent_id)
        await core.sleep(cfg.agent_answer_delay)
        core.newstate(r2, 6)
        core.newstate(r1, 6)
        core.emit("DialEnd", "call,all",
                  ch1.block() + r1.block("Dest") + "DialStatus: ANSWER\r\n")
        call.hold_time = int(core.sim_elapsed(call.joined_at))
        pool.leave_queue(call, q, abandon=False)
        q.completed += 1
        core.emit("AgentConnect", "agent,all", ch1.block() + r1.block("Dest") + qm +
                  f"HoldTime: {call.hold_time}\r\nRingTime: 0\r\n")
        self._bridge_seq += 1
        call.bridge_id = str(uuid.UUID(int=call.rng.getrandbits(128), version=4))
        bridge = (f"BridgeUniqueid: {call.bridge_id}\r\nBridgeType: basic\r\n"
                  f"BridgeTechnology: simple_bridge\r\nBridgeCreator: <unknown>\r\n"
                  f"BridgeName: <unknown>\r\n")
        call.extra["bridge"] = bridge
        core.emit("BridgeEnter", "call,all", bridge + "BridgeNumChannels: 1\r\n"
                  "BridgeVideoSourceMode: none\r\n" + r1.block())
        core.emit("BridgeEnter", "call,all", bridge + "BridgeNumChannels: 2\r\n"
                  "BridgeVideoSourceMode: none\r\n" + ch1.block())
        ch1.bridge = r1.bridge = call.bridge_id
        phone = agent.phone2
        if phone is not None:  # AgentRequest takes the agent out of the holding bridge
            r2.bridge = phone.bridge = str(uuid.uuid5(uuid.NAMESPACE_OID, call.bridge_id))
        call.connected_at = core.now()
        agent.call_started = time.time()
        m.calls_taken += 1
        m.last_call = int(time.time())
        pool.refresh_members(m.agent_id)
        # The agent-request Local pair optimises away shortly after connect: then the
        # customer and the agent's AgentLogin channel share one bridge, and the customer
        # takes the agent softphone's Linkedid and connected line (as in 03-01, 03-04).
        await core.sleep(0.06)
        core.hangup_chan(r1, 16)
        core.hangup_chan(r2, 16)
        call.agent_req1 = call.agent_req2 = None
        if phone is not None and agent.phone2 is phone:
            phone.bridge = call.bridge_id
            ch1.linkedid = phone.linkedid
            ch1.conn_num, ch1.conn_name = m.agent_id, f"Agent {m.agent_id}"
            phone.conn_num, phone.conn_name = ch1.cid_num, ch1.cid_name
            phone.account = ch1.account
        talk = call.float_variable("SIM_TALK")
        if talk is None:
            talk = cfg.world.talk.sample(call.rng)
        await core.sleep(max(talk - 0.06, 0.0))
        self.complete_talk(call, "caller")
        core.end_both(call, 16)

    def complete_talk(self, call: SimCall, reason: str) -> None:
        """AgentComplete and BridgeLeave; the agent goes back to the holding bridge and wraps up."""
        core, pool = self._core, self._pool
        ch1 = call.ch1
        m = call.member
        if ch1 is None or m is None or m.agent_id is None:
            return
        agent = pool.agents[m.agent_id]
        talk = int(core.sim_elapsed(call.connected_at))
        dest = agent.phone2.block("Dest") if agent.phone2 is not None else ""
        bridge = call.extra.get("bridge", "")
        # The agent ending the call with '*' takes the customer out of the bridge first.
        agent_ends = call.variables.get("SIM_AGENT_ENDS", "") not in ("", "0", "no")
        if agent_ends:
            core.emit("BridgeLeave", "call,all", bridge + "BridgeNumChannels: 0\r\n"
                      "BridgeVideoSourceMode: none\r\n" + ch1.block())
        core.emit("AgentComplete", "agent,all",
                  ch1.block() + dest + f"Queue: {m.queue}\r\nInterface: {m.interface}\r\n"
                  f"MemberName: {m.member_name}\r\nHoldTime: {call.hold_time}\r\n"
                  f"TalkTime: {talk}\r\nReason: {reason}\r\n")
        if not agent_ends:
            core.emit("BridgeLeave", "call,all", bridge + "BridgeNumChannels: 0\r\n"
                      "BridgeVideoSourceMode: none\r\n" + ch1.block())
        call.member = None
        agent.call = None
        ch1.bridge = ""
        if agent.phone2 is not None:  # back to the holding bridge
            agent.phone2.bridge = pool.holding_bridge
            agent.phone2.conn_num, agent.phone2.conn_name = (agent.phone2.cid_num,
                                                             agent.phone2.cid_name)
        core.stats.outcomes["agent_complete"] += 1
        if agent.logged_in:
            pool.start_wrap(agent, m.queue)
