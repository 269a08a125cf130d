"""Replay the real Asterisk 22.10.1 scenarios against the simulator and compare.

For each scenario the simulator is driven through the same calls (outcomes forced with
the SIM_* variables, as the rig forced them with its own dialplan variables) and, per
channel (by Uniqueid = the ChannelId we assigned), its sequence of dialer-relevant events
is compared with the capture's. Separately, every event and list item the simulator
emits must have exactly the field names, in the same order, of that event in the
captures.

What is compared per channel: the events in `KEY_EVENTS` (noise such as Cdr, VarSet,
NewCallerid, DialState, LocalBridge, DeviceStateChange is not simulated). Two races seen
in the captures are normalised: where ``OriginateResponse`` falls relative to the
answered call's Newstate/QueueCallerJoin/AgentCalled, and whether the ``Ringing``
Newstate precedes or follows DialBegin. So the check is: the same events the same
number of times, the same order once OriginateResponse and Newstate are set aside, and
a failed OriginateResponse before the originated channel's Hangup.
"""

from __future__ import annotations

from collections import Counter

import pytest

from ami.protocol import parse_message
from ami.simulator import PbxSimulator, SimConfig
from pacing.world import Duration, WorldModel
from tests.ami.rawclient import RawAMI, to_tmessage, wait_until
from tests.ami.transcripts import (
    TMessage,
    channel_sequence,
    events,
    field_variants,
    transcript,
)

SCALE = 50.0
#: events the simulator sends that the rig's dialplan did not (see ami/dialplan.py)
NOT_IN_CAPTURES = {"UserEvent/DialerQueueResult", "Challenge"}
#: headers ami/dialplan.py adds to a UserEvent that the rig's dialplan did not send
CONTRACT_EXTRA = {"UserEvent/DialerAMD": {"AttemptId"}}


def sim_config(**kw: object) -> SimConfig:
    base: dict[str, object] = dict(time_scale=SCALE, seed=11, agents=2, member_ready_delay=0.0,
                                   world=WorldModel(wrap=Duration.fixed(1.0)))
    base.update(kw)
    return SimConfig(**base)  # type: ignore[arg-type]


def _strip(seq: list[str]) -> list[str]:
    return [e for e in seq if e not in ("OriginateResponse", "Newstate")]


def assert_same_sequence(real: list[str], sim: list[str], what: str) -> None:
    assert Counter(sim) == Counter(real), f"{what}: events differ\n real {real}\n sim  {sim}"
    assert _strip(sim) == _strip(real), f"{what}: order differs\n real {real}\n sim  {sim}"
    for seq in (real, sim):
        if "OriginateResponse" in seq and "DialEnd" not in seq[:seq.index("OriginateResponse")]:
            # failure without DialEnd (timeout): OriginateResponse before the Hangup
            assert seq.index("OriginateResponse") < seq.index("Hangup"), what


async def _add_agents(c: RawAMI, ids: list[str], queue: str = "campaign1") -> None:
    for a in ids:
        r = await c.action("QueueAdd", Queue=queue, Interface=f"Local/{a}@agent-request",
                           MemberName=f"Agent/{a}", StateInterface=f"Agent:{a}", Penalty="0",
                           Paused="false")
        assert r.get("Message") == "Added interface to queue"


def _originate(c: RawAMI, cid: str, number: str, vars_: dict[str, str], *,
               channel: str | None = None, timeout: str = "20000") -> None:
    headers = [("Action", "Originate"), ("ActionID", f"orig-{cid}"),
               ("Channel", channel or f"Local/{number}@sim-pstn"),
               ("Context", "dialer-connect"), ("Exten", "campaign1"), ("Priority", "1"),
               ("Timeout", timeout), ("CallerID", f'"Dialer" <{number}>'), ("Async", "true"),
               ("ChannelId", cid), ("OtherChannelId", f"{cid}-2"), ("Account", "camp1")]
    headers += [("Variable", f"{k}={v}") for k, v in vars_.items()]
    c.send_raw(headers)


async def test_six_outcomes_local_match_capture() -> None:
    real = events(transcript("01-six-outcomes-local.txt"))
    plan = {
        "0": {"SIM_RESULT": "human", "SIM_RING": "3", "SIM_TALK": "7"},
        "1": {"SIM_RESULT": "busy", "SIM_RING": "0"},
        "2": {"SIM_RESULT": "no_answer"},  # rings past the 20 s Originate timeout
        "3": {"SIM_RESULT": "no_answer", "SIM_RING": "10"},  # network gives up (19)
        "4": {"SIM_RESULT": "congestion", "SIM_RING": "2"},
        "5": {"SIM_RESULT": "machine", "SIM_RING": "3", "SIM_TALK": "5"},
    }
    async with PbxSimulator(sim_config()) as sim:
        c = await RawAMI.connect(sim.port)
        await _add_agents(c, ["1001", "1002"])
        for n, v in plan.items():
            _originate(c, f"dlr-x-{n}", f"555123{n}", v)
        await wait_until(lambda: sim.stats.calls_ended == 6)
        await c.sync()
        mine = c.events()
        await c.close()
    for n in plan:
        for suffix in ("", "-2"):
            assert_same_sequence(channel_sequence(real, f"dlr-1795355666-{n}{suffix}"),
                                 channel_sequence(mine, f"dlr-x-{n}{suffix}"),
                                 f"call {n}{suffix}")
    _check_reasons(mine, {"0": ("Success", "4"), "1": ("Failure", "5"), "2": ("Failure", "3"),
                          "3": ("Failure", "0"), "4": ("Failure", "8"), "5": ("Success", "4")})
    _check_causes(real, "dlr-1795355666-", mine, "dlr-x-")


async def test_six_outcomes_pjsip_match_capture() -> None:
    real = events(transcript("02-events-pjsip-loop.txt"))
    plan = {
        "0": {"SIM_RESULT": "human", "SIM_RING": "4", "SIM_TALK": "7"},
        "1": {"SIM_RESULT": "busy", "SIM_RING": "1"},
        "2": {"SIM_RESULT": "no_answer"},
        "3": {"SIM_RESULT": "no_answer", "SIM_RING": "10"},
        "4": {"SIM_RESULT": "congestion", "SIM_RING": "0"},
        "5": {"SIM_RESULT": "machine", "SIM_RING": "2", "SIM_TALK": "5"},
    }
    async with PbxSimulator(sim_config()) as sim:
        c = await RawAMI.connect(sim.port)
        await _add_agents(c, ["1001", "1002"])
        for n, v in plan.items():
            _originate(c, f"dlr-p-{n}", f"555123{n}", v, channel=f"PJSIP/555123{n}@loop")
        await wait_until(lambda: sim.stats.calls_ended == 6)
        await c.sync()
        mine = c.events()
        await c.close()
    for n in plan:
        assert_same_sequence(channel_sequence(real, f"dlr-1795355728-{n}"),
                             channel_sequence(mine, f"dlr-p-{n}"), f"pjsip call {n}")
    _check_reasons(mine, {"0": ("Success", "4"), "1": ("Failure", "0"), "2": ("Failure", "3"),
                          "3": ("Failure", "0"), "4": ("Failure", "0"), "5": ("Success", "4")},
                   prefix="dlr-p-")
    _check_causes(real, "dlr-1795355728-", mine, "dlr-p-", halves=("",))


def _check_reasons(mine: list[TMessage], expected: dict[str, tuple[str, str]],
                   prefix: str = "dlr-x-") -> None:
    for n, (resp, reason) in expected.items():
        (ev,) = [m for m in mine if m.kind == "OriginateResponse"
                 and m.get("Uniqueid") == f"{prefix}{n}"]
        assert (ev.get("Response"), ev.get("Reason")) == (resp, reason), n
        if resp == "Failure":
            assert "@" in (ev.get("Channel") or "") and "-0000" not in (ev.get("Channel") or "")


def _check_causes(real: list[TMessage], rprefix: str, mine: list[TMessage], mprefix: str,
                  halves: tuple[str, ...] = ("", "-2")) -> None:
    def causes(evs: list[TMessage], prefix: str) -> dict[str, str | None]:
        return {m.get("Uniqueid", "")[len(prefix):]: m.get("Cause")  # type: ignore[index]
                for m in evs if m.kind == "Hangup" and (m.get("Uniqueid") or "").startswith(prefix)}
    rc, mc = causes(real, rprefix), causes(mine, mprefix)
    for n in range(6):
        for h in halves:
            assert mc[f"{n}{h}"] == rc[f"{n}{h}"], f"Hangup Cause of {n}{h}"


async def test_agent_pool_calls_match_capture() -> None:
    """03-01: customers att-A/B/C answered, queued, connected to pool agents, talk, end."""
    real = events(transcript("03-01-agent-pool.txt"))
    async with PbxSimulator(sim_config(agents=3)) as sim:
        c = await RawAMI.connect(sim.port)
        await _add_agents(c, ["1001", "1002", "1003"])
        for cid, n in (("att-A", "5551230"), ("att-B", "5551231"), ("att-C", "5551232")):
            # att-B's agent ended the call with '*' in the capture (still Reason caller)
            _originate(c, cid, n, {"SIM_RESULT": "human", "SIM_RING": "1", "SIM_TALK": "10",
                                   "SIM_PATIENCE": "100",
                                   "SIM_AGENT_ENDS": "1" if cid == "att-B" else ""})
        await wait_until(lambda: sim.stats.calls_ended == 3)
        await c.sync()
        mine = c.events()
        await c.close()
    for cid in ("att-A", "att-B", "att-C"):
        assert_same_sequence(channel_sequence(real, cid), channel_sequence(mine, cid), cid)
    # AgentComplete names the agent by MemberName/Interface, as in the capture
    done = [m for m in mine if m.kind == "AgentComplete"]
    assert {m.get("MemberName") for m in done} <= {"Agent/1001", "Agent/1002", "Agent/1003"}
    assert all(m.get("Interface", "").endswith("@agent-request") for m in done)  # type: ignore[union-attr]
    assert all(m.get("Reason") == "caller" for m in done)
    # agent legs share the customer's Linkedid
    legs = [m for m in mine if m.kind == "Newchannel"
            and "@agent-request" in (m.get("Channel") or "")]
    assert {m.get("Linkedid") for m in legs} == {"att-A", "att-B", "att-C"}


async def test_abandon_safe_harbour_and_amd_match_capture() -> None:
    """03-02: AMD person/machine (DialerAMD), queue timeout -> safe harbour -> DialerOptOut."""
    real = events(transcript("03-02-abandon-safe-harbour-amd.txt"))
    async with PbxSimulator(sim_config(agents=0)) as sim:
        c = await RawAMI.connect(sim.port)
        common = {"DIALER_QUEUE_TIMEOUT": "2", "SIM_RING": "1", "SIM_PATIENCE": "100"}
        _originate(c, "att-q", "5551232", {**common, "SIM_RESULT": "human",
                                           "DIALER_ATTEMPT": "att-q", "SIM_OPTOUT": ""})
        _originate(c, "att-m", "5551239", {**common, "SIM_RESULT": "machine",
                                           "DIALER_AMD": "yes", "SIM_AMD": "MACHINE"})
        _originate(c, "att-h2", "5551231", {**common, "SIM_RESULT": "human", "DIALER_AMD": "yes",
                                            "SIM_AMD": "HUMAN", "SIM_OPTOUT": "9",
                                            "DIALER_ATTEMPT": "att-h2"})
        await wait_until(lambda: sim.stats.calls_ended == 3)
        await c.sync()
        mine = c.events()
        await c.close()
    for cid in ("att-q", "att-m", "att-h2"):
        sim_seq = [e for e in channel_sequence(mine, cid) if e != "UserEvent/DialerQueueResult"]
        assert_same_sequence(channel_sequence(real, cid), sim_seq, cid)
    opt = {m.get("AttemptId"): m.get("Digit") for m in mine if m.kind == "UserEvent/DialerOptOut"}
    assert opt == {"att-q": "", "att-h2": "9"}
    amd = {m.get("Uniqueid"): m.get("Status") for m in mine if m.kind == "UserEvent/DialerAMD"}
    assert amd == {"att-m": "MACHINE", "att-h2": "HUMAN"}
    qr = [m for m in mine if m.kind == "UserEvent/DialerQueueResult"]
    assert {m.get("AttemptId") for m in qr} == {"att-q", "att-h2"}
    assert {m.get("QueueStatus") for m in qr} == {"TIMEOUT"}


async def test_caller_hangup_in_queue_match_capture() -> None:
    """03-03: dialer hangs up a waiting customer (att-w); a customer hangs up (att-x)."""
    real = events(transcript("03-03-caller-hangup-in-queue.txt"))
    async with PbxSimulator(sim_config(agents=0)) as sim:
        c = await RawAMI.connect(sim.port)
        _originate(c, "att-w", "5551230", {"SIM_RESULT": "human", "SIM_RING": "1",
                                           "SIM_PATIENCE": "1000", "DIALER_QUEUE_TIMEOUT": "1000"})
        _originate(c, "att-x", "5551231", {"SIM_RESULT": "human", "SIM_RING": "1",
                                           "SIM_PATIENCE": "1", "DIALER_QUEUE_TIMEOUT": "30"})
        join = await c.wait_for(lambda m: m.event == "QueueCallerJoin"
                                and m.get("Uniqueid") == "att-w")
        r = await c.action("Hangup", Channel=join["Channel"], Cause="16")
        assert r.get("Message") == "Channel Hungup"
        await wait_until(lambda: sim.stats.calls_ended == 2)
        await c.sync()
        mine = c.events()
        await c.close()
    for cid in ("att-w", "att-x"):
        assert_same_sequence(channel_sequence(real, cid), channel_sequence(mine, cid), cid)
        assert_same_sequence(channel_sequence(real, cid + "-2"),
                             channel_sequence(mine, cid + "-2"), cid + "-2")


# ------------------------------------------------------------------ literal replay: errors
_SKIP_ERRORS = {
    "a-24", "a-26", "a-27", "a-41",  # PlayDTMF / Getvar / Setvar: not simulated
    "a-33",  # static member of the rig's "sales" queue
    "a-44", "a-45",  # agent softphone login via agent-login-ctx (the simulator logs agents in)
}


async def test_error_texts_replayed_literally() -> None:
    """03-05: send the captured actions as they are and compare Response + Message."""
    msgs = transcript("03-05-errors.txt")
    expected: dict[str, tuple[str | None, str | None]] = {}
    for m in msgs:
        if not m.sent and m.headers[0][0] == "Response" and m.get("ActionID"):
            expected.setdefault(m.get("ActionID") or "", (m.get("Response"), m.get("Message")))
    # That rig's [dialer-connect] had one extension per queue (not the shipped pattern).
    async with PbxSimulator(sim_config(agents=5, connect_any_exten=False)) as sim:
        conns: dict[str, RawAMI] = {}
        checked = 0
        for m in msgs:
            if not m.sent:
                continue
            aid = m.get("ActionID") or ""
            if m.conn not in conns:
                conns[m.conn] = await RawAMI.connect(sim.port, login=False)
            c = conns[m.conn]
            headers = list(m.headers)
            if m.get("Action") == "Login":
                user = m.get("Username")
                secret = "dialer" if user == "dialerq" and m.conn != "B" else "wrong"
                headers = [(k, "dialer" if k == "Username" and v == "dialerq" else v)
                           for k, v in headers if k != "Secret"] + [("Secret", secret)]
            c.send_raw(headers)
            if aid in _SKIP_ERRORS or aid not in expected:
                await c.response(aid) if aid not in _SKIP_ERRORS else None
                continue
            resp = await c.response(aid)
            want = expected[aid]
            if m.get("Action") == "CoreSettings":
                assert resp.get("Response") == want[0]
                continue
            assert (resp.get("Response"), resp.get("Message")) == want, (aid, m.headers)
            checked += 1
        for c in conns.values():
            await c.close()
    assert checked >= 40


# ------------------------------------------------------------------ field names and order
async def test_every_emitted_message_has_the_captured_field_order() -> None:
    variants = field_variants()
    seen: dict[str, set[tuple[str, ...]]] = {}
    cfg = sim_config(agents=3, world=WorldModel(human_rate=0.5, machine_rate=0.1,
                                                busy_rate=0.1, congestion_rate=0.1,
                                                invalid_rate=0.1))
    async with PbxSimulator(cfg) as sim:
        sim.on_event_bytes(lambda b: _note(seen, to_tmessage(parse_message(b))))
        c = await RawAMI.connect(sim.port)
        await _add_agents(c, ["1001", "1002"])
        await c.action("QueuePause", Queue="campaign1", Interface="Local/1002@agent-request",
                       Paused="true", Reason="break")
        await c.action("QueuePause", Queue="campaign1", Interface="Local/1002@agent-request",
                       Paused="false")
        for i in range(40):
            v = {"DIALER_QUEUE_TIMEOUT": "3", "DIALER_ATTEMPT": f"a{i:03d}", "SIM_TALK": "4"}
            if i % 3 == 0:
                v["DIALER_AMD"] = "yes"
            tech = f"PJSIP/55500{i:02d}@carrier" if i % 4 == 0 else None
            _originate(c, f"a{i:03d}", f"55500{i:02d}", v, channel=tech)
        await wait_until(lambda: sim.stats.calls_ended >= 40)
        # list actions while something is going on
        _originate(c, "talk1", "5550100", {"SIM_RESULT": "human", "SIM_TALK": "1000",
                                           "SIM_RING": "0"})
        _originate(c, "wait1", "5550101", {"SIM_RESULT": "human", "SIM_PATIENCE": "1000",
                                           "SIM_RING": "0", "DIALER_QUEUE_TIMEOUT": "1000"})
        _originate(c, "wait2", "5550102", {"SIM_RESULT": "human", "SIM_PATIENCE": "1000",
                                           "SIM_RING": "0", "DIALER_QUEUE_TIMEOUT": "1000"})
        await wait_until(lambda: sum(len(q.waiting) for q in sim.queues.values()) >= 1)
        # Each list's Complete event by the ActionID its response carried (the last message
        # read may be another call's event by the time the list ends).
        for action in ("CoreShowChannels", "QueueStatus", "QueueSummary", "Agents", "Status"):
            aid = (await c.action(action)).get("ActionID")
            await c.wait_for(lambda m, aid=aid: (m.event or "").endswith("Complete")
                             and m.get("ActionID") == aid)
        await c.action("UserEvent", UserEvent="")  # as captured in 03-05
        await c.action("AgentLogoff", Agent="1001")
        aid = (await c.action("Agents")).get("ActionID")  # 1001 now AGENT_LOGGEDOFF (the short item of 03-04)
        await c.wait_for(lambda m: m.event == "AgentsComplete" and m.get("ActionID") == aid)
        sim.agent_login("1001")  # his softphone calls in again: AgentLogin
        await c.wait_for(lambda m: m.event == "AgentLogin")
        await c.action("QueueRemove", Queue="campaign1", Interface="Local/1001@agent-request")
        await sim.shutdown(restart=True)
        for m in c.messages:
            if m.event is not None and ("Privilege" not in m or m.event == "Status"):
                _note(seen, to_tmessage(m))
        await c.close()
    missing = set(seen) - set(variants) - NOT_IN_CAPTURES
    assert not missing, f"emitted but never captured: {missing}"
    for kind, names in seen.items():
        if kind in NOT_IN_CAPTURES:
            continue
        extra = CONTRACT_EXTRA.get(kind, set())
        for n in names:
            n = tuple(x for x in n if x not in extra)
            assert n in variants[kind], f"{kind}: field order {n} not in captures"
    for must in ("Newchannel", "Hangup", "OriginateResponse", "QueueCallerJoin", "AgentConnect",
                 "AgentComplete", "QueueMemberStatus", "QueueMemberPause", "AgentLogoff", "AgentLogin",
                 "CoreShowChannel", "QueueMember", "QueueEntry", "QueueParams", "Agents",
                 "Status", "Shutdown", "UserEvent/DialerOptOut", "UserEvent/DialerAMD",
                 "QueueCallerAbandon", "BridgeEnter"):
        assert must in seen, must


async def test_a_logged_off_agent_stays_a_member_unavailable_until_queueremove() -> None:
    """As in 03-01: AgentLogoff (fields Agent, Logintime), then the member turns Status 5
    and stays in the queue until QueueRemove; AgentLogin brings it back to Status 1."""
    async with PbxSimulator(sim_config(agents=2)) as sim:
        c = await RawAMI.connect(sim.port)
        await _add_agents(c, ["1001", "1002"])
        member = sim.queues["campaign1"].members["Local/1001@agent-request"]
        await wait_until(lambda: member.status == 1)
        await c.action("AgentLogoff", Agent="1001")
        logoff = await c.wait_for(lambda m: m.event == "AgentLogoff")
        assert logoff.get("Agent") == "1001" and (logoff.get("Logintime") or "").isdigit()
        status = await c.wait_for(lambda m: m.event == "QueueMemberStatus" and m.get("MemberName") == "Agent/1001"
                                  and m.get("Status") == "5")
        assert status.get("Queue") == "campaign1"
        assert "Local/1001@agent-request" in sim.queues["campaign1"].members
        sim.agent_login("1001")
        login = await c.wait_for(lambda m: m.event == "AgentLogin")
        assert login.get("Agent") == "1001" and login.get("Channel", "").startswith("Local/1001@agent-login-ctx-")
        await wait_until(lambda: member.status == 1)
        await c.close()


def _note(seen: dict[str, set[tuple[str, ...]]], m: TMessage) -> None:
    names = m.names[1:]
    if m.kind == "FullyBooted" or not names:
        return
    seen.setdefault(m.kind, set()).add(names)


@pytest.mark.parametrize("user,secret", [("dialer", "wrong"), ("nosuchuser", "dialer")])
async def test_bad_login_same_text_and_closed(user: str, secret: str) -> None:
    async with PbxSimulator(sim_config()) as sim:
        c = await RawAMI.connect(sim.port, login=False)
        r = await c.action("Login", Username=user, Secret=secret)
        assert (r.get("Response"), r.get("Message")) == ("Error", "Authentication failed")
        await c.closed.wait()
        assert c.banner == "Asterisk Call Manager/11.0.0"


# ------------------------------------------------------------------ channel list during calls
def _channel_shapes(items: list[TMessage], roles: dict[str, str]) -> dict[str, set[tuple[str, ...]]]:
    """Per role (customer talking / waiting, agent talking / idle), what the engine reads
    from a CoreShowChannel item, with ids, numbers and agent names abstracted away."""
    bridges: dict[str, list[TMessage]] = {}
    for m in items:
        if m.get("BridgeId"):
            bridges.setdefault(m.get("BridgeId") or "", []).append(m)
    out: dict[str, set[tuple[str, ...]]] = {}
    for m in items:
        uid = m.get("Uniqueid") or ""
        agent = m.get("Exten") or ""
        partners = [p for p in bridges.get(m.get("BridgeId") or "", []) if p is not m]
        apps = sorted({p.get("Application") or "" for p in partners})
        if uid in roles:
            role = roles[uid]
        elif uid.startswith("agentphone-") and uid.endswith("-2"):
            role = "agent talking" if "Queue" in apps else "agent idle"
        else:
            continue
        linked = m.get("Linkedid") or ""
        shape = (
            m.get("ChannelState") or "", m.get("ChannelStateDesc") or "", m.get("Context") or "",
            (m.get("Priority") or ""), m.get("Application") or "",
            (m.get("ApplicationData") or "").replace(agent, "<agent>"),
            "bridge:" + ",".join(apps),
            "linked:" + ("self" if linked == uid else "agentphone" if linked.startswith("agentphone-") else "other"),
            "connected-line:" + ("agent" if m.get("ConnectedLineName", "").startswith("Agent ") else "customer"),
        )
        out.setdefault(role, set()).add(shape)
    return out


async def test_core_show_channels_during_calls_match_capture() -> None:
    """03-04: the channel list with one customer talking to Agent/1001 (bridged with the
    agent's AgentLogin channel, Linkedid and connected line taken from the agent), two
    customers waiting in Queue (no bridge) and idle agents in the holding bridge: the
    simulator lists the same fields and values for each, which the engine's restart
    recovery reads."""
    msgs = transcript("03-04-list-actions-resync.txt")
    real_items = [m for m in msgs if m.kind == "CoreShowChannel" and m.get("ActionID") == "a-19"]
    real = _channel_shapes(real_items, {"att-l": "customer talking", "att-w1": "customer waiting",
                                        "att-w2": "customer waiting"})
    async with PbxSimulator(sim_config(agents=3)) as sim:
        c = await RawAMI.connect(sim.port)
        await _add_agents(c, ["1001"])
        _originate(c, "att-l", "5551231", {"SIM_RESULT": "human", "SIM_RING": "0", "SIM_TALK": "1000",
                                           "DIALER_QUEUE_TIMEOUT": "30"})
        await wait_until(lambda: "att-l" in sim.calls and bool(sim.calls["att-l"].connected_at)
                         and sim.calls["att-l"].agent_req1 is None)  # agent-request pair optimised away
        for cid, n in (("att-w1", "5551232"), ("att-w2", "5551233")):
            _originate(c, cid, n, {"SIM_RESULT": "human", "SIM_RING": "0", "SIM_PATIENCE": "1000",
                                   "DIALER_QUEUE_TIMEOUT": "30"})
        await wait_until(lambda: sum(len(q.waiting) for q in sim.queues.values()) == 2)
        r = await c.action("CoreShowChannels")
        aid = r.get("ActionID")
        await c.wait_for(lambda m: m.get("Event") == "CoreShowChannelsComplete" and m.get("ActionID") == aid)
        mine = [to_tmessage(m) for m in c.messages if m.get("Event") == "CoreShowChannel"
                and m.get("ActionID") == aid]
        await c.close()
    sim_shapes = _channel_shapes(mine, {"att-l": "customer talking", "att-w1": "customer waiting",
                                        "att-w2": "customer waiting"})
    assert set(sim_shapes) == set(real) == {"customer talking", "customer waiting", "agent talking",
                                            "agent idle"}
    for role, shapes in real.items():
        assert sim_shapes[role] == shapes, f"{role}:\n real {shapes}\n sim  {sim_shapes[role]}"


async def test_core_show_channels_while_ringing_as_measured() -> None:
    """A ringing Originate as a real Asterisk 22.10.1 with asterisk-conf's sim-pstn listed it
    (measured 2026-11-30; not in the captures): ours Ringing in AppDial2, the far half Ring."""
    measured = {
        "ours": ("5", "Ringing", "sim-pstn", "5551236", "1", "AppDial2", "(Outgoing Line)", "", "probe-ring"),
        "far": ("4", "Ring", "sim-pstn", "5551236", "Wait", "", "probe-ring"),
    }
    async with PbxSimulator(sim_config()) as sim:
        c = await RawAMI.connect(sim.port)
        _originate(c, "probe-ring", "5551236", {"SIM_RESULT": "no_answer"})
        await wait_until(lambda: "probe-ring" in sim.calls and sim.calls["probe-ring"].ch1 is not None
                         and sim.calls["probe-ring"].ch1.state == 5)
        r = await c.action("CoreShowChannels")
        aid = r.get("ActionID")
        await c.wait_for(lambda m: m.get("Event") == "CoreShowChannelsComplete" and m.get("ActionID") == aid)
        items = {m.get("Uniqueid"): m for m in c.messages if m.get("Event") == "CoreShowChannel"
                 and m.get("ActionID") == aid}
        await c.close()
    ours, far = items["probe-ring"], items["probe-ring-2"]
    assert tuple(ours.get(k) for k in ("ChannelState", "ChannelStateDesc", "Context", "Exten", "Priority",
                                       "Application", "ApplicationData", "BridgeId", "Linkedid")) == measured["ours"]
    assert tuple(far.get(k) for k in ("ChannelState", "ChannelStateDesc", "Context", "Exten", "Application",
                                      "BridgeId", "Linkedid")) == measured["far"]
