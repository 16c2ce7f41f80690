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
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.llm_servers import FakeLLMServer, Script
from tests.support import (
    ROOT,
    ask,
    free_port,
    next_event,
    reply_text,
    send,
    serve_in_process,
    serve_in_thread,
    ws_url,
)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
pytestmark = pytest.mark.skipif(not os.path.exists(HAPROXY),
                                reason="HAProxy is installed by `make test` (Debian's package)")


class Cluster:
    def __init__(self, lb: str, database: str, llm: FakeLLMServer) -> None:
        self.lb = lb
        self.database = database
        self.llm = llm

    async def holder_pid(self, session_id: str) -> int:
        conn = await asyncpg.connect(self.database)
        try:
            holder = await conn.fetchval("SELECT lease_holder FROM sessions WHERE id = $1",
                                         session_id)
        finally:
            await conn.close()
        return int(holder.split(":")[1])

    async def turns(self, session_id: str) -> list[dict]:
        for _ in range(100):
            turns = httpx.get(f"{self.lb}/sessions/{session_id}/turns").json()["turns"]
            if all(t["status"] != "pending" for t in turns):
                return turns  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)
        raise AssertionError(f"turns still pending: {turns}")


@pytest.fixture
def cluster(postgres, tmp_path) -> Iterator[Cluster]:
    database = postgres.new_database()
    llm = FakeLLMServer()
    with ExitStack() as stack:
        llm_url = stack.enter_context(serve_in_thread(llm.app))
        ports = [free_port(), free_port()]
        for port in ports:
            env = {"DATABASE_URL": database, "LLM_PROVIDER": "openai",
                   "OPENAI_BASE_URL": f"{llm_url}/v1", "STT_PROVIDER": "none",
                   "TTS_PROVIDER": "none", "PARLEY_DATA_DIR": str(tmp_path / f"data{port}"),
                   "DRAIN_S": "20", "LOG_LEVEL": "warning"}
            stack.enter_context(serve_in_process(["-m", "gateway", "serve", "--port", str(port)],
                                                 port, env, ready_path="/health/live"))
        lb_port = free_port()
        haproxy = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
            env={"PATH": os.environ["PATH"], "PARLEY_LB_BIND": f"127.0.0.1:{lb_port}",
                 "PARLEY_GW1": f"127.0.0.1:{ports[0]}", "PARLEY_GW2": f"127.0.0.1:{ports[1]}"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(haproxy.wait, 10)
        stack.callback(haproxy.terminate)
        lb = f"http://127.0.0.1:{lb_port}"
        deadline = time.monotonic() + 30
        while True:  # both replicas ready and seen by the load balancer's checks
            try:
                if all(httpx.get(f"http://127.0.0.1:{p}/health/ready").status_code == 200
                       for p in ports) and httpx.get(f"{lb}/health/live").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the cluster did not come up"
            time.sleep(0.2)
        time.sleep(2.5)  # HAProxy marks servers up after `rise 2` checks
        yield Cluster(lb, database, llm)


async def _continue(lb: str, session_id: str, message: str) -> tuple[list[dict], int]:
    """Reconnect through the load balancer until the session is served again; the reply
    and how many times the socket was refused while the dead process's lease ran out."""
    refusals = 0
    for _ in range(200):
        try:
            async with connect(ws_url(lb, session_id)) as ws:
                return await ask(ws, message), refusals
        except (ConnectionClosed, OSError):
            refusals += 1
            await asyncio.sleep(0.25)
    raise AssertionError("the session never continued")


async def test_a_killed_process_loses_no_turn(cluster: Cluster) -> None:
    sid = "failover"
    async with connect(ws_url(cluster.lb, sid)) as ws:
        await ask(ws, "my first words")
        cluster.llm.script = Script(chunks=[f"part {i}. " for i in range(20)], delay_s=0.2)
        await send(ws, "request_ai_response", message="my second words")
        received = []
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
    events, refusals = await _continue(cluster.lb, sid, "my third words")
    elapsed = time.monotonic() - killed_at
    print(f"continued {elapsed:.1f} s after SIGKILL, {refusals} refused reconnects")
    assert reply_text(events) == "Welcome back."
    history = [m["content"] for m in cluster.llm.last_messages() if m["role"] == "user"]
    assert history[-3:] == ["my first words", "my second words", "my third words"]
    turns = await cluster.turns(sid)
    assert [(t["seq"], t["status"]) for t in turns] == [(1, "complete"), (2, "cut_short"),
                                                        (3, "complete")]
    assert turns[1]["end_reason"] == "owner_lost"
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
    events, _ = await _continue(cluster.lb, sid, "and now?")
    assert reply_text(events) == "Still here."
    turns = await cluster.turns(sid)
    assert [t["status"] for t in turns] == ["complete", "complete"]
    assert turns[0]["ai_reply"] == "".join(f"part {i}. " for i in range(10))
