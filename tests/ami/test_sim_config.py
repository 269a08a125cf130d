"""04-queue-config: the simulator answers UpdateConfig, QueueReload, Reload, QueueStatus and
a Queue() into a missing queue as the real Asterisk did, field for field."""

from __future__ import annotations

from ami import dialplan
from ami.protocol import Message
from ami.simulator import PbxSimulator, SimConfig
from pacing.world import Duration, WorldModel
from tests.ami.rawclient import RawAMI
from tests.ami.transcripts import TMessage, transcript

CAPTURE = "04-queue-config.txt"
NEW_QUEUE = "spring-renewals"


def _config(**extra: object) -> SimConfig:
    base: dict[str, object] = dict(time_scale=50.0, seed=3, agents=1, member_ready_delay=0.0,
                                   number_plan="last-digit", safe_harbour_time=1.0,
                                   queues=("campaign1", "sales", "survey"),
                                   world=WorldModel(wrap=Duration.fixed(1.0)))
    base.update(extra)
    return SimConfig(**base)  # type: ignore[arg-type]


def _responses(msgs: list[TMessage]) -> dict[str, TMessage]:
    return {m.get("ActionID") or "": m for m in msgs
            if not m.sent and m.headers[0][0] == "Response" and m.get("ActionID")}


def _weights(items: list[Message | TMessage], aid: str) -> list[str | None]:
    return [m.get("Weight") for m in items if m.get("Event") == "QueueParams" and m.get("ActionID") == aid]


async def test_config_actions_replayed_literally() -> None:
    """Every action of the capture (but Setvar, a real-dialplan knob) gets the same Response
    and Message, headers in the same order; QueueStatus shows the queue and its weight
    exactly when the real one did."""
    msgs = transcript(CAPTURE)
    real = _responses(msgs)
    async with PbxSimulator(_config()) as sim:
        ami = await RawAMI.connect(sim.port, login=False)
        checked = 0
        try:
            for m in msgs:
                if not m.sent or m.get("Action") in ("Setvar", "Originate"):
                    continue
                aid = m.get("ActionID") or ""
                ami.send_raw(list(m.headers))
                got = await ami.response(aid)
                want = real[aid]
                assert [k for k, _ in got.headers] == [k for k, _ in want.headers], (aid, got.headers)
                assert (got.get("Response"), got.get("Message")) == (want.get("Response"), want.get("Message")), aid
                if m.get("Action") == "QueueStatus":
                    await ami.wait_for(lambda x, a=aid: x.event == "QueueStatusComplete" and x.get("ActionID") == a)
                    assert _weights(list(ami.messages), aid) == _weights(list(msgs), aid), aid
                checked += 1
            reloads = [x for x in ami.messages if x.event == "Reload"]
            real_reloads = [x for x in msgs if x.kind == "Reload"]
            assert [(x.get("Module"), x.get("Status")) for x in reloads] == \
                [(x.get("Module"), x.get("Status")) for x in real_reloads]
            assert [k for k, _ in reloads[0].headers] == list(real_reloads[0].names)
        finally:
            await ami.close()
        assert sim.queues[NEW_QUEUE].weight == 8
    assert checked >= 18


async def test_queue_into_a_missing_queue_plays_the_safe_harbour_message() -> None:
    """Originate into a queue app_queue lacks: accepted, the customer answers, DialerQueueResult
    says UNKNOWN (no Queue* event), then the opt-out offer, as captured."""
    msgs = transcript(CAPTURE)
    real_users = [m for m in msgs if m.kind.startswith("UserEvent/")]
    originate = next(m for m in msgs if m.sent and m.get("Action") == "Originate")
    async with PbxSimulator(_config()) as sim:
        ami = await RawAMI.connect(sim.port)
        try:
            ami.send_raw(list(originate.headers))
            response = await ami.response(originate.get("ActionID") or "")
            assert response.get("Message") == "Originate successfully queued"
            await ami.wait_for(lambda x: x.get("UserEvent") == dialplan.USEREVENT_OPT_OUT)
        finally:
            await ami.close()
    users = [x for x in ami.messages if x.event == "UserEvent"]
    assert [(x.get("UserEvent"), x.get("QueueStatus")) for x in users] == \
        [(x.get("UserEvent"), x.get("QueueStatus")) for x in real_users]
    assert [k for k, _ in users[0].headers] == list(real_users[0].names)
    assert not [x for x in ami.messages if (x.event or "").startswith("QueueCaller")]


async def test_without_the_config_class_updates_are_refused_and_the_file_survives_a_restart() -> None:
    async with PbxSimulator(_config(config_write=False)) as sim:
        ami = await RawAMI.connect(sim.port)
        try:
            refused = await ami.action("UpdateConfig", SrcFilename=dialplan.QUEUE_FILE,
                                       DstFilename=dialplan.QUEUE_FILE, extra=[
                                           ("Action-000000", "NewCat"), ("Cat-000000", NEW_QUEUE)])
            assert (refused.get("Response"), refused.get("Message")) == ("Error", "Permission denied")
        finally:
            await ami.close()
    async with PbxSimulator(_config()) as sim:
        ami = await RawAMI.connect(sim.port)
        try:
            await ami.action("UpdateConfig", SrcFilename=dialplan.QUEUE_FILE, DstFilename=dialplan.QUEUE_FILE,
                             extra=[("Action-000000", "NewCat"), ("Cat-000000", NEW_QUEUE),
                                    ("Options-000000", f'inherit="{dialplan.QUEUE_TEMPLATE}"')])
            await ami.action("QueueReload", Queue=NEW_QUEUE, Parameters="yes")
            assert NEW_QUEUE in sim.queues
        finally:
            await ami.close()
        await sim.shutdown(restart=True)
        assert NEW_QUEUE in sim.queues, "queues_dialer.conf is a file: it outlives a restart"
