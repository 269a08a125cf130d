"""The exporter over real HTTP, checked against rows in call_attempts."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from dialer.db.database import Database
from dialer.outputs.metrics import (
    METRIC_NAMES,
    DialerMetrics,
    parse_exposition,
    safe_label,
    window_label,
)
from tests.metrics.rows import add_attempt, add_campaign

NOW = datetime(2026, 6, 10, 14, 40, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int, path: str = "/metrics") -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return head.split("\r\n")[0], body


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def seed(db: Database) -> None:
    sales = await add_campaign(db, "sales", regulation="us")
    survey = await add_campaign(db, "survey", regulation="uk")

    async def call(cid: int, outcome: str, at: datetime, *, answer: float | None = None,
                   queue: float | None = None, connect: float | None = None, length: timedelta = M) -> None:
        await add_attempt(
            db, cid, outcome=outcome, originated_at=at,
            answered_at=None if answer is None else at + answer * S,
            queued_at=None if queue is None else at + queue * S,
            connected_at=None if connect is None else at + connect * S,
            ended_at=at + length,
        )

    t = NOW
    # sales, last hour: A answered+connected, B no answer, C abandoned, D busy
    await call(sales, "answered", t - 5 * M, answer=10, connect=11)             # A
    await call(sales, "no_answer", t - 10 * M)                                  # B
    await call(sales, "abandoned", t - 20 * M, answer=10)                       # C
    await call(sales, "busy", t - 50 * M)                                       # D (before 14:00)
    await call(sales, "answered", t - 70 * M, answer=5, connect=6)              # E (over an hour ago)
    await call(sales, "answered", t - timedelta(days=10), answer=5, connect=6)  # F
    await call(sales, "answered", t - timedelta(days=5), answer=5, connect=8)   # I: late connect (3 s)
    await call(sales, "abandoned", t - timedelta(days=40), answer=5)            # G: out of 30 days
    await call(sales, "machine", t - timedelta(days=2), answer=5)               # H: US ignores machines
    # J: AMD took 4 s, then the agent 1 s after the queue join: no abandon (the wait runs from the join)
    await call(sales, "answered", t - timedelta(days=3), answer=5, queue=9, connect=10)
    # K, L: hung up 1 s after joining the queue: abandons all the same (they never reached an agent)
    for days in (4, 6):
        await call(sales, "queue_hangup", t - timedelta(days=days), answer=5, queue=5.5, length=6.5 * S)
    # one attempt still ringing: counts as originated, not as ended
    await add_attempt(db, sales, outcome=None, originated_at=t - 30 * S)
    # survey (UK, 24 h, AMD false positives 2%): 3 answered, 1 abandoned, 10 machines
    for i in range(3):
        await call(survey, "answered", t - (3 + i) * timedelta(hours=1), answer=3, connect=4)
    await call(survey, "abandoned", t - 2 * timedelta(hours=1), answer=3)
    for i in range(10):
        await call(survey, "machine", t - (i + 1) * timedelta(hours=2), answer=3)
    await call(survey, "abandoned", t - timedelta(hours=30), answer=3)  # outside 24 h


async def test_scrape_matches_attempts_table(db: Database) -> None:
    await seed(db)
    clock = [NOW.timestamp()]
    metrics = DialerMetrics(clock=lambda: clock[0])
    figures = await metrics.recompute_from_database(db)
    assert {(f.campaign, f.window) for f in figures} == {("sales", "30d"), ("survey", "24h")}
    port = await metrics.start(0, host="127.0.0.1")
    try:
        status, body = await scrape(port)
        assert status == "HTTP/1.1 200 OK"
        samples = parse_exposition(body)
        # hourly volume: this clock hour (14:00-14:40) A, B, C and the ringing call; last 60 min adds D
        assert value(samples, "dialer_calls_this_hour", campaign="sales") == 4
        assert value(samples, "dialer_calls_last_60m", campaign="sales") == 5
        # connect rate: ended in 15 min: A, B; in 1 h: A, B, C, D
        assert value(samples, "dialer_connect_rate", campaign="sales", window="15m", kind="answered") == 0.5
        assert value(samples, "dialer_connect_rate", campaign="sales", window="15m", kind="connected") == 0.5
        assert value(samples, "dialer_connect_rate", campaign="sales", window="1h", kind="answered") == 0.5
        assert value(samples, "dialer_connect_rate", campaign="sales", window="1h", kind="connected") == 0.25
        # US 30 d: live A C E F I J K L = 8; abandons C, I (connected 3 s after answer), K, L = 4
        assert value(samples, "dialer_abandon_rate", campaign="sales", window="30d") == pytest.approx(4 / 8)
        assert value(samples, "dialer_abandon_cap", campaign="sales") == 0.03
        # UK 24 h: N = 1 + 10 x 0.02, D = 4 + 10 x 0.02
        assert value(samples, "dialer_abandon_rate", campaign="survey", window="24h") == pytest.approx(1.2 / 4.2)
        assert value(samples, "dialer_calls_this_hour", campaign="survey") == 0
        assert value(samples, "dialer_connect_rate", campaign="survey", window="1h", kind="answered") == 0.0

        # live events after the restore slide the same windows
        clock[0] += 60
        metrics.attempt_originated("sales")
        metrics.originate_roundtrip(0.02)
        metrics.call_answered("sales", ring_seconds=7.0)
        metrics.human_answered("sales")
        metrics.agent_connected("sales", time_to_agent_seconds=0.6)
        metrics.attempt_ended("sales", "answered", talk_seconds=95.0)
        metrics.attempt_ended("sales", "opt_out")
        metrics.attempt_ended("sales", "no_answer")
        metrics.set_agents({"ready": 3, "on_call": 2})
        metrics.set_agents({"ready": 4})
        metrics.set_calls("sales", {"ringing": 6, "queued": 1})
        metrics.set_dial_level("sales", 2.5)
        metrics.set_hopper_depth("sales", 40)
        metrics.set_dialable_contacts("sales", 1200)
        metrics.set_ami_up(True)
        metrics.ami_reconnected()
        samples = parse_exposition((await scrape(port))[1])
        assert value(samples, "dialer_calls_this_hour", campaign="sales") == 5
        # 15 min window now: A, B + answered, opt_out, no_answer -> answered 3/5, connected 2/5
        assert value(samples, "dialer_connect_rate", campaign="sales", window="15m", kind="answered") == 3 / 5
        assert value(samples, "dialer_connect_rate", campaign="sales", window="15m", kind="connected") == 2 / 5
        assert value(samples, "dialer_attempts_total", campaign="sales", outcome="answered") == 1
        assert value(samples, "dialer_attempts_total", campaign="sales", outcome="opt_out") == 1
        assert value(samples, "dialer_abandons_total", campaign="sales") == 1
        assert value(samples, "dialer_opt_outs_total", campaign="sales") == 1
        assert value(samples, "dialer_answers_total", campaign="sales") == 1
        assert value(samples, "dialer_human_answers_total", campaign="sales") == 1
        assert value(samples, "dialer_agent_connects_total", campaign="sales") == 1
        assert value(samples, "dialer_time_to_agent_seconds_bucket", campaign="sales", le="1.0") == 1
        assert value(samples, "dialer_time_to_agent_seconds_bucket", campaign="sales", le="0.5") == 0
        assert value(samples, "dialer_ring_seconds_sum", campaign="sales") == 7.0
        assert value(samples, "dialer_talk_seconds_count", campaign="sales") == 1
        assert value(samples, "dialer_originate_roundtrip_seconds_count") == 1
        assert value(samples, "dialer_agents", state="ready") == 4
        assert value(samples, "dialer_agents", state="on_call") == 0
        assert value(samples, "dialer_calls", campaign="sales", state="ringing") == 6
        assert value(samples, "dialer_dial_level", campaign="sales") == 2.5
        assert value(samples, "dialer_hopper_depth", campaign="sales") == 40
        assert value(samples, "dialer_dialable_contacts", campaign="sales") == 1200
        assert value(samples, "dialer_ami_up") == 1
        assert value(samples, "dialer_ami_reconnects_total") == 1

        # an hour later the restored figures have slid out of the windows
        clock[0] += 3600
        samples = parse_exposition((await scrape(port))[1])
        assert value(samples, "dialer_calls_last_60m", campaign="sales") == 0
        assert value(samples, "dialer_connect_rate", campaign="sales", window="1h", kind="answered") == 0.0

        assert (await scrape(port, "/nothing"))[0] == "HTTP/1.1 404 Not Found"
    finally:
        await metrics.stop()


def family_names(body: str) -> set[str]:
    # `<counter>_created` series are prometheus_client's standard start-time companions
    return {m[1] for m in re.finditer(r"^# TYPE (\S+) ", body, re.M) if not m[1].endswith("_created")}


async def test_exports_exactly_the_documented_names() -> None:
    metrics = DialerMetrics()
    metrics.attempt_ended("sales", "busy")
    names = family_names(metrics.render().decode())
    # the exposition names counters without `_total` in TYPE lines
    assert {n if n in METRIC_NAMES else f"{n}_total" for n in names} == METRIC_NAMES


PERSONAL = re.compile(r"\d{6,}|[0-9a-f]{8}-[0-9a-f]{4}|\+")


async def test_label_values_are_never_numbers_names_or_attempt_ids() -> None:
    metrics = DialerMetrics()
    attempt_id = "2f1e7c4a-9b1d-4c55-8d0e-0a1b2c3d4e5f"
    for campaign in ("sales", "+13055550123", "13055550123", attempt_id, "Alice Agent", "sales-2026"):
        metrics.attempt_originated(campaign)
        metrics.call_answered(campaign, ring_seconds=3)
        metrics.agent_connected(campaign, time_to_agent_seconds=1)
        metrics.attempt_ended(campaign, "answered", talk_seconds=30)
        metrics.set_calls(campaign, {"ringing": 1})
        metrics.set_abandon(campaign, timedelta(days=30), 0.01, 0.03)
    metrics.attempt_ended("sales", "+13055550123")  # not an outcome
    metrics.set_agents({"ready": 1, "Alice Agent": 1, "1001": 1})
    body = metrics.render().decode()
    label_values = set(re.findall(r'="([^"]*)"', body))
    assert label_values, "no labels at all?"
    assert {"sales", "sales-2026", "invalid", "answered", "unknown", "ready", "30d"} <= label_values
    for label in label_values:
        if label.replace(".", "").replace("e+", "").isdigit() or label == "+Inf":
            continue  # histogram bucket bounds (le="0.5", le="+Inf")
        assert not PERSONAL.search(label), label
        assert " " not in label and label == label.lower(), label
    assert safe_label("+13055550123") == "invalid"
    assert safe_label("1001") == "1001"  # short ids like a state code pass; agents never label


async def test_logged_out_agents_are_not_counted() -> None:
    """dialer_agents counts logged-in agents: with everyone logged out it sums to 0 (what
    DialerNoAgents looks for), and a state nobody is in any more reads 0."""
    metrics = DialerMetrics()
    metrics.set_agents({"ready": 2, "on_call": 1, "logged_out": 1})
    samples = parse_exposition(metrics.render().decode())
    agents = {labels: v for (name, labels), v in samples.items() if name == "dialer_agents"}
    assert agents == {(("state", "ready"),): 2, (("state", "on_call"),): 1}
    metrics.set_agents({"logged_out": 4})
    samples = parse_exposition(metrics.render().decode())
    assert sum(v for (name, _), v in samples.items() if name == "dialer_agents") == 0


def test_window_labels() -> None:
    assert window_label(timedelta(days=30)) == "30d"
    assert window_label(timedelta(hours=24)) == "24h"
    assert window_label(timedelta(minutes=90)) == "90m"
