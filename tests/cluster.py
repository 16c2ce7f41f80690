"""A small cluster for tests and benchmarks: two gateway processes behind a real HAProxy
(Debian's package) against one PostgreSQL, with a scriptable LLM server."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.llm_servers import FakeLLMServer
from tests.support import ROOT, ask, free_port, serve_in_process, serve_in_thread, ws_url

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

class Cluster:
    def __init__(self, lb: str, database: str, llm: FakeLLMServer) -> None:
        self.lb = lb
        self.database = database
        self.llm = llm

    async def holder_pid(self, session_id: str) -> int:
        """The process that holds the session's lease (waiting for it to be taken)."""
        conn = await asyncpg.connect(self.database)
        try:
            for _ in range(100):
                holder = await conn.fetchval("SELECT lease_holder FROM sessions WHERE id = $1",
                                             session_id)
                if holder:
                    return int(holder.split(":")[1])
                await asyncio.sleep(0.05)
        finally:
            await conn.close()
        raise AssertionError(f"nobody holds {session_id}")

    async def turns(self, session_id: str) -> list[dict]:
        for _ in range(100):
            turns = httpx.get(f"{self.lb}/sessions/{session_id}/turns").json()["turns"]
            if all(t["status"] != "pending" for t in turns):
                return turns  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)
        raise AssertionError(f"turns still pending: {turns}")


@contextmanager
def running_cluster(database: str, tmp_path: Path, **env_overrides: str) -> Iterator[Cluster]:
    llm = FakeLLMServer()
    with ExitStack() as stack:
        llm_url = stack.enter_context(serve_in_thread(llm.app))
        ports = [free_port(), free_port()]
        for port in ports:
            env = {"DATABASE_URL": database, "LLM_PROVIDER": "openai",
                   "OPENAI_BASE_URL": f"{llm_url}/v1", "STT_PROVIDER": "none",
                   "TTS_PROVIDER": "none", "PARLEY_DATA_DIR": str(tmp_path / f"data{port}"),
                   "DRAIN_S": "20", "LOG_LEVEL": "warning", **env_overrides}
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


async def continue_session(lb: str, session_id: str, message: str) -> tuple[list[dict], int]:
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


