#!/usr/bin/env python3
"""AMI benchmarks: client parse rate and simulator load.

    .venv/bin/python scripts/bench_ami.py parse   [--repeat 40]
    .venv/bin/python scripts/bench_ami.py load    [--rate 100 --target 2000 --duration 40]

parse: the received side of every real transcript in ../shared/ami-transcripts/ is
replayed over a local TCP socket by a separate server process, as fast as it can write;
the client process (one core, uvloop) reads it (a) with `ami.protocol.MessageReader`
alone and (b) with the full `AMIClient` (reader task, typed events, one subscriber
queue drained by a consumer task). Rate = events / wall time from the first byte to the
last event; CPU seconds of the client process are shown beside it.

load: the simulator runs in its own process at time scale 1 (real time); this process
drives it with `AMIClient`, originating at ``--rate`` per second (answer share, ring,
talk and patience from the world model below, plenty of agents) until ``--duration``
seconds have passed, and samples CoreStatus CoreCurrentCalls. Reported: originations/s
achieved, peak concurrent calls, the simulator process's CPU, events/s received.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvloop  # noqa: E402

from ami import actions as A  # noqa: E402
from ami.client import AMIClient, ClientConfig  # noqa: E402
from ami.protocol import MessageReader  # noqa: E402

TRANSCRIPTS = Path(os.environ.get(
    "AMI_TRANSCRIPTS", Path(__file__).resolve().parents[2] / "shared" / "ami-transcripts"))


# ------------------------------------------------------------------ parse benchmark
def transcript_stream() -> tuple[bytes, int]:
    """The received messages of every transcript as AMI wire bytes, and the event count."""
    blocks: list[str] = []
    events = 0
    for path in sorted(TRANSCRIPTS.glob("0*.txt")):
        if "summary" in path.name:
            continue
        cur: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(("#", ">>> ")) or line.startswith("Asterisk Call Manager/"):
                continue
            if line == "":
                if cur:
                    if not cur[0].startswith("Response:"):
                        events += cur[0].startswith("Event:")
                        blocks.append("\r\n".join(cur) + "\r\n\r\n")
                    cur = []
                continue
            cur.append(line)
    return "".join(blocks).encode("utf-8"), events


def _blaster(port_q: mp.Queue, payload: bytes, repeat: int, with_login: bool) -> None:  # type: ignore[type-arg]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
    if with_login:
        buf = b""
        while b"Action: Login" not in buf:
            data = conn.recv(65536)
            buf += data
            if b"Action: Challenge" in buf and b"Challenge: 1" not in buf:
                aid = buf.split(b"ActionID: ", 1)[1].split(b"\r\n", 1)[0]
                conn.sendall(b"Response: Success\r\nActionID: " + aid + b"\r\nChallenge: 1\r\n\r\n")
                buf += b"Challenge: 1"
        while not buf.endswith(b"\r\n\r\n"):
            buf += conn.recv(65536)
        aid = buf.rsplit(b"ActionID: ", 1)[1].split(b"\r\n", 1)[0]
        conn.sendall(b"Response: Success\r\nActionID: " + aid +
                     b"\r\nMessage: Authentication accepted\r\n\r\n")
    for _ in range(repeat):
        conn.sendall(payload)
    conn.sendall(b"Event: UserEvent\r\nUserEvent: BenchEnd\r\n\r\n")
    time.sleep(1.0)
    conn.close()


def _start_blaster(payload: bytes, repeat: int, with_login: bool) -> tuple[mp.Process, int]:
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    p = mp.Process(target=_blaster, args=(q, payload, repeat, with_login), daemon=True)
    p.start()
    return p, q.get()


async def parse_reader_only(port: int) -> tuple[int, float, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    mr = MessageReader(reader)
    await mr.read_banner()
    n = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    while True:
        msg = await mr.next()
        if msg.event == "UserEvent" and msg.get("UserEvent") == "BenchEnd":
            break
        n += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    writer.close()
    return n, wall, cpu


async def parse_full_client(port: int) -> tuple[int, float, float]:
    client = AMIClient(ClientConfig(port=port, ping_interval=3600, reconnect_min=60))
    done = asyncio.Event()
    count = 0
    sub = client.subscribe(maxsize=0)

    async def consume() -> None:
        nonlocal count
        while True:
            for ev in await sub.get_many():
                # touch a field, as a consumer correlating by Linkedid would
                if ev.get("Linkedid") is None and ev.get("UserEvent") == "BenchEnd":
                    done.set()
                    return
                count += 1

    task = asyncio.create_task(consume())
    await client.connect()
    t0 = time.perf_counter()
    c0 = time.process_time()
    await done.wait()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    task.cancel()
    await client.close()
    return count, wall, cpu


def bench_parse(repeat: int) -> None:
    payload, per_copy = transcript_stream()
    print(f"transcripts: {per_copy} events, {len(payload) / 1e6:.2f} MB per copy; "
          f"replayed {repeat}x")
    for label, fn, login in (("MessageReader (framing + parse)", parse_reader_only, False),
                             ("AMIClient (reader + typed events + subscriber)",
                              parse_full_client, True)):
        proc, port = _start_blaster(payload, repeat, login)
        n, wall, cpu = uvloop.run(fn(port))
        proc.join(5)
        print(f"{label}: {n} messages in {wall:.2f} s wall, {cpu:.2f} s CPU "
              f"-> {n / wall:,.0f} events/s (CPU-bound rate {n / cpu:,.0f}/s)")


# ------------------------------------------------------------------ load benchmark
def _run_sim(port_q: mp.Queue, agents: int, seed: int) -> None:  # type: ignore[type-arg]
    from ami.simulator import PbxSimulator, SimConfig
    from pacing.world import Duration, WorldModel

    world = WorldModel(human_rate=0.55, machine_rate=0.1, busy_rate=0.08, congestion_rate=0.02,
                       invalid_rate=0.05, answer_ring=Duration.uniform(3, 15),
                       talk=Duration.exponential(60.0), wrap=Duration.fixed(3.0),
                       patience=Duration.exponential(120.0))

    async def main() -> None:
        sim = PbxSimulator(SimConfig(world=world, agents=agents, seed=seed, time_scale=1.0,
                                     member_ready_delay=0.0, queue_timeout=60.0))
        await sim.start()
        port_q.put(sim.port)
        await asyncio.Event().wait()

    uvloop.run(main())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive_load(port: int, pid: int, rate: float, duration: float, agents: int) -> None:
    client = AMIClient(ClientConfig(port=port, username="dialer", secret="dialer",
                                    action_timeout=30, originate_margin=120, ping_interval=5))
    events = 0

    def count(_: object) -> None:
        nonlocal events
        events += 1

    client.subscribe(callback=count, maxsize=1_000_000)
    await client.connect()
    for i in range(agents):
        a = str(1001 + i)
        await client.queue_add("campaign1", f"Local/{a}@agent-request",
                               member_name=f"Agent/{a}", state_interface=f"Agent:{a}")
    outcomes: list[asyncio.Task[object]] = []
    peak = 0
    sent = 0
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds(pid)
    ev0 = events
    next_sample = t0
    samples: list[tuple[float, int]] = []

    async def one(i: int) -> object:
        h = await client.originate(A.OriginateRequest(
            channel=f"Local/555{i:07d}@sim-pstn", channel_id=f"load-{i:09d}",
            context="dialer-connect", exten="campaign1", timeout_ms=25000,
            variables={"DIALER_ATTEMPT": f"load-{i:09d}", "DIALER_QUEUE_TIMEOUT": "60"}))
        return await h.outcome()

    while True:
        now = time.perf_counter()
        elapsed = now - t0
        if elapsed >= duration:
            break
        due = int(elapsed * rate) + 1
        while sent < due:
            outcomes.append(asyncio.create_task(one(sent)))
            sent += 1
        if now >= next_sample:
            st = await client.send(A.core_status())
            cur = int(st.get("CoreCurrentCalls") or 0)
            peak = max(peak, cur)
            samples.append((elapsed, cur))
            next_sample = now + 1.0
        await asyncio.sleep(0.005)
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds(pid) - cpu0
    nev = events - ev0
    errors = sum(1 for t in outcomes if t.done() and t.exception() is not None)
    for t in outcomes:
        t.cancel()
    print(f"originated {sent} in {wall:.1f} s = {sent / wall:.1f}/s; "
          f"peak concurrent calls {peak}; originate errors {errors}")
    print(f"simulator process CPU {cpu:.1f} s over {wall:.1f} s = {100 * cpu / wall:.0f}% "
          f"of one core; events received {nev} = {nev / wall:,.0f}/s")
    print("concurrency samples (s, calls):",
          " ".join(f"{s:.0f}:{c}" for s, c in samples[:: max(1, len(samples) // 12)]))
    await client.close()


def bench_load(rate: float, duration: float, agents: int, seed: int) -> None:
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    proc = mp.Process(target=_run_sim, args=(q, agents, seed), daemon=True)
    proc.start()
    port = q.get()
    try:
        assert proc.pid is not None
        uvloop.run(drive_load(port, proc.pid, rate, duration, agents))
    finally:
        proc.terminate()
        proc.join(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("parse")
    p.add_argument("--repeat", type=int, default=40)
    lo = sub.add_parser("load")
    lo.add_argument("--rate", type=float, default=100.0)
    lo.add_argument("--duration", type=float, default=45.0)
    lo.add_argument("--agents", type=int, default=1500)
    lo.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.what == "parse":
        bench_parse(args.repeat)
    else:
        bench_load(args.rate, args.duration, args.agents, args.seed)


if __name__ == "__main__":
    main()
