"""The engine's database side: claims, attempts, decisions, heartbeats, over an asyncpg pool.

Each method is one transaction. The SQL lives in `queries`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from compliance.alternates import ContactNumbers, skip_number
from compliance.attempts import AttemptRecord, NumberHistory
from compliance.outcomes import ABANDON_OUTCOMES, Outcome
from dialer.db.connection import asyncpg_dsn
from dialer.engine import queries as Q

log = logging.getLogger(__name__)
# The outcomes that start the no-repeat period after an abandoned call, for NUMBER_HISTORY.
_ABANDONS = sorted(o.value for o in ABANDON_OUTCOMES)


@dataclass
class ClaimedContact:
    contact_id: int
    number: str
    timezone: str | None
    attempts: int
    fields: dict[str, Any]
    last_attempt_at: datetime | None = None
    callback_due: bool = False  # an agent booked a callback for now: attempt limits may not apply
    recent: tuple[datetime, ...] = ()  # its attempts of the last two days, oldest first
    number_history: NumberHistory = NumberHistory()  # of `number`, the one dialled next
    numbers: tuple[str, ...] = ()  # all its numbers, main first (empty: `number` alone)
    number_index: int = 0  # which of them `number` is (0: the main one)
    numbers_done: frozenset[int] = frozenset()  # those finished
    recent_numbers: tuple[str, ...] = ()  # the number each of `recent` dialled

    @property
    def contact_numbers(self) -> ContactNumbers:
        return ContactNumbers(self.numbers or (self.number,), self.number_index, self.numbers_done)


# The campaign's verdict on a claimed contact at an instant: allowed, why not (a reason
# code), and when the refusal clears (None: never, the contact is finished).
DialCheck = Callable[[ClaimedContact, datetime], tuple[bool, str, datetime | None]]


@dataclass(frozen=True)
class NewAttempt:
    attempt_id: uuid.UUID
    contact: ClaimedContact


@dataclass(frozen=True)
class AttemptClose:
    """What the writer stores for one ended attempt."""

    attempt_id: str
    answered_at: datetime | None
    queued_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime
    outcome: str
    originate_reason: int | None
    hangup_cause: int | None
    amd_result: str | None
    agent_id: str | None
    recording_path: str | None
    note: str | None
    recording_seconds: float | None = None  # call_life.ClosedCall.recording_s

    def params(self) -> tuple[Any, ...]:
        return (
            uuid.UUID(self.attempt_id), self.answered_at, self.queued_at, self.connected_at,
            self.ended_at, self.outcome, self.originate_reason, self.hangup_cause,
            self.amd_result, self.agent_id, self.recording_path, self.note, self.recording_seconds,
        )


@dataclass(frozen=True)
class AttemptProgress:
    """Facts of a call still up, stored as they happen so that a restart finds them."""

    attempt_id: str
    answered_at: datetime | None
    queued_at: datetime | None
    connected_at: datetime | None
    agent_id: str | None
    amd_result: str | None
    recording_path: str | None = None


@dataclass(frozen=True)
class ContactDecision:
    """The attempt policy's verdict for a contact, applied with the attempt's close."""

    attempt_id: str
    contact_id: int
    state: str  # ready | done | exhausted | blocked
    next_attempt_at: datetime | None
    last_outcome: str
    dnc: tuple[str, int | None, str, str] | None = None  # number, campaign id|None, source, reason
    callback: tuple[int, int, datetime, str | None] | None = None  # campaign, contact, at, agent
    dnc_expires_at: datetime | None = None  # the DNC entry's expiry (the profile's dnc_expiry)
    number_index: int | None = None  # the number on turn next (None: unchanged)
    numbers_done: tuple[int, ...] | None = None  # the numbers finished (None: unchanged)


def claimed_contact(row: Any) -> ClaimedContact:
    """A contact as a claim returns it (`queries.CLAIMED_COLUMNS`)."""
    return ClaimedContact(row["id"], row["number"], row["timezone"], row["attempts"], row["fields"] or {},
                          row["last_attempt_at"], row["callback_due"], numbers=tuple(row["numbers"]),
                          number_index=row["number_index"], numbers_done=frozenset(row["numbers_done"]))


class EngineStore:
    def __init__(self, url: str, engine_id: str) -> None:
        self.url = url
        self.engine_id = engine_id
        self.pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None

    async def open(self, size: int = 8) -> None:
        self.pool = await asyncpg.create_pool(
            asyncpg_dsn(self.url), min_size=2, max_size=size, init=_init_connection
        )

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    @property
    def db(self) -> asyncpg.Pool:
        assert self.pool is not None, "store not open"
        return self.pool

    # --- heartbeat and recovery --------------------------------------------------------

    async def schema_version(self) -> str | None:
        """The Alembic revision the database is at (None when it has none)."""
        try:
            version: str | None = await self.db.fetchval(Q.SCHEMA_VERSION)
        except asyncpg.PostgresError:
            return None
        return version

    async def register(self) -> None:
        await self.db.execute(Q.REGISTER_ENGINE, self.engine_id, socket.gethostname(), os.getpid())

    async def heartbeat(self, status: dict[str, Any]) -> None:
        await self.db.execute(Q.HEARTBEAT, self.engine_id, status)

    async def release_own_claims(self) -> int:
        return _count(await self.db.execute(Q.RELEASE_OWN_CLAIMS, self.engine_id))

    async def recover_stale(self, stale_s: float, retry_after_s: float) -> tuple[int, int]:
        """Release claims and close attempts of other engines whose heartbeat is stale, or
        says unhealthy, for longer than `stale_s`."""
        async with self.db.acquire() as conn, conn.transaction():
            claims = _count(await conn.execute(Q.RELEASE_STALE_CLAIMS, stale_s, self.engine_id))
            attempts = int(await conn.fetchval(Q.CLOSE_STALE_ATTEMPTS, stale_s, retry_after_s, self.engine_id))
        return claims, attempts

    async def open_attempts(self) -> list[asyncpg.Record]:
        return list(await self.db.fetch(Q.OPEN_ATTEMPTS_OF_ENGINE, self.engine_id))

    # --- LISTEN -------------------------------------------------------------------------

    async def listen(self, channel: str, callback: Callable[[str], Awaitable[None] | None]) -> None:
        if self._listener is None:
            self._listener = await asyncpg.connect(asyncpg_dsn(self.url))

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            result = callback(payload)
            if result is not None:
                asyncio.ensure_future(result)

        await self._listener.add_listener(channel, on_notify)

    # --- campaigns ---------------------------------------------------------------------

    async def dialling_campaigns(self) -> list[asyncpg.Record]:
        return list(await self.db.fetch(Q.DIALLING_CAMPAIGNS))

    async def campaign(self, campaign_id: int) -> asyncpg.Record | None:
        return await self.db.fetchrow(Q.CAMPAIGN_BY_ID, campaign_id)

    async def attempts_made(self, campaign_id: int) -> int:
        return int(await self.db.fetchval(Q.PILOT_ATTEMPTS, campaign_id))

    async def dialable_left(self, campaign_id: int) -> int:
        return int(await self.db.fetchval(Q.DIALABLE_LEFT, campaign_id))

    async def undone_contacts(self, campaign_id: int) -> int:
        return int(await self.db.fetchval(Q.UNDONE_CONTACTS, campaign_id))

    async def set_campaign_state(self, campaign_id: int, to: str, expected: str, note: str) -> bool:
        async with self.db.acquire() as conn, conn.transaction():
            changed = await conn.fetchval(
                Q.SET_CAMPAIGN_STATE, campaign_id, to, expected, f"engine {self.engine_id}", note
            )
            if changed is not None:
                await conn.execute(Q.NOTIFY_CAMPAIGN, json.dumps({"campaign_id": campaign_id, "state": to}))
        return changed is not None

    # --- claims ------------------------------------------------------------------------

    async def claim(self, campaign_id: int, limit: int, contact_ids: Sequence[int] | None = None, *,
                    personal_grace_min: int = 15, personal_to_pool: bool = True) -> list[ClaimedContact]:
        """Claim up to `limit` due contacts (not those a personal callback keeps for its agent:
        `personal_grace_min`, `personal_to_pool`); with `contact_ids`, those (if ready) instead."""
        async with self.db.acquire() as conn:
            async with conn.transaction():
                if contact_ids is None:
                    rows = await conn.fetch(Q.CLAIM_CONTACTS, campaign_id, limit, self.engine_id,
                                            personal_grace_min, personal_to_pool)
                else:
                    rows = await conn.fetch(Q.CLAIM_CONTACT_IDS, campaign_id, list(contact_ids), self.engine_id)
            if not rows:
                return []
            contacts = [claimed_contact(r) for r in rows]
            await self._read_history(conn, contacts, datetime.now(UTC))
        return contacts

    async def personal_callbacks_due(self, campaign_id: int, limit: int) -> list[asyncpg.Record]:
        """Due personal callbacks (id, contact_id, agent_id, scheduled_at, timezone)."""
        async with self.db.acquire() as conn:
            return list(await conn.fetch(Q.PERSONAL_CALLBACKS_DUE, campaign_id, limit))

    async def reschedule_callback(self, callback_id: int, at: datetime, note: str) -> None:
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(Q.RESCHEDULE_CALLBACK, callback_id, at, note)

    @staticmethod
    async def _read_history(conn: asyncpg.Connection, contacts: Sequence[ClaimedContact], now: datetime) -> None:
        """Fill in each contact's recent attempts and its number's history (all campaigns)."""
        recent = {
            r["contact_id"]: (tuple(r["times"]), tuple(r["numbers"]))
            for r in await conn.fetch(Q.RECENT_ATTEMPTS, [c.contact_id for c in contacts], now)
        }
        numbers = {
            r["number"]: NumberHistory(r["last_attempt_at"], r["last_abandon_at"], r["last_machine_at"])
            for r in await conn.fetch(Q.NUMBER_HISTORY, list({c.number for c in contacts}), _ABANDONS)
        }
        for contact in contacts:
            contact.recent, contact.recent_numbers = recent.get(contact.contact_id, ((), ()))
            contact.number_history = numbers.get(contact.number, NumberHistory())

    async def release(self, contacts: Sequence[tuple[int, datetime | None]]) -> None:
        if contacts:
            await self.db.execute(
                Q.RELEASE_CONTACTS, [c for c, _ in contacts], [at for _, at in contacts], self.engine_id
            )

    async def block(self, contact_ids: Sequence[int]) -> None:
        if contact_ids:
            await self.db.execute(Q.BLOCK_CONTACTS, list(contact_ids))

    async def finish(self, contacts: Sequence[tuple[int, str]]) -> None:
        """Claimed contacts that may never be dialled again: exhausted, with the reason."""
        if contacts:
            await self.db.execute(
                Q.FINISH_CONTACTS, [c for c, _ in contacts], [why for _, why in contacts], self.engine_id
            )

    async def start_attempts(
        self, campaign_id: int, attempts: Sequence[NewAttempt], check: DialCheck | None = None,
        now: datetime | None = None,
    ) -> dict[int, str]:
        """Write attempt rows (committed before any Originate) for contacts not on DNC, still
        allowed by `check` and still claimed by this engine.

        Returns the contact ids that get no attempt, with why: "dnc" (on a DNC list: now
        blocked), the reason `check` refused it (e.g. "min_gap", "max_attempts_day": put back
        until the refusal clears, or finished when it never does), or "claim_lost" (released
        by another engine meanwhile). The numbers are locked first (an advisory lock per
        number, held to the commit), so the DNC lists and the numbers' history (every campaign,
        every engine) are read as they are at the last moment: a number added to DNC a second
        ago is never dialled, and two campaigns never call one number within its minimum gap.
        """
        if not attempts:
            return {}
        now = now or datetime.now(UTC)
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(Q.LOCK_NUMBERS, [a.contact.number for a in attempts])
            blocked_numbers = {
                r["number"] for r in await conn.fetch(
                    Q.DNC_BLOCKED, [a.contact.number for a in attempts], campaign_id
                )
            }
            listed = [a.contact for a in attempts if a.contact.number in blocked_numbers]
            skipped = {c.contact_id: "dnc" for c in listed}
            go = [a for a in attempts if a.contact.contact_id not in skipped]
            await self._skip_listed(conn, listed)
            if go and check is not None:
                go = await self._check_again(conn, go, check, now, skipped)
            if go:
                held = {r["id"] for r in await conn.fetch(
                    Q.CONTACTS_IN_CALL, [a.contact.contact_id for a in go], self.engine_id
                )}
                skipped.update((a.contact.contact_id, "claim_lost") for a in go if a.contact.contact_id not in held)
                go = [a for a in go if a.contact.contact_id in held]
            if go:
                await conn.execute(
                    Q.INSERT_ATTEMPTS, campaign_id, self.engine_id,
                    [a.attempt_id for a in go], [a.contact.contact_id for a in go],
                    [a.contact.number for a in go], [a.contact.attempts + 1 for a in go],
                )
                callbacks = [a.contact.contact_id for a in go if a.contact.callback_due]
                if callbacks:
                    await conn.execute(Q.CALLBACKS_DONE, callbacks)
        return skipped

    async def _skip_listed(self, conn: asyncpg.Connection, contacts: Sequence[ClaimedContact]) -> None:
        """Contacts whose number on turn is on a DNC list: that number is finished and the
        next one takes its turn (DNC is per number); with none left, the contact is blocked."""
        blocked, skips = [], []
        for contact in contacts:
            moved = skip_number(contact.contact_numbers)
            if moved is None:
                blocked.append(contact.contact_id)
            else:
                skips.append((contact.contact_id, moved.current, contact.number_index))
        if blocked:
            await conn.execute(Q.BLOCK_CONTACTS, blocked)
        if skips:
            await conn.execute(Q.SKIP_NUMBERS, [c for c, _, _ in skips], [n for _, n, _ in skips],
                               [d for _, _, d in skips], self.engine_id)

    async def _check_again(
        self, conn: asyncpg.Connection, attempts: list[NewAttempt], check: DialCheck, now: datetime,
        skipped: dict[int, str],
    ) -> list[NewAttempt]:
        """The spacing rules and limits on the history as committed now (numbers locked): the
        contacts refused go back to the pool until their refusal clears, or are finished."""
        await self._read_history(conn, [a.contact for a in attempts], now)
        dialled: set[str] = set()  # numbers this batch calls
        go: list[NewAttempt] = []
        later: list[tuple[int, datetime]] = []
        finished: list[tuple[int, str]] = []
        for attempt in attempts:
            contact = attempt.contact
            if contact.number in dialled:
                contact.number_history = replace(contact.number_history, last_attempt_at=now)
            allowed, reason, not_before = check(contact, now)
            if allowed:
                dialled.add(contact.number)
                go.append(attempt)
                continue
            skipped[contact.contact_id] = str(reason)
            if not_before is None:
                finished.append((contact.contact_id, str(reason)))
            else:
                later.append((contact.contact_id, not_before))
        if later:
            await conn.execute(Q.RELEASE_CONTACTS, [c for c, _ in later], [at for _, at in later], self.engine_id)
        if finished:
            await conn.execute(
                Q.FINISH_CONTACTS, [c for c, _ in finished], [why for _, why in finished], self.engine_id
            )
        return go

    async def cancel_attempt(self, attempt_id: str, contact_id: int) -> None:
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(Q.CANCEL_ATTEMPT, uuid.UUID(attempt_id))
            await conn.execute(Q.UNDO_CONTACT_ATTEMPT, contact_id)

    # --- closing attempts ----------------------------------------------------------------

    async def contact_histories(
        self, contact_ids: Sequence[int], conn: asyncpg.Connection | None = None
    ) -> dict[int, list[AttemptRecord]]:
        rows = await (conn or self.db).fetch(Q.CONTACT_ATTEMPTS, list(contact_ids))
        history: dict[int, list[AttemptRecord]] = {}
        for r in rows:
            try:
                outcome = Outcome(r["outcome"])
            except ValueError:
                outcome = Outcome.UNKNOWN
            history.setdefault(r["contact_id"], []).append(
                AttemptRecord(r["created_at"], outcome, r["disposition"], r["number"])
            )
        return history

    async def contact_numbers(self, contact_ids: Sequence[int]) -> dict[int, tuple[tuple[str, ...], frozenset[int]]]:
        """Each contact's numbers (main first) and the indexes of those finished."""
        rows = await self.db.fetch(Q.CONTACT_NUMBERS, list(contact_ids))
        return {r["id"]: (tuple(r["numbers"]), frozenset(r["numbers_done"])) for r in rows}

    async def write_closes(
        self, closes: Sequence[AttemptClose], decisions: Sequence[ContactDecision],
        progress: Sequence[AttemptProgress] = (),
    ) -> None:
        async with self.db.acquire() as conn, conn.transaction():
            if progress:
                await conn.execute(
                    Q.ATTEMPT_PROGRESS, [uuid.UUID(p.attempt_id) for p in progress],
                    [p.answered_at for p in progress], [p.queued_at for p in progress],
                    [p.connected_at for p in progress], [p.agent_id for p in progress],
                    [p.amd_result for p in progress], [p.recording_path for p in progress],
                )
            if closes:
                await conn.executemany(Q.CLOSE_ATTEMPT, [c.params() for c in closes])
            for decision in decisions:
                await self._apply_decision(conn, decision)

    async def _apply_decision(self, conn: asyncpg.Connection, d: ContactDecision) -> None:
        done = list(d.numbers_done) if d.numbers_done is not None else None
        await conn.execute(Q.DECIDE_CONTACT, d.contact_id, d.state, d.next_attempt_at, d.last_outcome,
                           uuid.UUID(d.attempt_id), d.number_index, done)
        await conn.execute(Q.MARK_DECIDED, uuid.UUID(d.attempt_id))
        if d.dnc is not None:
            number, campaign_id, source, reason = d.dnc
            await conn.execute(Q.INSERT_DNC, number, campaign_id, source, reason, f"engine {self.engine_id}",
                               d.dnc_expires_at)
            await conn.execute(Q.BLOCK_NUMBER, number, campaign_id)
        if d.callback is not None:
            campaign_id, contact_id, at, agent = d.callback
            await conn.execute(
                "INSERT INTO callbacks (campaign_id, contact_id, attempt_id, agent_id, scheduled_at)"
                " SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS"
                " (SELECT 1 FROM callbacks WHERE attempt_id = $3)",
                campaign_id, contact_id, uuid.UUID(d.attempt_id), agent, at,
            )

    async def settle_undecided(
        self,
        disposition_timeout_s: float,
        decide: Callable[[list[asyncpg.Record], dict[int, list[AttemptRecord]]], Awaitable[list[ContactDecision]]],
        system_disposition: str,
        limit: int = 500,
    ) -> int:
        """Claim connected calls awaiting their decision (any engine's), let `decide` rule on
        them, and write the decisions, in one transaction: each is settled exactly once.

        An attempt with no disposition by then gets `system_disposition`.
        """
        async with self.db.acquire() as conn, conn.transaction():
            rows = list(await conn.fetch(Q.UNDECIDED_DISPOSITIONS, disposition_timeout_s, limit))
            if not rows:
                return 0
            histories = await self.contact_histories([r["contact_id"] for r in rows], conn)
            decisions = await decide(rows, histories)
            without = {str(r["id"]) for r in rows if r["disposition"] is None}
            for decision in decisions:
                if decision.attempt_id in without:
                    await conn.execute(Q.SET_SYSTEM_DISPOSITION, uuid.UUID(decision.attempt_id), system_disposition)
                await self._apply_decision(conn, decision)
        return len(decisions)

    async def set_wrapup_ended(self, attempt_id: str, at: datetime) -> None:
        await self.db.execute(Q.SET_WRAPUP_ENDED, uuid.UUID(attempt_id), at)

    async def ledger_history(self, campaign_id: int, window_s: float) -> list[asyncpg.Record]:
        return list(await self.db.fetch(Q.LEDGER_HISTORY, campaign_id, window_s))

    # --- agents ------------------------------------------------------------------------

    async def ensure_agents(self, agent_ids: Sequence[str]) -> None:
        if agent_ids:
            await self.db.execute(Q.ENSURE_AGENTS, list(agent_ids))

    async def agents_in_groups(self, groups: Sequence[str]) -> list[str]:
        """The active agents in any of `groups` (a campaign's agent_groups)."""
        if not groups:
            return []
        return [r["id"] for r in await self.db.fetch(Q.AGENTS_IN_GROUPS, list(groups))]

    async def agent_changes(self, changes: Sequence[tuple[str, str, str | None, datetime, str]]) -> None:
        """(agent, state, reason, at, previous state) rows; sessions open and close with login."""
        if not changes:
            return
        async with self.db.acquire() as conn, conn.transaction():
            await conn.executemany(Q.AGENT_STATE_CHANGE, [c[:4] for c in changes])
            for agent, state, _, at, previous in changes:
                if previous == "logged_out" and state != "logged_out":
                    await conn.execute(Q.OPEN_AGENT_SESSION, agent, self.engine_id, at)
                elif state == "logged_out" and previous != "logged_out":
                    await conn.execute(Q.CLOSE_AGENT_SESSION, agent, self.engine_id, at)

    async def close_agent_sessions(self) -> None:
        await self.db.execute(Q.CLOSE_ALL_AGENT_SESSIONS, self.engine_id)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def _count(status: str) -> int:
    try:
        return int(status.split()[-1])
    except (ValueError, IndexError):
        return 0
