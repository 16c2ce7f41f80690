"""Two gateway processes behind a real HAProxy (Debian's package), one PostgreSQL.

The process serving a session is killed with SIGKILL mid-reply: the client reconnects
through the load balancer, continues on the other process with its history, and the cut
reply is stored cut short with what had been sent, not left pending. SIGTERM drains: the
reply in flight finishes, then the socket is closed with 1012 and the client continues on
the other process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.cluster import HAPROXY, Cluster, continue_session, running_cluster
from tests.fakes.llm_servers import Script
from tests.support import ask, next_event, reply_text, send, ws_url

pytestmark = pytest.mark.skipif(not os.path.exists(HAPROXY),
                                reason="HAProxy is installed by `make test` (Debian's package)")
PER_USER = 8


@pytest.fixture
def cluster(postgres, tmp_path) -> Iterator[Cluster]:
    with running_cluster(postgres.new_database(), tmp_path,
                         MAX_AI_REQUESTS_PER_MINUTE_PER_USER=str(PER_USER)) as running:
        yield running


async def test_a_killed_process_loses_no_turn(cluster: Cluster) -> None:
    sid = "failover"
    async with connect(ws_url(cluster.lb, sid)) as ws:
        await ask(ws, "my first words")
        await send(ws, "emotion_update", emotion="anxious")  # state that must move with it
        cluster.llm.script = Script(chunks=[f"part {i}. " for i in range(20)], delay_s=0.2)
        await send(ws, "request_ai_response", message="my second words")
        received: list[str] = []
        while len(received) < 3:
            event = await next_event(ws)
            if event["type"] == "ai_stream_chunk":
                received.append(event["data"]["chunk"])
        await asyncio.sleep(0.1)  # what was sent is recorded as it goes
        killed_at = time.monotonic()
        os.kill(await cluster.holder_pid(sid), signal.SIGKILL)
        try:
            while True:
                event = await next_event(ws, timeout=10)
                if event["type"] == "ai_stream_chunk":
                    received.append(event["data"]["chunk"])
        except (ConnectionClosed, TimeoutError):
            pass
    cluster.llm.script = Script(chunks=["Welcome back."])
    events, refusals = await continue_session(cluster.lb, sid, "my third words")
    elapsed = time.monotonic() - killed_at
    print(f"continued {elapsed:.1f} s after SIGKILL, {refusals} refused reconnects")
    assert reply_text(events) == "Welcome back."
    history = [m["content"] for m in cluster.llm.last_messages() if m["role"] == "user"]
    assert history[-3:] == ["my first words", "my second words", "my third words"]
    turns = await cluster.turns(sid)
    assert [(t["seq"], t["status"]) for t in turns] == [(1, "complete"), (2, "cut_short"),
                                                        (3, "complete")]
    assert turns[1]["end_reason"] == "owner_lost"
    assert turns[2]["emotion"] == "anxious"  # the session's emotion continued too
    assert turns[1]["ai_reply"] and "".join(received).startswith(turns[1]["ai_reply"])


async def test_sigterm_drains_without_losing_a_reply(cluster: Cluster) -> None:
    sid = "drain"
    cluster.llm.script = Script(chunks=[f"part {i}. " for i in range(10)], delay_s=0.2)
    async with connect(ws_url(cluster.lb, sid)) as ws:
        await send(ws, "request_ai_response", message="a long answer please")
        while (await next_event(ws))["type"] != "ai_stream_chunk":
            pass
        os.kill(await cluster.holder_pid(sid), signal.SIGTERM)
        events = []
        while (event := await next_event(ws))["type"] != "ai_stream_complete":
            events.append(event)
        try:
            while True:
                await next_event(ws, timeout=30)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1012
    cluster.llm.script = Script(chunks=["Still here."])
    events, _ = await continue_session(cluster.lb, sid, "and now?")
    assert reply_text(events) == "Still here."
    turns = await cluster.turns(sid)
    assert [t["status"] for t in turns] == ["complete", "complete"]
    assert turns[0]["ai_reply"] == "".join(f"part {i}. " for i in range(10))


async def test_the_per_user_limit_holds_across_both_processes(cluster: Cluster) -> None:
    by_process = {}
    for i in range(40):  # open sessions until each process serves one (no turn spent yet)
        ws = await connect(ws_url(cluster.lb, f"limit-{i}"))
        pid = await cluster.holder_pid(f"limit-{i}")
        if pid in by_process:
            await ws.close()
            continue
        by_process[pid] = ws
        if len(by_process) == 2:
            break
    assert len(by_process) == 2, "no session landed on the second process"
    sockets = list(by_process.values())
    outcomes = []
    for turn in range(12):
        events = await ask(sockets[turn % 2], "again")
        outcomes.append(events[-1]["data"].get("code") or events[-1]["type"])
    for ws in sockets:
        await ws.close()
    assert outcomes.count("ai_stream_complete") == PER_USER
    assert outcomes.count("rate_limited") == 12 - PER_USER
