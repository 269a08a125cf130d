"""ami.protocol and ami.events without sockets."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ami.events import AgentComplete, OriginateResponse, RawEvent, UserEvent, to_event
from ami.protocol import MalformedMessage, MessageReader, encode_action, parse_message

keys = st.from_regex(r"[A-Za-z][A-Za-z0-9\-]{0,15}", fullmatch=True)
values = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).filter(
    lambda v: "\r" not in v and "\n" not in v and v == v.strip(" ") or v == "")


@given(st.lists(st.tuples(keys, values), min_size=0, max_size=12))
def test_roundtrip_keeps_order_and_repeats(pairs: list[tuple[str, str]]) -> None:
    headers = [("Event", "Test"), *pairs]
    msg = parse_message(encode_action(headers))
    assert msg.headers == headers
    for k, v in headers:
        assert msg.getall(k)[0] == msg[k] == next(x for kk, x in headers if kk == k)
        assert v in msg.getall(k)


def test_repeated_headers_and_empty_values() -> None:
    raw = (b"Event: Status\r\nChannel: X\r\nVariable: A=1\r\nVariable: B=2\r\n"
           b"AccountCode: \r\nDigit:\r\n\r\n")
    msg = parse_message(raw)
    assert msg.getall("Variable") == ["A=1", "B=2"] and msg["Variable"] == "A=1"
    assert msg["AccountCode"] == "" and msg["Digit"] == ""
    assert msg.keys() == ["Event", "Channel", "Variable", "Variable", "AccountCode", "Digit"]


@pytest.mark.parametrize("raw", [b"garbage without separator\r\n\r\n", b"\r\n\r\n",
                                 b"Foo: bar\r\n\r\n", b"\x00\xff%%%\r\nno: x\r\n\r\n"])
def test_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(raw)


async def test_reader_skips_malformed_and_keeps_utf8() -> None:
    r = asyncio.StreamReader()
    data = ("Asterisk Call Manager/11.0.0\r\nGARBLED\r\n\r\n"
            "Event: UserEvent\r\nUserEvent: X\r\nName: Müller\r\n\r\n").encode()
    cut = data.index("ü".encode()) + 1
    mr = MessageReader(r)
    r.feed_data(data[:cut])
    assert await mr.read_banner() == "Asterisk Call Manager/11.0.0"
    task = asyncio.ensure_future(mr.next())
    await asyncio.sleep(0)
    assert not task.done()  # waits for the rest of the frame
    r.feed_data(data[cut:])
    msg = await task
    assert msg["Name"] == "Müller" and mr.skipped == 1


def test_typed_events() -> None:
    ev = to_event(parse_message(b"Event: OriginateResponse\r\nActionID: a-1\r\nResponse: Failure"
                                b"\r\nChannel: Local/1@sim-pstn\r\nReason: 5\r\nUniqueid: u1\r\n\r\n"))
    assert isinstance(ev, OriginateResponse)
    assert (ev.success, ev.reason, ev.uniqueid, ev.action_id) == (False, 5, "u1", "a-1")
    ev2 = to_event(parse_message(b"Event: AgentComplete\r\nQueue: q\r\nInterface: Local/1001@"
                                 b"agent-request\r\nMemberName: Agent/1001\r\nTalkTime: 14\r\n"
                                 b"Reason: caller\r\n\r\n"))
    assert isinstance(ev2, AgentComplete)
    assert (ev2.queue, ev2.member_name, ev2.talk_time, ev2.uniqueid) == ("q", "Agent/1001", 14,
                                                                         None)
    ev3 = to_event(parse_message(b"Event: UserEvent\r\nUniqueid: u\r\nUserEvent: DialerOptOut\r\n"
                                 b"AttemptId: a\r\nDigit: \r\n\r\n"))
    assert isinstance(ev3, UserEvent) and ev3.fields == {"AttemptId": "a", "Digit": ""}
    assert isinstance(to_event(parse_message(b"Event: Cdr\r\nX: 1\r\n\r\n")), RawEvent)
