"""200 text sessions x 10 turns at once, each next message sent on `ai_stream_complete`
(before that turn's feedback): every reply the client received in full is stored complete,
with exactly the text received."""

from __future__ import annotations

import asyncio

import asyncpg
from websockets.asyncio.client import connect

from tests.support import next_event, reply_text, send, ws_url

SESSIONS = 200
TURNS = 10


async def _talk(base: str, sid: str) -> list[str]:
    received = []
    async with connect(ws_url(base, sid), max_queue=None) as ws:
        for turn in range(TURNS):
            await send(ws, "request_ai_response", message=f"{sid} says {turn}")
            events = []
            while (event := await next_event(ws, timeout=120))["type"] != "ai_stream_complete":
                assert event["type"] != "ai_stream_error", event
                if event["type"] != "feedback":
                    events.append(event)
            received.append(reply_text(events))
    return received


async def test_every_delivered_reply_is_stored_complete(gateway, postgres) -> None:
    database = postgres.new_database()
    base = gateway(database_url=database, max_ai_requests_per_minute=TURNS,
                   max_ai_requests_per_minute_per_user=SESSIONS * TURNS,  # one dev user for all
                   max_new_sessions_per_user_per_hour=SESSIONS)
    ids = [f"load-{i}" for i in range(SESSIONS)]
    received = await asyncio.gather(*(_talk(base, sid) for sid in ids))
    conn = await asyncpg.connect(database)
    try:
        for _ in range(300):
            rows = await conn.fetch("SELECT session_id, seq, status, ai_reply FROM turns"
                                    " ORDER BY session_id, seq")
            if len(rows) == SESSIONS * TURNS and all(r["status"] != "pending" for r in rows):
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    stored = {(r["session_id"], r["seq"]): (r["status"], r["ai_reply"]) for r in rows}
    assert len(stored) == SESSIONS * TURNS
    wrong = [(sid, seq + 1) for sid, texts in zip(ids, received, strict=True)
             for seq, text in enumerate(texts) if stored[(sid, seq + 1)] != ("complete", text)]
    assert wrong == [], f"{len(wrong)} delivered replies stored differently, e.g. {wrong[:3]}"
