"""PostgreSQL dies mid-session: turns keep being answered, and nothing accepted is lost.

The test's own PostgreSQL (not the shared one) is stopped with `pg_ctl -m immediate` (the
postmaster and its backends quit at once, as in a crash), kept down for 10 s or 30 s while
the client goes on talking, then started again. Every turn answered during the outage must
be in the record afterwards, complete, in order; none left pending.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.storage.embedded import EmbeddedPostgres
from tests.support import ask, reply_text, send, ws_url


@pytest.fixture
def own_postgres():
    data_dir = Path(tempfile.mkdtemp(prefix="parley-outage-pg-"))
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    yield server, url
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def _kill(server: EmbeddedPostgres) -> None:
    server._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(server.pgdata))


@pytest.mark.parametrize("outage_s", [10, 30])
async def test_a_database_outage_loses_no_turn(gateway, own_postgres, outage_s) -> None:
    server, url = own_postgres
    base, sid = gateway(database_url=url, max_ai_requests_per_minute=100), "outage"
    replies: list[str] = []
    async with connect(ws_url(base, sid)) as ws:
        replies.append(reply_text(await ask(ws, "before the outage")))
        await asyncio.to_thread(_kill, server)
        down_at = time.monotonic()
        health = await asyncio.to_thread(httpx.get, f"{base}/health", timeout=10)
        assert health.status_code == 503
        assert (await asyncio.to_thread(httpx.get, f"{base}/health/live")).status_code == 200
        assert (await asyncio.to_thread(httpx.get, f"{base}/health/ready")).status_code == 503
        try:  # a session that is not live here cannot be opened: a clear close, not 1006
            async with connect(ws_url(base, "another-session")) as other:
                await other.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1013
            assert "database" in closed.rcvd.reason
        turn = 0
        while time.monotonic() - down_at < outage_s:
            turn += 1
            await send(ws, "emotion_update", emotion="sad" if turn % 2 else "anxious")
            events = await ask(ws, f"during the outage {turn}")
            assert events[-1]["type"] == "ai_stream_complete", events
            replies.append(reply_text(events))
            await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)
        replies.append(reply_text(await ask(ws, "after the outage")))
    for _ in range(200):
        body = httpx.get(f"{base}/sessions/{sid}/turns").json()
        if len(body["turns"]) == len(replies) and all(t["status"] == "complete"
                                                      for t in body["turns"]):
            break
        await asyncio.sleep(0.1)
    turns = body["turns"]
    assert [t["seq"] for t in turns] == list(range(1, len(replies) + 1))
    assert [t["status"] for t in turns] == ["complete"] * len(replies)
    assert [t["ai_reply"] for t in turns] == replies
    assert turns[-2]["emotion"] in ("sad", "anxious")


async def test_every_owner_write_applies_again_when_retried(postgres) -> None:
    """The journal retries a write whose answer an outage hid, so each write must report
    itself applied when it had already landed: a write that reports 0 rows reads as a lost
    lease and closes the session."""
    import asyncpg

    from gateway.storage.migrations import migrate
    from gateway.storage.store import OwnerWrites, RecordedAudio, Store, create_pool

    dsn = postgres.new_database()
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        store = Store(pool)
        await store.open_session("retry-1", "alice", scenario="job_interview", language="en")
        assert await store.acquire_lease("retry-1", "host", "token-1", 30) is not None
        writes = OwnerWrites(pool, "retry-1", "token-1")
        clip = RecordedAudio("opus", 16000, 1200, 2500)
        for _ in range(2):  # the first attempt, then its retry
            assert await writes.insert_turn(1, "Hello.", emotion="neutral", source="voice",
                                            client_timestamp=None, speech=None)
            assert await writes.save_audio(1, clip, b"OggS...")
            assert await writes.save_feedback(1, {"overall": 80})
            assert await writes.finish_turn(1, ai_reply="Hi.", status="complete",
                                            end_reason=None, timings={})
        assert list((await store.recordings("retry-1")).values()) == [clip]
        # Another owner's token applies nothing.
        stale = OwnerWrites(pool, "retry-1", "token-0")
        assert not await stale.save_audio(2, clip, b"OggS...")
    finally:
        await pool.close()
