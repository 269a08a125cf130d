"""The simulated agent pool and queues: member status, which agent gets a call, wrap-up, login.

Queue weight as app_queue applies it (queues.conf `weight`): a member who is also in a
heavier queue with callers waiting is not offered to a lighter queue's caller, so when
campaigns share agents the heavier queue's callers get the free agent first.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from dataclasses import dataclass, field

from ami import dialplan
from ami.sim.calls import SimCall
from ami.sim.channels import Chan, Member, member_block
from ami.sim.conffile import Category, ConfFiles
from ami.sim.core import PbxCore

_CONNECT_EXTEN = re.compile(r"^[0-9a-z].+$")


@dataclass
class Agent:
    """An app_agent_pool agent (id like 1001) with its softphone channels."""

    id: str
    logged_in: bool = False
    login_at: float = 0.0  # wall epoch of AgentLogin
    ready_at: float = 0.0  # loop time when queue members turn from 5 to 1
    phone1: Chan | None = None
    phone2: Chan | None = None
    call: SimCall | None = None  # the customer call, while talking
    wrapping: bool = False
    call_started: float = 0.0


@dataclass
class Queue:
    """An app_queue queue: its dynamic members and the calls waiting in it."""

    name: str
    wrapuptime: float | None = None
    weight: int = 0  # queues.conf `weight`: heavier queues get shared members first
    members: dict[str, Member] = field(default_factory=dict)  # by interface
    waiting: list[SimCall] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0


class AgentPool:
    """The agents and queues; the leastrecent strategy hands a waiting call to a free member."""

    def __init__(self, core: PbxCore) -> None:
        self._core = core
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, Queue] = {}
        # queues_dialer.conf and queues.conf: they outlive a restart, like files on disk
        self.conf = ConfFiles(core.config.queues)
        # app_agent_pool keeps every idle logged-in agent in one holding bridge.
        self.holding_bridge = str(uuid.UUID(
            int=random.Random(f"{core.config.seed}:holding").getrandbits(128), version=4))

    def reset(self) -> None:
        """The configured agents (logged off) and queues (no members), as at start."""
        cfg = self._core.config
        self.agents = {}
        for i in range(cfg.agents):
            aid = str(cfg.first_agent + i)
            self.agents[aid] = Agent(aid)
        self.queues = {}
        self.load_queues()  # what the queue file holds (cfg.queues, and queues added over AMI)

    def load_queues(self, name: str | None = None) -> None:
        """app_queue (re)reading its configuration: the queue `name` (all when None) is
        created when new, its weight applied when not; dynamic members stay."""
        for cat in self.conf.queue_file.queues():
            if name is None or cat.name == name:
                self._load(cat)

    def _load(self, cat: Category) -> None:
        cfg = self._core.config
        weight = cat.get("weight") or str(cfg.queue_weights.get(cat.name, 0))
        q = self.queues.get(cat.name)
        if q is None:
            q = self.queues[cat.name] = Queue(cat.name, cfg.wrapuptime.get(cat.name))
        q.weight = int(weight) if weight.isdigit() else 0

    # ------------------------------------------------------------------ queues
    def find_queue(self, name: str) -> Queue | None:
        q = self.queues.get(name)
        if q is None and self._core.config.auto_create_queues and name:
            q = self.queues[name] = Queue(name, self._core.config.wrapuptime.get(name),
                                          self._core.config.queue_weights.get(name, 0))
        return q

    def exten_exists(self, context: str, exten: str | None) -> bool:
        """Whether an Originate into ``context``/``exten`` has a dialplan to land in."""
        cfg = self._core.config
        if context == dialplan.CONNECT_CONTEXT and exten is not None:
            if exten not in self.queues and cfg.auto_create_queues:
                self.queues[exten] = Queue(exten, cfg.wrapuptime.get(exten), cfg.queue_weights.get(exten, 0))
            # [dialer-connect]'s `_[0-9a-z].` takes any name of two or more characters,
            # whether or not the queue exists (Queue() then fails: QUEUESTATUS=UNKNOWN).
            return exten in self.queues or (cfg.connect_any_exten and _CONNECT_EXTEN.match(exten) is not None)
        if context == dialplan.AGENT_CONNECT_CONTEXT and exten is not None:
            return exten.isdigit()  # [dialer-agent-connect]'s `_X.` (AgentRequest says the rest)
        return False

    def leave_queue(self, call: SimCall, q: Queue, *, abandon: bool) -> None:
        core = self._core
        ch1 = call.ch1
        assert ch1 is not None
        pos = q.waiting.index(call) + 1 if call in q.waiting else call.position
        if call in q.waiting:
            q.waiting.remove(call)
        if abandon:
            q.abandoned += 1
            hold = int(core.sim_elapsed(call.joined_at))
            core.emit_chan("QueueCallerAbandon", ch1,
                           f"Queue: {q.name}\r\nPosition: {pos}\r\nOriginalPosition: "
                           f"{call.position}\r\nHoldTime: {hold}\r\n", "agent,all")
        core.emit_chan("QueueCallerLeave", ch1,
                       f"Queue: {q.name}\r\nPosition: {pos}\r\nCount: {len(q.waiting)}\r\n",
                       "agent,all")

    # ------------------------------------------------------------------ members
    def member_status(self, m: Member) -> int:
        if m.agent_id is None:
            return 4
        agent = self.agents.get(m.agent_id)
        if agent is None or not agent.logged_in:
            return 5
        if agent.call is not None or agent.wrapping:
            return 2
        if self._core.now() < agent.ready_at:
            return 5
        return 1

    def refresh_members(self, agent_id: str) -> None:
        """Recompute status of the agent's members; QueueMemberStatus on change."""
        for q in self.queues.values():
            for m in q.members.values():
                if m.agent_id != agent_id:
                    continue
                status = self.member_status(m)
                agent = self.agents.get(agent_id)
                in_call = agent is not None and agent.call is not None
                if status != m.status or in_call != m.in_call:
                    m.status, m.in_call = status, in_call
                    self._core.emit("QueueMemberStatus", "agent,all", member_block(m))
        for q in sorted(self.queues.values(), key=lambda q: -q.weight):
            self.assign(q)

    def free(self, m: Member) -> bool:
        return not m.paused and self.member_status(m) == 1 and not m.ringing

    @staticmethod
    def _has_callers(q: Queue) -> bool:
        return any(c.agent_future is not None and not c.agent_future.done() for c in q.waiting)

    def _held_for_heavier(self, q: Queue, m: Member) -> bool:
        """app_queue's compare_weight: the member is in a heavier queue with callers waiting."""
        return any(
            other.weight > q.weight and self._has_callers(other)
            and any(o.agent_id == m.agent_id for o in other.members.values())
            for other in self.queues.values()
        )

    def assign(self, q: Queue) -> None:
        while q.waiting:
            free = [m for m in q.members.values() if self.free(m) and not self._held_for_heavier(q, m)]
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

    def start_wrap(self, agent: Agent, queue: str) -> None:
        core = self._core
        q = self.queues.get(queue)
        wrap = q.wrapuptime if q is not None and q.wrapuptime is not None else None
        if wrap is None:
            wrap = core.config.world.wrap.sample(core.rng)
        agent.wrapping = True
        self.refresh_members(agent.id)

        def done() -> None:
            agent.wrapping = False
            self.refresh_members(agent.id)

        asyncio.get_running_loop().call_later(wrap / core.config.time_scale, done)

    # ------------------------------------------------------------------ login / logoff
    def login_all(self) -> None:
        for agent in self.agents.values():
            if not agent.logged_in:
                self.agent_login(agent.id)

    def agent_login(self, agent_id: str) -> None:
        """Log a simulated agent in to the pool (softphone channels + AgentLogin)."""
        core = self._core
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id)
        if agent.logged_in:
            return
        base = f"Local/{agent_id}@agent-login-ctx-{core.next_chan_suffix()}"
        uid = f"agentphone-{agent_id}"
        p1 = core.new_chan(base + ";1", uid, uid, "agent-login-ctx", agent_id, 6)
        p2 = core.new_chan(base + ";2", uid + "-2", uid, "agent-login-ctx", agent_id, 6)
        for p in (p1, p2):
            p.set_caller(agent_id, f"Agent {agent_id}")
            p.agent_id = agent_id
        p1.app, p1.appdata = "Wait", "3600"
        p2.app, p2.appdata, p2.priority = "AgentLogin", f"{agent_id},s", "5"
        p2.bridge = self.holding_bridge
        agent.phone1, agent.phone2 = p1, p2
        agent.logged_in = True
        agent.login_at = time.time()
        agent.ready_at = core.now() + core.config.member_ready_delay / core.config.time_scale
        core.emit_chan("Newchannel", p1)
        core.emit_chan("Newchannel", p2)
        core.emit_chan("AgentLogin", p2, f"Agent: {agent_id}\r\n", "agent,all")
        self.refresh_members(agent_id)
        loop = asyncio.get_running_loop()
        loop.call_later(core.config.member_ready_delay / core.config.time_scale + 0.001,
                        self.refresh_members, agent_id)

    def hang_up_phones(self, agent: Agent) -> None:
        """The pool's half of a logoff (the call is already ended): AgentLogoff, phones gone."""
        core = self._core
        p2 = agent.phone2
        if p2 is not None:
            logintime = int(time.time() - agent.login_at)
            core.emit_chan("AgentLogoff", p2, f"Agent: {agent.id}\r\nLogintime: {logintime}\r\n",
                           "agent,all")
            core.hangup_chan(p2, 16)
        if agent.phone1 is not None:
            core.hangup_chan(agent.phone1, 16)
        agent.phone1 = agent.phone2 = None
        self.refresh_members(agent.id)
