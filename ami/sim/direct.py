"""An answered agent-direct call: `dialer-agent-connect,<agent id>` as asterisk-conf plays it.

No app_queue: UserEvent DialerAgentRequest, then AgentRequest(<agent id>). A ready agent is
bridged at once (BridgeCreate, BridgeEnter of the customer with 1 channel, the agent's line
leaves the holding bridge and enters with 2); an agent not logged in, on a call or wrapping
up (app_agent_pool's own wrap-up, or the few seconds after login) is refused: UserEvent
DialerQueueResult QueueStatus=AGENT_NOT_LOGGED_IN / AGENT_BUSY / AGENT_INVALID, then the
safe-harbour message and the opt-out key, as measured on Asterisk 22 (tests/asterisk).
"""

from __future__ import annotations

import time
import uuid

from ami import dialplan
from ami.sim.calls import CONNECT, TALKING, SimCall
from ami.sim.connect import ConnectFlow
from ami.sim.core import PbxCore
from ami.sim.queues import Agent, AgentPool
from pacing.world import LineResult

DIRECT_AGENT = "direct_agent"  # SimCall.extra key: the agent a connected direct call is with


class DirectFlow:
    """Plays the agent-connect context for one answered call."""

    def __init__(self, core: PbxCore, pool: AgentPool, connect: ConnectFlow) -> None:
        self._core = core
        self._pool = pool
        self._connect = connect

    @staticmethod
    def handles(call: SimCall) -> bool:
        """[dialer-agent-connect]'s `_X.`: an agent id of digits."""
        return call.context == dialplan.AGENT_CONNECT_CONTEXT and (call.exten or "").isdigit()

    def _bridge(self, bridge_id: str, count: int) -> str:
        return (f"BridgeUniqueid: {bridge_id}\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\n"
                f"BridgeCreator: <unknown>\r\nBridgeName: <unknown>\r\nBridgeNumChannels: {count}\r\n"
                "BridgeVideoSourceMode: none\r\n")

    async def run(self, call: SimCall) -> None:
        core, pool = self._core, self._pool
        ch1 = call.ch1
        assert ch1 is not None
        call.stage = CONNECT
        result = call.result or LineResult.HUMAN
        if await self._connect.amd(call):
            return
        if call.variables.get(dialplan.VAR_RECORD, "").lower() == "yes":
            self._connect.record(call)
        agent_id = call.exten or ""
        attempt = call.variables.get(dialplan.VAR_ATTEMPT, "")
        core.emit_chan("UserEvent", ch1, f"UserEvent: {dialplan.USEREVENT_AGENT_REQUEST}\r\n"
                       f"AttemptId: {attempt}\r\nAgent: {agent_id}\r\n", "user,all")
        ch1.app, ch1.appdata = "AgentRequest", agent_id
        bridge_id = str(uuid.UUID(int=call.rng.getrandbits(128), version=4))
        core.emit("BridgeCreate", "call,all", self._bridge(bridge_id, 0))
        agent = pool.agents.get(agent_id)
        status = self._refusal(agent)
        if status is not None or agent is None:
            core.emit("BridgeDestroy", "call,all", self._bridge(bridge_id, 0))
            core.stats.outcomes[f"agent_{(status or 'INVALID').lower()}"] += 1
            await self._connect.safe_harbour(call, f"AGENT_{status or 'INVALID'}", result)
            return
        await self._talk(call, agent, bridge_id)

    def _refusal(self, agent: Agent | None) -> str | None:
        """app_agent_pool's AGENT_STATUS for an agent it will not connect, None when ready."""
        if agent is None:
            return "INVALID"
        if not agent.logged_in or agent.phone2 is None:
            return "NOT_LOGGED_IN"
        if agent.call is not None or agent.wrapping or self._core.now() < agent.ready_at:
            return "BUSY"
        return None

    async def _talk(self, call: SimCall, agent: Agent, bridge_id: str) -> None:
        core, pool = self._core, self._pool
        ch1, phone = call.ch1, agent.phone2
        assert ch1 is not None and phone is not None
        agent.call = call
        call.stage = TALKING
        call.bridge_id = bridge_id
        call.extra[DIRECT_AGENT] = agent.id
        call.extra["bridge"] = self._bridge(bridge_id, 0)
        core.emit("BridgeEnter", "call,all", self._bridge(bridge_id, 1) + ch1.block())
        core.emit("BridgeLeave", "call,all", self._bridge(pool.holding_bridge, 0) + phone.block())
        core.emit("BridgeEnter", "call,all", self._bridge(bridge_id, 2) + phone.block())
        ch1.bridge = phone.bridge = bridge_id
        ch1.linkedid = phone.linkedid
        ch1.conn_num, ch1.conn_name = agent.id, f"Agent {agent.id}"
        phone.conn_num, phone.conn_name = ch1.cid_num, ch1.cid_name
        call.connected_at = core.now()
        agent.call_started = time.time()
        pool.refresh_members(agent.id)  # the Agent: device is in use: member Status 2
        talk = call.float_variable("SIM_TALK")
        if talk is None:
            talk = core.config.world.talk.sample(call.rng)
        await core.sleep(talk)
        self.complete(call, "caller")
        core.end_both(call, 16)

    def complete(self, call: SimCall, reason: str) -> None:
        """The bridge breaks: the customer leaves, the agent goes back to holding and wraps up."""
        core, pool = self._core, self._pool
        agent = pool.agents.get(call.extra.pop(DIRECT_AGENT, ""))
        ch1 = call.ch1
        if agent is None or ch1 is None:
            return
        core.emit("BridgeLeave", "call,all", self._bridge(call.bridge_id, 1) + ch1.block())
        phone = agent.phone2
        agent.call = None
        ch1.bridge = ""
        if phone is not None and reason != "agent":
            core.emit("BridgeLeave", "call,all", self._bridge(call.bridge_id, 0) + phone.block())
            core.emit("BridgeEnter", "call,all", self._bridge(pool.holding_bridge, 2) + phone.block())
            phone.bridge = pool.holding_bridge
            phone.conn_num, phone.conn_name = phone.cid_num, phone.cid_name
        core.emit("BridgeDestroy", "call,all", self._bridge(call.bridge_id, 0))
        core.stats.outcomes["direct_complete"] += 1
        if agent.logged_in:
            pool.start_wrap(agent, "")
