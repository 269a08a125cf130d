"""What a restarted engine (perhaps under another id) makes of what the previous run left:
connected calls awaiting their decision, and the abandonment ledger."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ami.simulator import PbxSimulator
from compliance.abandonment import connect_wait_s
from compliance.outcomes import Outcome
from dialer.engine.call_life import Call, ClosedCall
from dialer.engine.runner import CampaignRunner
from dialer.engine.store import ContactDecision, EngineStore, NewAttempt
from tests.engine.harness import (
    campaign_state,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)

# A connected call of an earlier run (engine "old"), ended, its disposition given or not.
_LEFT_BY_OLD = """
WITH picked AS (SELECT id, campaign_id, number FROM contacts ORDER BY id LIMIT $1)
INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id, originated_at,
                           answered_at, queued_at, connected_at, ended_at, outcome, agent_id, disposition,
                           disposition_at, disposition_by)
SELECT gen_random_uuid(), campaign_id, id, number, 1, 'old', now() - interval '3 min',
       now() - interval '170 s', now() - interval '165 s', now() - interval '164 s', now() - interval '100 s',
       'answered', '1001', $2::text, CASE WHEN $2::text IS NULL THEN NULL ELSE now() END,
       CASE WHEN $2::text IS NULL THEN NULL ELSE '1001' END
FROM picked
"""


async def _leave_connected_calls(url: str, count: int, disposition: str | None) -> None:
    await fetchval(url, "INSERT INTO engines (id, host, pid, started_at, heartbeat_at) VALUES"
                   " ('old', 'gone', 1, now() - interval '1 hour', now() - interval '1 hour')"
                   " ON CONFLICT DO NOTHING RETURNING 1")
    await fetchval(url, _LEFT_BY_OLD, count, disposition)
    await fetchval(url, "UPDATE contacts SET state = 'in_call', attempts = 1, claimed_by = 'old'"
                   " WHERE id IN (SELECT contact_id FROM call_attempts) RETURNING 1")


async def test_a_restart_under_another_id_settles_the_old_runs_dispositions(database_url: str, tmp_path: Path) -> None:
    """The previous run (engine "old") left a dispositioned call undecided: the new engine
    applies it and the campaign completes instead of waiting for that contact forever."""
    name = await make_campaign(database_url, tmp_path, numbers(12), agents=3)
    await _leave_connected_calls(database_url, 2, "success")
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "new")
        task = asyncio.create_task(engine.run())
        try:

            async def finished() -> bool:
                return await campaign_state(database_url, name) == "completed"

            await wait_for(finished, 90, "the campaign to complete")
        finally:
            engine.request_stop()
            await task
    old = await fetch(database_url, "SELECT decided_at, disposition, c.state FROM call_attempts a"
                      " JOIN contacts c ON c.id = a.contact_id WHERE a.engine_id = 'old'")
    assert len(old) == 2
    assert all(r["decided_at"] is not None and r["disposition"] == "success" for r in old)
    assert all(r["state"] == "done" for r in old), [r["state"] for r in old]


async def test_two_engines_settle_each_call_exactly_once(database_url: str, tmp_path: Path) -> None:
    await make_campaign(database_url, tmp_path, numbers(30))
    await _leave_connected_calls(database_url, 30, None)  # no disposition: overdue, system one
    stores = [EngineStore(database_url, "east"), EngineStore(database_url, "west")]
    seen: dict[str, list[str]] = {"east": [], "west": []}

    def decider(engine_id: str) -> Any:
        async def decide(rows: list[Any], _histories: Any) -> list[ContactDecision]:
            await asyncio.sleep(0.3)  # hold the claim while the other engine looks
            seen[engine_id].extend(str(r["id"]) for r in rows)
            return [ContactDecision(str(r["id"]), r["contact_id"], "done", None, "answered") for r in rows]

        return decide

    for store in stores:
        await store.open()
    try:
        # Small batches, so both engines take part.
        async def settle(store: EngineStore) -> None:
            while await store.settle_undecided(1.0, decider(store.engine_id), "no_disposition", limit=4):
                pass

        await asyncio.gather(*(settle(store) for store in stores))
    finally:
        for store in stores:
            await store.close()
    east, west = set(seen["east"]), set(seen["west"])
    assert east and west, "both engines settled some"
    assert not east & west, "a call was settled twice"
    assert len(seen["east"]) + len(seen["west"]) == 30
    rows = await fetch(database_url, "SELECT decided_at, disposition, disposition_by FROM call_attempts")
    assert all(r["decided_at"] is not None for r in rows)
    assert {(r["disposition"], r["disposition_by"]) for r in rows} == {("no_disposition", "system")}


async def test_the_ledger_rebuilt_at_start_measures_the_connect_wait_as_the_live_path(
    database_url: str, tmp_path: Path
) -> None:
    """An AMD call: answered, 4 s of detection, queued, connected 1 s later. Live, that is
    a 1 s connect wait (no abandon); rebuilt from the database at start it must be too."""
    await make_campaign(database_url, tmp_path, numbers(3), regulation="uk", amd=True)
    ended = datetime.now(UTC) - timedelta(minutes=5)
    answered = ended - timedelta(seconds=60)
    queued, connected = answered + timedelta(seconds=4), answered + timedelta(seconds=5)
    campaign_id = await fetchval(database_url, "SELECT id FROM campaigns")
    contact_id, number = (await fetch(database_url, "SELECT id, number FROM contacts LIMIT 1"))[0]
    await fetchval(
        database_url,
        "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id, originated_at,"
        " answered_at, queued_at, connected_at, ended_at, outcome, decided_at)"
        " VALUES ($1, $2, $3, $4, 1, 'old', $5, $5, $6, $7, $8, 'answered', $8) RETURNING 1",
        uuid.uuid4(), campaign_id, contact_id, number, answered, queued, connected, ended,
    )
    # The live path on the same call (engine clock: seconds).
    live = Call("a", campaign_id, contact_id, number, "c1", 0.0, answered_at=0.0, queued_at=4.0,
                connected_at=5.0, ended_at=60.0)
    assert ClosedCall(live, Outcome.ANSWERED).time_to_agent_s == 1.0
    assert connect_wait_s(answered, queued, connected) == 1.0
    assert connect_wait_s(answered, None, connected) == 5.0  # queue join unknown: from the answer

    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "ledger")
        await engine.store.open()
        try:
            row = await engine.store.campaign(campaign_id)
            runner = CampaignRunner(engine, campaign_id, row["name"], "running", row["settings"])
            await runner.start()
        finally:
            await engine.store.close()
    snapshot = runner.ledger.snapshot(datetime.now(UTC))
    assert snapshot.denominator >= 1, "the answered call is in the ledger"
    assert snapshot.numerator == 0, "the AMD call counted as an abandon after a restart"


async def test_settling_another_engines_attempt_keeps_the_recovery_wait_and_foreign_claims(
    database_url: str, tmp_path: Path
) -> None:
    """A stalled engine's attempt, closed as unknown by recovery, is settled later by any
    engine: the decision must not shorten the wait recovery imposed (the call may still be
    up on that Asterisk), nor touch a contact another engine holds by then."""
    await make_campaign(database_url, tmp_path, numbers(2))
    campaign_id = await fetchval(database_url, "SELECT id FROM campaigns")
    dead, live = EngineStore(database_url, "dead"), EngineStore(database_url, "live")
    await dead.open()
    await live.open()
    try:
        await dead.register()
        claimed = await dead.claim(campaign_id, 2)
        assert await dead.start_attempts(campaign_id, [NewAttempt(uuid.uuid4(), c) for c in claimed]) == {}
        await fetchval(database_url, "UPDATE engines SET heartbeat_at = now() - interval '1 hour' RETURNING 1")
        assert await live.recover_stale(30.0, 300.0) == (0, 2)
        # Both are overdue for their decision; the second contact was claimed by "other" since.
        await fetchval(database_url, "UPDATE call_attempts SET ended_at = now() - interval '10 min' RETURNING 1")
        second = claimed[1].contact_id
        await fetchval(database_url, "UPDATE contacts SET state = 'claimed', claimed_by = 'other' WHERE id = $1"
                       " RETURNING 1", second)

        async def retry_soon(rows: list[Any], _histories: Any) -> list[ContactDecision]:
            soon = datetime.now(UTC) + timedelta(seconds=10)
            return [ContactDecision(str(r["id"]), r["contact_id"], "ready", soon, "unknown") for r in rows]

        assert await live.settle_undecided(120.0, retry_soon, "no_disposition") == 2
    finally:
        await dead.close()
        await live.close()
    contacts = {r["id"]: r for r in await fetch(
        database_url, "SELECT id, state, claimed_by, next_attempt_at - now() AS wait FROM contacts")}
    first = contacts[claimed[0].contact_id]
    assert first["state"] == "ready" and first["wait"] > timedelta(seconds=250), first
    assert (contacts[second]["state"], contacts[second]["claimed_by"]) == ("claimed", "other")
    assert await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE decided_at IS NULL") == 0


async def test_a_dead_engines_talking_call_is_closed_answered_with_its_agent(database_url: str, tmp_path: Path) -> None:
    """Another engine recovering a dead one's open attempts: a call whose connect to an agent
    was stored as it happened is closed answered with that agent (its disposition still owed),
    not unknown; a call that never reached an agent is unknown and waits before a retry."""
    await make_campaign(database_url, tmp_path, numbers(2), agents=1, start=False)
    await fetchval(database_url, "INSERT INTO engines (id, host, pid, started_at, heartbeat_at) VALUES"
                   " ('dead', 'gone', 1, now() - interval '1 hour', now() - interval '1 hour') RETURNING 1")
    await fetchval(database_url, """
        WITH picked AS (SELECT id, campaign_id, number, row_number() OVER (ORDER BY id) AS n FROM contacts)
        INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id, originated_at,
                                   answered_at, queued_at, connected_at, agent_id)
        SELECT gen_random_uuid(), campaign_id, id, number, 1, 'dead', now() - interval '2 min',
               now() - interval '110 s', now() - interval '108 s',
               CASE WHEN n = 1 THEN now() - interval '107 s' END, CASE WHEN n = 1 THEN '1001' END
        FROM picked RETURNING 1""")
    await fetchval(database_url, "UPDATE contacts SET state = 'in_call', attempts = 1, claimed_by = 'dead' RETURNING 1")
    store = EngineStore(database_url, "rescuer")
    await store.open()
    try:
        claims, closed = await store.recover_stale(30.0, 300.0)
    finally:
        await store.close()
    assert closed == 2
    rows = await fetch(database_url, "SELECT a.outcome, a.agent_id, a.note, a.ended_at, c.state, c.next_attempt_at"
                       " FROM call_attempts a JOIN contacts c ON c.id = a.contact_id ORDER BY a.connected_at NULLS LAST")
    talking, waiting = rows
    assert talking["outcome"] == "answered" and talking["agent_id"] == "1001"
    assert "reached its agent" in talking["note"] and talking["ended_at"] is not None
    assert talking["state"] == "in_call"  # the disposition (agent's or system's) decides it
    assert waiting["outcome"] == "unknown" and waiting["agent_id"] is None
    assert waiting["state"] == "ready" and waiting["next_attempt_at"] > datetime.now(UTC) + timedelta(seconds=250)
