"""The simulator's queue and agent actions: QueueAdd/Remove/Pause, AgentLogoff and their lists."""

from __future__ import annotations

import asyncio
import time

from ami import dialplan
from ami.sim.actions import Handler, leading_int
from ami.sim.callflow import CallFlow
from ami.sim.channels import Member, member_block, queue_member_item
from ami.sim.core import PbxCore
from ami.sim.queues import Agent, AgentPool
from ami.sim.transport import Session


class QueueActions:
    """Actions on queue members and agents, with Asterisk's error texts."""

    def __init__(self, core: PbxCore, pool: AgentPool, flow: CallFlow) -> None:
        self._core = core
        self._pool = pool
        self._flow = flow

    def handlers(self) -> dict[str, Handler]:
        return {
            "queueadd": self.queueadd,
            "queueremove": self.queueremove,
            "queuepause": self.queuepause,
            "agentlogoff": self.agentlogoff,
            "queuestatus": self.queuestatus,
            "queuesummary": self.queuesummary,
            "agents": self.agents,
        }

    def queueadd(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                 h: list[tuple[str, str]]) -> None:
        core, out, pool = self._core, self._core.out, self._pool
        iface = m.get("interface")
        qname = m.get("queue")
        if not iface:
            out.err(sess, aid, "'Interface' not specified.")
            return
        if not qname:
            out.err(sess, aid, "'Queue' not specified.")
            return
        q = pool.find_queue(qname)
        if q is None:
            out.err(sess, aid, "Unable to add interface to queue: No such queue")
            return
        if iface in q.members:
            out.err(sess, aid, "Unable to add interface: Already there")
            return
        agent_id = dialplan.agent_from_interface(iface)
        paused = m.get("paused", "false").lower() in ("true", "yes", "1", "on")
        mem = Member(q.name, iface, m.get("membername") or iface,
                     m.get("stateinterface") or iface, agent_id,
                     penalty=leading_int(m.get("penalty"), 0), paused=paused,
                     paused_reason=m.get("reason", "") if paused else "",
                     login_time=int(time.time()))
        if agent_id is not None and agent_id not in pool.agents:
            pool.agents[agent_id] = Agent(agent_id)
        mem.status = pool.member_status(mem)
        agent = pool.agents.get(agent_id or "")
        mem.in_call = agent is not None and agent.call is not None
        q.members[iface] = mem
        out.ok(sess, aid, "Added interface to queue")
        core.emit("QueueMemberAdded", "agent,all", member_block(mem))
        if agent_id is not None and agent is not None and agent.logged_in:
            asyncio.get_running_loop().call_later(
                max(agent.ready_at - core.now(), 0.0) + 0.001, pool.refresh_members, agent_id)
        pool.assign(q)

    def queueremove(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                    h: list[tuple[str, str]]) -> None:
        out = self._core.out
        iface, qname = m.get("interface"), m.get("queue")
        if not iface or not qname:
            out.err(sess, aid, "Need 'Queue' and 'Interface' parameters.")
            return
        q = self._pool.queues.get(qname)
        if q is None or iface not in q.members:
            out.err(sess, aid, "Unable to remove interface: Not there")
            return
        mem = q.members.pop(iface)
        out.ok(sess, aid, "Removed interface from queue")
        self._core.emit("QueueMemberRemoved", "agent,all", member_block(mem))

    def queuepause(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                   h: list[tuple[str, str]]) -> None:
        out, pool = self._core.out, self._pool
        iface, paused_s = m.get("interface"), m.get("paused")
        if not iface or paused_s is None:
            out.err(sess, aid, "Need 'Interface' and 'Paused' parameters.")
            return
        paused = paused_s.lower() in ("true", "yes", "1", "on")
        qname = m.get("queue")
        targets = [q.members[iface] for q in pool.queues.values()
                   if iface in q.members and (not qname or q.name == qname)]
        if not targets:
            out.err(sess, aid, "Interface not found")
            return
        out.ok(sess, aid, "Interface paused successfully" if paused
               else "Interface unpaused successfully")
        for mem in targets:
            mem.paused = paused
            mem.paused_reason = m.get("reason", "") if paused else ""
            if paused:
                mem.last_pause = int(time.time())
            self._core.emit("QueueMemberPause", "agent,all", member_block(mem))
        for q in list(pool.queues.values()):
            pool.assign(q)

    def agentlogoff(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                    h: list[tuple[str, str]]) -> None:
        out = self._core.out
        agent_id = m.get("agent")
        if not agent_id:
            out.err(sess, aid, "No agent specified")
            return
        agent = self._pool.agents.get(agent_id)
        if agent is None:
            out.err(sess, aid, "No such agent")
            return
        out.ok(sess, aid, "Agent logged out")
        if agent.logged_in:
            self._flow.agent_logoff(agent)

    # ------------------------------------------------------------------ lists
    def queuestatus(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                    h: list[tuple[str, str]]) -> None:
        core = self._core
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        qname, member = m.get("queue"), m.get("member")
        items = []
        for q in self._pool.queues.values():
            if qname and q.name != qname:
                continue
            items.append(
                f"Event: QueueParams\r\nQueue: {q.name}\r\nMax: 0\r\nStrategy: leastrecent\r\n"
                f"Calls: {len(q.waiting)}\r\nHoldtime: 0\r\nTalkTime: 0\r\n"
                f"Completed: {q.completed}\r\nAbandoned: {q.abandoned}\r\nServiceLevel: 20\r\n"
                f"ServicelevelPerf: 0.0\r\nServicelevelPerf2: 0.0\r\nWeight: {q.weight}\r\n{a}\r\n")
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
                    f"Wait: {int(core.sim_elapsed(call.joined_at))}\r\nPriority: 0\r\n{a}\r\n")
        core.out.send_list(sess, aid, "Queue status will follow", items, "QueueStatusComplete")

    def queuesummary(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
                     h: list[tuple[str, str]]) -> None:
        core, pool = self._core, self._pool
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        qname = m.get("queue")
        items = []
        for q in pool.queues.values():
            if qname and q.name != qname:
                continue
            logged = sum(1 for mem in q.members.values()
                         if pool.member_status(mem) not in (4, 5))
            avail = sum(1 for mem in q.members.values() if pool.free(mem))
            longest = max((int(core.sim_elapsed(c.joined_at)) for c in q.waiting), default=0)
            items.append(f"Event: QueueSummary\r\nQueue: {q.name}\r\nLoggedIn: {logged}\r\n"
                         f"Available: {avail}\r\nCallers: {len(q.waiting)}\r\nHoldTime: 0\r\n"
                         f"TalkTime: 0\r\nLongestHoldTime: {longest}\r\n{a}\r\n")
        core.out.send_list(sess, aid, "Queue summary will follow", items, "QueueSummaryComplete")

    def agents(self, sess: Session, aid: str | None, m: dict[str, str], v: list[str],
               h: list[tuple[str, str]]) -> None:
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        items = []
        for agent in self._pool.agents.values():
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
        self._core.out.send_list(sess, aid, "Agents will follow", items, "AgentsComplete")
