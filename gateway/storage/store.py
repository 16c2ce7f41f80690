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


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode jsonb to Python values."""
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection
    )


class Store:
    """Every query the gateway runs; nothing else touches SQL."""

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

    async def set_session_emotion(self, session_id: str, emotion: str) -> None:
        await self.pool.execute("UPDATE sessions SET emotion = $2 WHERE id = $1", session_id, emotion)

    async def start_session(self, session_id: str, scenario: str, language: str) -> bool:
        """Choose the scenario and language of a session that has no turn yet."""
        status = await self.pool.execute(
            "UPDATE sessions SET scenario = $2, language = $3 WHERE id = $1 AND turn_count = 0",
            session_id, scenario, language)
        return status.endswith(" 1")

    async def save_scenario_state(self, session_id: str, *, rapport: float, beat_index: int,
                                  beat_followed_up: bool, status: str) -> None:
        await self.pool.execute(
            "UPDATE sessions SET rapport = $2, beat_index = $3, beat_followed_up = $4,"
            " status = $5 WHERE id = $1",
            session_id, rapport, beat_index, beat_followed_up, status)

    async def flag_for_human(self, session_id: str, reason: str) -> None:
        await self.pool.execute(
            "UPDATE sessions SET flagged_for_human = true, flag_reason = $2,"
            " flagged_at = coalesce(flagged_at, now()) WHERE id = $1", session_id, reason)

    async def save_feedback(self, turn_id: int, *, speech: dict[str, Any] | None,
                            feedback: dict[str, Any]) -> None:
        await self.pool.execute("UPDATE turns SET speech = $2, feedback = $3 WHERE id = $1",
                                turn_id, speech, feedback)

    async def end_session(self, session_id: str) -> None:
        await self.pool.execute(
            "UPDATE sessions SET ended_at = coalesce(ended_at, now()), status = 'ended'"
            " WHERE id = $1", session_id)

    async def save_report(self, session_id: str, report: dict[str, Any], html: str) -> None:
        await self.pool.execute(
            "INSERT INTO session_reports (session_id, report, html) VALUES ($1, $2, $3)"
            " ON CONFLICT (session_id) DO UPDATE SET report = $2, html = $3, created_at = now()",
            session_id, report, html)

    async def get_report(self, session_id: str) -> tuple[dict[str, Any], str] | None:
        row = await self.pool.fetchrow(
            "SELECT report, html FROM session_reports WHERE session_id = $1", session_id)
        return (row["report"], row["html"]) if row else None

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

    async def add_turn(
        self,
        session_id: str,
        user_message: str,
        *,
        emotion: str,
        source: TurnSource,
        client_timestamp: datetime | None = None,
    ) -> TurnRecord:
        """Store the user's side of a turn at once, so an accepted message is never lost.

        One statement (so one round trip): the session's counter gives the sequence number.
        """
        row = await self.pool.fetchrow(
            f"WITH counter AS (UPDATE sessions SET turn_count = turn_count + 1 WHERE id = $1"
            f" RETURNING turn_count)"
            f" INSERT INTO turns (session_id, seq, user_message, emotion, source,"
            f" client_timestamp) SELECT $1, turn_count, $2, $3, $4, $5 FROM counter"
            f" RETURNING {_TURN_COLUMNS}",
            session_id, user_message, emotion, source, client_timestamp,
        )
        if row is None:
            raise LookupError(f"no session {session_id!r}")
        return TurnRecord(**dict(row))

    async def finish_turn(
        self,
        turn_id: int,
        *,
        ai_reply: str,
        status: TurnStatus,
        end_reason: str | None = None,
        timings: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the reply as the user received it, and how the turn ended."""
        await self.pool.execute(
            "UPDATE turns SET ai_reply = $2, status = $3, end_reason = $4,"
            " timings = timings || $5::jsonb, completed_at = now() WHERE id = $1",
            turn_id, ai_reply, status, end_reason, dict(timings or {}),
        )

    async def merge_turn_timings(self, turn_id: int, timings: Mapping[str, Any]) -> None:
        await self.pool.execute(
            "UPDATE turns SET timings = timings || $2::jsonb WHERE id = $1", turn_id, dict(timings)
        )

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

    async def all_turns(self, session_id: str) -> list[TurnRecord]:
        rows = await self.pool.fetch(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE session_id = $1 ORDER BY seq", session_id
        )
        return [TurnRecord(**dict(r)) for r in rows]
