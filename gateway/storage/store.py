"""The session store: sessions and turns in PostgreSQL through an asyncpg pool."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

TurnStatus = Literal["pending", "complete", "cut_short"]
TurnSource = Literal["text", "voice"]


@dataclass(frozen=True)
class RecordedAudio:
    """Where a turn's recorded voice lies in the session's audio stream."""

    codec: str
    sample_rate: int
    start_ms: int       # stream position of the clip's first sample
    duration_ms: int


@dataclass(frozen=True)
class SessionRecord:
    id: str
    owner: str
    scenario: str
    language: str
    emotion: str
    turn_count: int
    created_at: datetime
    ended_at: datetime | None
    rapport: float = 0.5
    beat_index: int = 0
    beat_followed_up: bool = False
    status: str = "active"
    flagged_for_human: bool = False
    flag_reason: str | None = None


@dataclass(frozen=True)
class TurnRecord:
    id: int
    session_id: str
    seq: int
    user_message: str
    ai_reply: str
    emotion: str
    source: str
    status: str
    end_reason: str | None
    client_timestamp: datetime | None
    created_at: datetime
    completed_at: datetime | None
    timings: dict[str, Any]
    speech: dict[str, Any] | None = None
    feedback: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The turn as the HTTP API shows it."""
        return {
            "seq": self.seq,
            "user_message": self.user_message,
            "ai_reply": self.ai_reply,
            "emotion": self.emotion,
            "source": self.source,
            "status": self.status,
            "end_reason": self.end_reason,
            "client_timestamp": _iso(self.client_timestamp),
            "created_at": _iso(self.created_at),
            "completed_at": _iso(self.completed_at),
            "timings": self.timings,
            "feedback": self.feedback,
        }


def _catalog_table(kind: str) -> str:
    tables = {"scenarios": "custom_scenarios", "personas": "custom_personas"}
    return tables[kind]  # a fixed name, never user input


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_TURN_COLUMNS = (
    "id, session_id, seq, user_message, ai_reply, emotion, source, status, end_reason,"
    " client_timestamp, created_at, completed_at, timings, speech, feedback"
)
_SESSION_COLUMNS = ("id, owner, scenario, language, emotion, turn_count, created_at, ended_at,"
                   " rapport, beat_index, beat_followed_up, status, flagged_for_human, flag_reason")


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
    )


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    """A pool whose connections decode jsonb to Python values. A statement that hangs (a
    database that stopped answering) fails after 10 s, so the journal can retry it."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=10,
    )


class Store:
    """Every query the gateway runs; nothing else touches SQL.

    A live session's own writes (`OwnerWrites`) come from its owner alone, through its
    journal, and are fenced by the owner's lease token; everything here is either a read or
    a write that no owner makes (catalog edits, reports).
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def open_session(
        self, session_id: str, owner: str, *, scenario: str = "counseling", language: str = "ko"
    ) -> tuple[SessionRecord, bool]:
        """The session, created for `owner` if it does not exist; and whether it was created."""
        row = await self.pool.fetchrow(
            f"INSERT INTO sessions (id, owner, scenario, language) VALUES ($1, $2, $3, $4)"
            f" ON CONFLICT (id) DO NOTHING RETURNING {_SESSION_COLUMNS}",
            session_id, owner, scenario, language,
        )
        if row is not None:
            return SessionRecord(**dict(row)), True
        existing = await self.get_session(session_id)
        assert existing is not None
        return existing, False

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self.pool.fetchrow(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = $1", session_id
        )
        return SessionRecord(**dict(row)) if row else None

    # ------------------------------------------------------------ leases

    async def acquire_lease(self, session_id: str, holder: str, token: str,
                            ttl_s: float) -> SessionRecord | None:
        """Take the session's lease for owner `token` of process `holder`, if it is free,
        expired, or held by this process (whose hub guarantees one owner at a time); None if
        another live process holds it. A reply the previous owner left pending is marked cut
        short with what it had recorded of it: that owner is gone."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE sessions SET lease_holder = $2, lease_token = $3,"
                f" lease_until = now() + make_interval(secs => $4)"
                f" WHERE id = $1 AND (lease_token IS NULL OR lease_holder = $2"
                f" OR lease_until < now()) RETURNING {_SESSION_COLUMNS}",
                session_id, holder, token, ttl_s)
            if row is None:
                return None
            await conn.execute(
                "UPDATE turns SET status = 'cut_short', end_reason = 'owner_lost',"
                " completed_at = now() WHERE session_id = $1 AND status = 'pending'", session_id)
            return SessionRecord(**dict(row))

    async def lease_holder(self, session_id: str) -> str | None:
        """The process holding a live lease on the session, if any."""
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT lease_holder FROM sessions WHERE id = $1 AND lease_token IS NOT NULL"
            " AND lease_until >= now()", session_id)

    async def renew_leases(self, tokens: list[str], ttl_s: float) -> set[str]:
        """Extend the leases of these owners; return the tokens that still hold theirs."""
        rows = await self.pool.fetch(
            "UPDATE sessions SET lease_until = now() + make_interval(secs => $2)"
            " WHERE lease_token = ANY($1::text[]) RETURNING lease_token", tokens, ttl_s)
        return {r["lease_token"] for r in rows}

    async def release_lease(self, session_id: str, token: str) -> None:
        await self.pool.execute(
            "UPDATE sessions SET lease_holder = NULL, lease_token = NULL, lease_until = NULL"
            " WHERE id = $1 AND lease_token = $2", session_id, token)

    # ------------------------------------------------------------ limits and data rights

    async def take(self, limits: list[tuple[str, int, float]]) -> tuple[int, float]:
        """Count one event under every (key, limit, window_s), or none if any is full:
        (0, 0.0), or (index of the refusing limit, 1-based, seconds until it frees)."""
        row = await self.pool.fetchrow(
            "SELECT refused, wait_s FROM parley_take($1::text[], $2::int[], $3::float8[])",
            [k for k, _, _ in limits], [n for _, n, _ in limits], [w for _, _, w in limits],
            timeout=2)
        return int(row["refused"]), float(row["wait_s"])

    async def sessions_of(self, owner: str) -> list[SessionRecord]:
        rows = await self.pool.fetch(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE owner = $1 ORDER BY created_at", owner)
        return [SessionRecord(**dict(r)) for r in rows]

    async def delete_session(self, session_id: str) -> bool:
        """Delete a session and everything derived from it (turns, report: ON DELETE CASCADE)."""
        status = await self.pool.execute("DELETE FROM sessions WHERE id = $1", session_id)
        return status.endswith(" 1")

    async def delete_expired(self, days: int) -> list[str]:
        """Delete sessions created more than `days` ago that no process is serving."""
        rows = await self.pool.fetch(
            "DELETE FROM sessions WHERE created_at < now() - make_interval(days => $1)"
            " AND (lease_token IS NULL OR lease_until < now()) RETURNING id", days)
        return [r["id"] for r in rows]

    async def prune_limits(self, older_than_s: float) -> None:
        """Drop rate-limit events older than the longest window (a key that is never used
        again, such as a session's, is otherwise only pruned by its own next request)."""
        await self.pool.execute(
            "DELETE FROM rate_events WHERE at < clock_timestamp() - make_interval(secs => $1)",
            older_than_s)

    async def forget_limits(self, keys: list[str]) -> None:
        await self.pool.execute("DELETE FROM rate_events WHERE key = ANY($1::text[])", keys)

    # ------------------------------------------------------------ reports and catalog

    async def save_report(self, session_id: str, report: dict[str, Any], html: str) -> None:
        await self.pool.execute(
            "INSERT INTO session_reports (session_id, report, html) VALUES ($1, $2, $3)"
            " ON CONFLICT (session_id) DO UPDATE SET report = $2, html = $3, created_at = now()",
            session_id, report, html)

    async def get_report(self, session_id: str) -> tuple[dict[str, Any], str] | None:
        row = await self.pool.fetchrow(
            "SELECT report, html FROM session_reports WHERE session_id = $1", session_id)
        return (row["report"], row["html"]) if row else None

    async def reports_of(self, owner: str) -> list[tuple[str, datetime, dict[str, Any]]]:
        """(session id, created at, report) of the owner's ended sessions, oldest first."""
        rows = await self.pool.fetch(
            "SELECT s.id, s.created_at, r.report FROM sessions s"
            " JOIN session_reports r ON r.session_id = s.id"
            " WHERE s.owner = $1 ORDER BY s.created_at, s.id", owner)
        return [(r["id"], r["created_at"], r["report"]) for r in rows]

    # Operators' catalog edits: one JSON definition per id.

    async def custom_definitions(self, table: str) -> dict[str, dict[str, Any]]:
        rows = await self.pool.fetch(f"SELECT id, definition FROM {_catalog_table(table)}")
        return {r["id"]: r["definition"] for r in rows}

    async def custom_definition(self, table: str, item_id: str) -> dict[str, Any] | None:
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            f"SELECT definition FROM {_catalog_table(table)} WHERE id = $1", item_id)

    async def custom_scenario_and_persona(
        self, scenario_id: str, builtin_persona: str | None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """An operator's scenario (if any) and the operator's version of the persona it names
        (or of `builtin_persona`), in one query: this runs on every turn."""
        row = await self.pool.fetchrow(
            "WITH s AS (SELECT definition FROM custom_scenarios WHERE id = $1)"
            " SELECT (SELECT definition FROM s) AS scenario,"
            " (SELECT definition FROM custom_personas WHERE id ="
            "  coalesce((SELECT definition->>'persona' FROM s), $2)) AS persona",
            scenario_id, builtin_persona)
        return row["scenario"], row["persona"]

    async def put_definition(self, table: str, item_id: str, definition: dict[str, Any],
                             user: str) -> bool:
        """Insert or replace; return whether it was created."""
        created = await self.pool.fetchval(
            f"INSERT INTO {_catalog_table(table)} (id, definition, updated_by) VALUES ($1, $2, $3)"
            f" ON CONFLICT (id) DO UPDATE SET definition = $2, updated_by = $3, updated_at = now()"
            f" RETURNING (xmax = 0)", item_id, definition, user)
        return bool(created)

    async def delete_definition(self, table: str, item_id: str) -> bool:
        status = await self.pool.execute(
            f"DELETE FROM {_catalog_table(table)} WHERE id = $1", item_id)
        return status.endswith(" 1")

    async def recent_turns(
        self, session_id: str, limit: int, *, before_seq: int | None = None
    ) -> list[TurnRecord]:
        """The `limit` most recent finished turns (before `before_seq`), oldest first."""
        if limit <= 0:
            return []
        rows = await self.pool.fetch(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE session_id = $1 AND seq < $2"
            f" AND status <> 'pending' ORDER BY seq DESC LIMIT $3",
            session_id, before_seq if before_seq is not None else 2**31 - 1, limit,
        )
        return [TurnRecord(**dict(r)) for r in reversed(rows)]

    async def recordings(self, session_id: str) -> dict[int, RecordedAudio]:
        """Which turns of the session have the user's voice recorded, and where it lies."""
        rows = await self.pool.fetch(
            "SELECT seq, codec, sample_rate, start_ms, duration_ms FROM turn_audio"
            " WHERE session_id = $1 ORDER BY seq", session_id)
        return {r["seq"]: RecordedAudio(r["codec"], r["sample_rate"], r["start_ms"],
                                        r["duration_ms"]) for r in rows}

    async def turn_audio(self, session_id: str, seq: int) -> bytes | None:
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT audio FROM turn_audio WHERE session_id = $1 AND seq = $2", session_id, seq)

    async def all_turns(self, session_id: str) -> list[TurnRecord]:
        rows = await self.pool.fetch(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE session_id = $1 ORDER BY seq", session_id
        )
        return [TurnRecord(**dict(r)) for r in rows]


class OwnerWrites:
    """The writes a session's owner makes, fenced by its lease token.

    Each returns whether it applied (False: the owner no longer holds the lease). Each is
    idempotent, so the journal can retry one whose outcome an outage hid: inserts ignore a
    row that is already there, updates set absolute values.
    """

    def __init__(self, pool: asyncpg.Pool, session_id: str, token: str) -> None:
        self.pool = pool
        self.session_id = session_id
        self.token = token

    async def _fenced(self, sql: str, *args: Any) -> bool:
        status = await self.pool.execute(sql, self.session_id, self.token, *args)
        return not status.endswith(" 0")

    async def insert_turn(self, seq: int, user_message: str, *, emotion: str,
                          source: TurnSource, client_timestamp: datetime | None,
                          speech: dict[str, Any] | None) -> bool:
        """The user's side of a turn, the moment it is accepted; the counter moves with it."""
        row = await self.pool.fetchval(
            "WITH s AS (UPDATE sessions SET turn_count = greatest(turn_count, $3)"
            " WHERE id = $1 AND lease_token = $2 RETURNING id)"
            " INSERT INTO turns (session_id, seq, user_message, emotion, source,"
            " client_timestamp, speech) SELECT $1, $3, $4, $5, $6, $7, $8 FROM s"
            " ON CONFLICT (session_id, seq) DO UPDATE SET seq = excluded.seq RETURNING 1",
            self.session_id, self.token, seq, user_message, emotion, source, client_timestamp,
            speech)
        return row is not None

    async def finish_turn(self, seq: int, *, ai_reply: str, status: TurnStatus,
                          end_reason: str | None, timings: Mapping[str, Any]) -> bool:
        """The reply as the user received it, and how the turn ended."""
        return await self._fenced(
            "UPDATE turns SET ai_reply = $4, status = $5, end_reason = $6,"
            " timings = timings || $7::jsonb, completed_at = coalesce(completed_at, now())"
            " WHERE session_id = $1 AND seq = $3"
            " AND EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND lease_token = $2)",
            seq, ai_reply, status, end_reason, dict(timings))

    async def save_progress(self, seq: int, ai_reply: str) -> bool:
        """What the user has received of a reply still in flight, so that if this process
        dies, the next owner closes the turn with what had been sent."""
        return await self._fenced(
            "UPDATE turns SET ai_reply = $4 WHERE session_id = $1 AND seq = $3"
            " AND status = 'pending'"
            " AND EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND lease_token = $2)",
            seq, ai_reply)

    async def save_audio(self, seq: int, recording: RecordedAudio, audio: bytes) -> bool:
        """The user's own voice for turn `seq` (recorded with their consent)."""
        return await self._fenced(
            "INSERT INTO turn_audio (session_id, seq, codec, sample_rate, start_ms, duration_ms,"
            " audio) SELECT $1, $3, $4, $5, $6, $7, $8"
            " WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND lease_token = $2)"
            # A retry of a write that landed (its answer lost in an outage) still applies:
            # DO NOTHING would report 0 rows, which reads as a lost lease.
            " ON CONFLICT (session_id, seq) DO UPDATE SET seq = excluded.seq",
            seq, recording.codec, recording.sample_rate, recording.start_ms,
            recording.duration_ms, audio)

    async def save_feedback(self, seq: int, feedback: dict[str, Any]) -> bool:
        return await self._fenced(
            "UPDATE turns SET feedback = $4 WHERE session_id = $1 AND seq = $3"
            " AND EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND lease_token = $2)",
            seq, feedback)

    async def save_state(self, *, scenario: str, language: str, emotion: str, rapport: float,
                         beat_index: int, beat_followed_up: bool, status: str) -> bool:
        """The session's live state as the owner holds it (an ended session stays ended)."""
        return await self._fenced(
            "UPDATE sessions SET scenario = $3, language = $4, emotion = $5, rapport = $6,"
            " beat_index = $7, beat_followed_up = $8,"
            " status = CASE WHEN status = 'ended' THEN 'ended' ELSE $9 END,"
            " ended_at = CASE WHEN $9 = 'ended' THEN coalesce(ended_at, now()) ELSE ended_at END"
            " WHERE id = $1 AND lease_token = $2",
            scenario, language, emotion, rapport, beat_index, beat_followed_up, status)

    async def flag_for_human(self, reason: str) -> bool:
        return await self._fenced(
            "UPDATE sessions SET flagged_for_human = true, flag_reason = $3,"
            " flagged_at = coalesce(flagged_at, now()) WHERE id = $1 AND lease_token = $2",
            reason)
