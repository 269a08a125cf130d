"""AMIClient against the PBX simulator over real TCP sockets on 127.0.0.1.

No timed assertions: waits have generous limits only so that a bug fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ami import actions as A
from ami.client import (
    ActionFailed,
    ActionTimeout,
    AMIClient,
    AsteriskShuttingDown,
    AuthenticationError,
    ClientConfig,
    ConnectionLost,
    ConnectionState,
    ListIncomplete,
    OriginateOutcomeUnknown,
    ResyncSnapshot,
)
from ami.events import (
    AgentConnect,
    Event,
    Hangup,
    OriginateResponse,
    QueueCallerJoin,
    RawEvent,
    Shutdown,
    UserEvent,
)
from ami.ids import ActionIdGenerator, fixed_width_id, ids_collide, new_channel_id
from ami.simulator import PbxSimulator, SimConfig
from pacing.world import Duration, WorldModel
from tests.ami.rawclient import wait_until

SCALE = 50.0


def cfg(port: int, **kw: object) -> ClientConfig:
    base: dict[str, object] = dict(port=port, username="dialer", secret="dialer",
                                   reconnect_min=0.02, reconnect_max=0.2, ping_interval=30.0)
    base.update(kw)
    return ClientConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
async def sim() -> AsyncIterator[PbxSimulator]:
    config = SimConfig(time_scale=SCALE, seed=5, agents=2, member_ready_delay=0.0,
                       world=WorldModel(wrap=Duration.fixed(1.0)))
    async with PbxSimulator(config) as s:
        yield s


@pytest.fixture
async def client(sim: PbxSimulator) -> AsyncIterator[AMIClient]:
    c = AMIClient(cfg(sim.port))
    await c.connect()
    yield c
    await c.close()


def req(cid: str, **variables: str) -> A.OriginateRequest:
    return A.OriginateRequest(channel="Local/5551234@sim-pstn", channel_id=cid,
                              context="dialer-connect", exten="campaign1", timeout_ms=20000,
                              caller_id='"Dialer" <5551234>', variables=variables)


async def next_event(sub: object, pred: object, limit: float = 20.0) -> Event:
    async def scan() -> Event:
        while True:
            ev = await sub.get()  # type: ignore[attr-defined]
            if pred(ev):  # type: ignore[operator]
                return ev
    return await asyncio.wait_for(scan(), limit)


async def add_agents(c: AMIClient, ids: tuple[str, ...] = ("1001", "1002")) -> None:
    for a in ids:
        await c.queue_add("campaign1", f"Local/{a}@agent-request", member_name=f"Agent/{a}",
                          state_interface=f"Agent:{a}")


# ------------------------------------------------------------------ login
@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_login_plain_and_md5(sim: PbxSimulator, auth: str) -> None:
    c = AMIClient(cfg(sim.port, auth=auth))
    states: list[ConnectionState] = []
    c.on_state(lambda s, e: states.append(s))
    await c.connect()
    assert c.banner == "Asterisk Call Manager/11.0.0"
    assert c.state is ConnectionState.CONNECTED
    pong = await c.ping()
    assert pong.get("Ping") == "Pong"
    await c.close()
    assert states[:3] == [ConnectionState.CONNECTING, ConnectionState.SYNCING, ConnectionState.CONNECTED]
    assert states[-1] is ConnectionState.CLOSED
    assert sim.stats.actions["challenge" if auth == "md5" else "login"] == 1


async def test_wrong_secret_raises_and_is_not_retried(sim: PbxSimulator) -> None:
    c = AMIClient(cfg(sim.port, secret="nope"))
    with pytest.raises(AuthenticationError):
        await c.connect()
    assert c.state is ConnectionState.AUTH_FAILED
    await asyncio.sleep(0.3)  # several reconnect intervals: nothing may happen
    assert sim.stats.failed_logins == 1
    assert sim.stats.connections == 1
    await c.close()


async def test_connect_without_retry_reports_refusal() -> None:
    c = AMIClient(cfg(1))
    with pytest.raises(OSError):
        await c.connect(retry=False)
    await c.close()


# ------------------------------------------------------------------ originate
async def test_originate_outcomes_and_typed_events(sim: PbxSimulator, client: AMIClient) -> None:
    await add_agents(client)
    sub = client.subscribe({"Hangup", "QueueCallerJoin", "AgentConnect", "OriginateResponse"})
    ok = await client.originate(req("att-ok", SIM_RESULT="human", SIM_RING="1", SIM_TALK="2"))
    busy = await client.originate(req("att-busy", SIM_RESULT="busy", SIM_RING="0"))
    assert ok.queued is not None and ok.queued.get("Message") == "Originate successfully queued"
    o1, o2 = await ok.outcome(), await busy.outcome()
    assert (o1.success, o1.reason, o1.uniqueid, o1.ours) == (True, 4, "att-ok", True)
    assert (o2.success, o2.reason, o2.channel) == (False, 5, "Local/5551234@sim-pstn")
    join = await next_event(sub, lambda e: isinstance(e, QueueCallerJoin))
    assert isinstance(join, QueueCallerJoin) and join.linkedid == "att-ok" and join.queue == "campaign1"
    conn = await next_event(sub, lambda e: isinstance(e, AgentConnect))
    assert isinstance(conn, AgentConnect) and conn.member_name in ("Agent/1001", "Agent/1002")
    hang = await next_event(sub, lambda e: isinstance(e, Hangup) and e.uniqueid == "att-ok")
    assert isinstance(hang, Hangup) and hang.cause == 16 and hang.cause_txt == "Normal Clearing"
    assert sim.stats.originates == 2


async def test_originate_error_reply_raises_without_outcome(client: AMIClient) -> None:
    # A context with no such extension (the shipped [dialer-connect] pattern takes any queue
    # name; 03-05 a-8: a missing context gets the same refusal).
    bad = A.OriginateRequest(channel="Local/1@sim-pstn", channel_id="att-e",
                             context="no-such-context", exten="nosuchqueue")
    with pytest.raises(ActionFailed) as err:
        await client.originate(bad)
    assert err.value.message == "Extension does not exist."
    assert client.pending_originates == 0


async def test_channel_id_prefix_collision_fails_with_reason_0(client: AMIClient) -> None:
    long_ring = await client.originate(req("c-37", SIM_RESULT="no_answer"))
    clash = await client.originate(req("c-3", SIM_RESULT="human"))
    out = await clash.outcome()
    assert (out.success, out.reason, out.uniqueid) == (False, 0, "c-37")
    assert ids_collide("c-3", "c-37") and not ids_collide(fixed_width_id("c-", 3),
                                                          fixed_width_id("c-", 37))
    await client.hangup("Local/5551234@sim-pstn-" + "0" * 7 + "2;1")  # c-37 rings on
    assert not (await long_ring.outcome()).success


async def test_foreign_originate_response_is_ignored(sim: PbxSimulator, client: AMIClient) -> None:
    other = AMIClient(cfg(sim.port))
    await other.connect()
    mine = client.subscribe({"OriginateResponse"})
    h = await other.originate(req("att-foreign", SIM_RESULT="busy", SIM_RING="0"))
    out = await h.outcome()
    seen = await next_event(mine, lambda e: isinstance(e, OriginateResponse))
    assert isinstance(seen, OriginateResponse)
    assert seen.action_id == h.action_id and seen.ours is False and out.ours is True
    assert client.pending_originates == 0
    assert not client.ids.owns(h.action_id) and other.ids.owns(h.action_id)
    await other.close()


async def test_outcome_deadline_is_ring_timeout_plus_margin(client: AMIClient) -> None:
    r = A.OriginateRequest(channel="Local/5@sim-pstn", channel_id="att-slow",
                           context="dialer-connect", exten="campaign1", timeout_ms=100_000,
                           variables={"SIM_RESULT": "no_answer"})
    h = await client.originate(r, outcome_margin=-99.9)
    with pytest.raises(OriginateOutcomeUnknown):
        await h.outcome()


# ------------------------------------------------------------------ actions
async def test_action_timeout_then_late_response_is_dropped(sim: PbxSimulator,
                                                            client: AMIClient) -> None:
    sim.response_delay = 0.3
    with pytest.raises(ActionTimeout):
        await client.send(A.ping(), deadline=0.05)
    sim.response_delay = 0.0
    await asyncio.sleep(0.35)
    assert (await client.ping()).get("Response") == "Success"
    assert client.pending_actions == 0


async def test_list_actions_and_list_errors(sim: PbxSimulator, client: AMIClient) -> None:
    await add_agents(client)
    items = await client.queue_status("campaign1")
    assert [m.get("Event") for m in items] == ["QueueParams", "QueueMember", "QueueMember"]
    assert await client.queue_status("nosuchqueue") == []
    chans = await client.core_show_channels()
    assert {m.get("Uniqueid") for m in chans} >= {"agentphone-1001", "agentphone-1002"}
    with pytest.raises(ActionFailed) as err:
        await client.send_list(A.status("Local/nosuch@sim-pstn-00000099;1"))
    assert err.value.message == "No such channel"
    with pytest.raises(ActionFailed):
        await client.queue_remove("campaign1", "Local/1009@agent-request")
    ok = await client.queue_pause("Local/1001@agent-request", True, reason="break")
    assert ok.get("Message") == "Interface paused successfully"


# ------------------------------------------------------------------ resilience
async def test_garbled_message_is_skipped(sim: PbxSimulator, client: AMIClient) -> None:
    sub = client.subscribe({"UserEvent"})
    sim.send_garbled()
    await client.user_event("AfterGarbage", [("Foo", "bar")])
    ev = await next_event(sub, lambda e: isinstance(e, UserEvent))
    assert isinstance(ev, UserEvent) and ev.user_event == "AfterGarbage"
    assert ev.fields["Foo"] == "bar"
    assert client.skipped_messages >= 1 and client.connected


async def test_failing_and_slow_consumers_do_not_stall_the_reader(client: AMIClient) -> None:
    calls: list[str] = []

    def boom(ev: Event) -> None:
        calls.append(ev.name)
        raise RuntimeError("consumer bug")

    client.subscribe(callback=boom)
    slow = client.subscribe(maxsize=2)  # never read
    good = client.subscribe({"UserEvent"})
    for i in range(20):
        await client.user_event("Tick", [("N", str(i))])
    got = [await next_event(good, lambda e: True) for _ in range(20)]
    assert [e.get("N") for e in got] == [str(i) for i in range(20)]
    assert slow.dropped >= 18 and slow.queue.qsize() == 2
    await wait_until(lambda: len(calls) >= 20)
    assert client.connected and (await client.ping()).get("Response") == "Success"


async def test_reconnect_mid_call_fails_pending_and_resyncs(sim: PbxSimulator) -> None:
    c = AMIClient(cfg(sim.port))
    snaps: list[ResyncSnapshot] = []

    async def hook(s: ResyncSnapshot) -> None:
        snaps.append(s)

    c.set_resync_hook(hook)
    await c.connect()
    await add_agents(c)
    sub = c.subscribe({"AgentConnect"})
    outcomes = c.subscribe({"OriginateResponse"})
    talking = await c.originate(req("att-talk", SIM_RESULT="human", SIM_RING="0",
                                    SIM_TALK="1000"))
    assert (await talking.outcome()).success
    await next_event(sub, lambda e: isinstance(e, AgentConnect))
    ringing = await c.originate(req("att-ring", SIM_RESULT="no_answer"))
    sim.response_delay = 0.5
    pending = asyncio.create_task(c.ping(deadline=5.0))
    await asyncio.sleep(0.05)
    sim.drop_connections()
    sim.response_delay = 0.0
    with pytest.raises(ConnectionLost):
        await pending
    with pytest.raises(OriginateOutcomeUnknown):
        await ringing.outcome()
    await wait_until(lambda: c.connected and len(snaps) == 2)
    assert [s.reconnect for s in snaps] == [False, True]
    live = {m.get("Uniqueid") for m in snaps[1].channels}
    assert {"att-talk", "att-ring"} <= live
    assert {m.get("Name") for m in snaps[1].queue_members} == {"Agent/1001", "Agent/1002"}
    assert sim.stats.originates == 2  # nothing was re-sent
    assert sim.stats.actions["ping"] == 1
    assert c.connections == 2
    # The ringing call's OriginateResponse is broadcast to the new session too: the
    # engine can still adopt it by Uniqueid (its handle has already failed as unknown).
    late = await next_event(outcomes, lambda e: isinstance(e, OriginateResponse)
                            and e.uniqueid == "att-ring")
    assert isinstance(late, OriginateResponse)
    assert late.ours is True and late.action_id == ringing.action_id and late.reason == 3
    await c.close()


async def test_not_connected_until_the_resync_hook_has_finished(sim: PbxSimulator) -> None:
    """Calls placed between a reconnect and the end of the resync would be reconciled
    against a snapshot that cannot contain them: until the hook is done the client says
    SYNCING and ``connected`` is False (the engine places nothing), on every connect."""
    c = AMIClient(cfg(sim.port))
    states: list[ConnectionState] = []
    c.on_state(lambda s, e: states.append(s))
    release = asyncio.Event()
    seen: list[tuple[bool, ConnectionState, bool]] = []
    failures = [1]  # the first hook run fails: it is retried, still SYNCING

    async def hook(s: ResyncSnapshot) -> None:
        seen.append((s.reconnect, c.state, c.connected))
        if failures:
            failures.pop()
            raise RuntimeError("database briefly down")
        await release.wait()

    c.set_resync_hook(hook)
    connecting = asyncio.create_task(c.connect())
    await wait_until(lambda: len(seen) == 2)
    assert not connecting.done() and c.state is ConnectionState.SYNCING and not c.connected
    assert seen == [(False, ConnectionState.SYNCING, False)] * 2
    release.set()
    await asyncio.wait_for(connecting, 10)
    assert c.state is ConnectionState.CONNECTED and c.connected
    release.clear()
    sim.drop_connections()
    await wait_until(lambda: len(seen) == 3)
    assert seen[2] == (True, ConnectionState.SYNCING, False)
    assert ConnectionState.CONNECTED not in states[states.index(ConnectionState.DISCONNECTED):]
    release.set()
    await wait_until(lambda: c.connected)
    assert states.count(ConnectionState.CONNECTED) == 2
    assert all(b is ConnectionState.CONNECTED for a, b in zip(states, states[1:], strict=False)
               if a is ConnectionState.SYNCING and b is not ConnectionState.DISCONNECTED)
    await c.close()


async def test_silent_connection_is_detected_by_ping(sim: PbxSimulator) -> None:
    c = AMIClient(cfg(sim.port, ping_interval=0.05, ping_timeout=0.1, connect_timeout=0.2))
    states: list[ConnectionState] = []
    c.on_state(lambda s, e: states.append(s))
    await c.connect()
    sim.silent = True
    await wait_until(lambda: ConnectionState.DISCONNECTED in states)
    sim.silent = False
    await wait_until(lambda: c.connected and c.connections >= 2)
    await c.close()


async def test_graceful_restart(sim: PbxSimulator) -> None:
    c = AMIClient(cfg(sim.port))
    states: list[ConnectionState] = []
    c.on_state(lambda s, e: states.append(s))
    await c.connect()
    sub = c.subscribe({"Shutdown"})
    h = await c.originate(req("att-live", SIM_RESULT="human", SIM_RING="0", SIM_TALK="1000"))
    await h.outcome()
    stop = asyncio.create_task(sim.shutdown(restart=True, grace=5.0))
    await wait_until(lambda: sim.shutting_down)
    with pytest.raises(AsteriskShuttingDown):
        await c.ping()
    await stop
    ev = await next_event(sub, lambda e: isinstance(e, Shutdown))
    assert isinstance(ev, Shutdown) and ev.restart and ev.shutdown == "Cleanly"
    await wait_until(lambda: c.connected and c.connections == 2)
    assert ConnectionState.SHUTTING_DOWN in states
    # after a restart the dynamic members are gone: the engine must re-add them
    assert [m.get("Event") for m in await c.queue_status("campaign1")] == ["QueueParams"]
    assert h.done()
    await c.close()


# ------------------------------------------------------------------ a hand-made server
async def _fake_server(script: list[bytes], pause: float = 0.05
                       ) -> tuple[asyncio.Server, int]:
    """Banner, accept Challenge/Login, then write `script` chunk by chunk."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(Exception):
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                lines = dict(x.split(": ", 1) for x in raw.decode().split("\r\n") if ": " in x)
                aid = lines.get("ActionID", "")
                if lines.get("Action") == "Challenge":
                    writer.write(f"Response: Success\r\nActionID: {aid}\r\n"
                                 f"Challenge: 1\r\n\r\n".encode())
                elif lines.get("Action") == "Login":
                    writer.write(f"Response: Success\r\nActionID: {aid}\r\n"
                                 f"Message: Authentication accepted\r\n\r\n".encode())
                    for chunk in script:
                        await writer.drain()
                        await asyncio.sleep(pause)
                        writer.write(chunk)
                elif lines.get("Action") == "CoreShowChannels":
                    writer.write(
                        f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
                        f"Message: Channels will follow\r\n\r\nEvent: CoreShowChannel\r\n"
                        f"ActionID: {aid}\r\nChannel: X\r\n\r\nEvent: CoreShowChannelsComplete"
                        f"\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
                        .encode())

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_utf8_split_across_reads_is_kept() -> None:
    event = "Event: UserEvent\r\nUserEvent: Name\r\nWho: Müller Ørsted 東京\r\n\r\n".encode()
    cut = event.index("ü".encode()) + 1  # in the middle of the two-byte ü
    cut2 = event.index("東".encode()) + 2
    server, port = await _fake_server([event[:cut], event[cut:cut2], event[cut2:]])
    c = AMIClient(cfg(port))
    sub = c.subscribe({"UserEvent"})
    await c.connect()
    ev = await next_event(sub, lambda e: True)
    assert ev.get("Who") == "Müller Ørsted 東京"
    await c.close()
    server.close()


async def test_list_items_mismatch_is_an_error() -> None:
    server, port = await _fake_server([])
    c = AMIClient(cfg(port))
    await c.connect()
    with pytest.raises(ListIncomplete):
        await c.core_show_channels()
    await c.close()
    server.close()


async def test_unknown_events_stay_raw(sim: PbxSimulator, client: AMIClient) -> None:
    sub = client.subscribe({"HangupRequest"})
    h = await client.originate(req("att-raw", SIM_RESULT="no_answer", SIM_RING="0.1"))
    await h.outcome()
    ev = await next_event(sub, lambda e: True)
    assert isinstance(ev, RawEvent) and ev.get("Cause") == "19"


def test_action_ids_unique_across_generators() -> None:
    a, b = ActionIdGenerator(), ActionIdGenerator()
    ids = {a() for _ in range(1000)} | {b() for _ in range(1000)}
    assert len(ids) == 2000 and a.prefix != b.prefix
    assert len(new_channel_id()) == 36
    with pytest.raises(ValueError):
        A.originate(A.OriginateRequest(channel="Local/1@x", channel_id="c", context="x",
                                       exten="y", timeout_ms=0))
    act = A.originate(A.OriginateRequest(channel="Local/1@x", channel_id="c", context="x",
                                         exten="y", timeout_ms=30000,
                                         variables={"A": "1", "B": "2"}))
    assert ("Timeout", "30000") in act.headers and ("Async", "true") in act.headers
    assert [v for k, v in act.headers if k == "Variable"] == ["A=1", "B=2"]
