"""Real servers for tests and benchmarks: uvicorn on 127.0.0.1 in a thread, and WS helpers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection

from gateway.config import Settings
from gateway.storage.embedded import EmbeddedPostgres

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
ENV_VARS = ("DATABASE_URL", "GEMINI_API_KEY", "GEMINI_BASE_URL", "JWT_SECRET_KEY",
            "MAX_AI_REQUESTS_PER_MINUTE", "OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_PROVIDER",
            "LLM_MODEL", "LLM_TIMEOUT_S", "MAX_MESSAGE_CHARS", "HISTORY_TURNS", "PARLEY_DATA_DIR",
            "STT_PROVIDER", "STT_MODEL", "TTS_PROVIDER", "VAD_SILENCE_MS", "VAD_SPECULATIVE_MS")


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run `app` under a real uvicorn on 127.0.0.1 (a free port); yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio",
                            ws_max_size=4 * 1024 * 1024, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def isolated_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's `.env` and environment."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def ws_url(base: str, session_id: str, token: str | None = None) -> str:
    url = base.replace("http://", "ws://") + f"/ws/session/{session_id}"
    return url + (f"?token={token}" if token else "")


async def send(ws: ClientConnection, type_: str, **data: Any) -> None:
    await ws.send(json.dumps({"type": type_, "data": data}, ensure_ascii=False))


async def next_event(ws: ClientConnection, timeout: float = 60) -> dict[str, Any]:
    """The next JSON event, skipping binary audio frames."""
    while True:
        frame = await asyncio.wait_for(ws.recv(), timeout)
        if isinstance(frame, str):
            return json.loads(frame)  # type: ignore[no-any-return]


async def collect_reply(ws: ClientConnection, timeout: float = 60) -> list[dict[str, Any]]:
    """Events up to and including `ai_stream_complete` or `ai_stream_error`; for a turn
    that was accepted (it began), the `feedback` event that follows is read too but
    returned apart (see `last_feedback`)."""
    events = []
    while True:
        event = await next_event(ws, timeout)
        events.append(event)
        if event["type"] in ("ai_stream_complete", "ai_stream_error"):
            break
    if any(e["type"] == "ai_stream_begin" for e in events):
        while True:
            event = await next_event(ws, timeout)
            if event["type"] == "feedback":
                FEEDBACK[id(ws)] = event["data"]
                break
            events.append(event)
    return events


FEEDBACK: dict[int, dict[str, Any]] = {}


def last_feedback(ws: ClientConnection) -> dict[str, Any]:
    return FEEDBACK[id(ws)]


def reply_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["chunk"] for e in events if e["type"] == "ai_stream_chunk")


async def ask(ws: ClientConnection, message: str, **data: Any) -> list[dict[str, Any]]:
    await send(ws, "request_ai_response", message=message, **data)
    return await collect_reply(ws)


class PostgresForTests:
    """One embedded server for the whole test session; a fresh database per caller."""

    def __init__(self, data_dir: Any) -> None:
        self.server = EmbeddedPostgres(data_dir)
        self.url = self.server.start()
        self._count = 0

    def new_database(self) -> str:
        self._count += 1
        name = f"test_{self._count}_{int(time.time() * 1000) % 100000}"
        self.server.psql(f'CREATE DATABASE "{name}"')
        return self.url.replace("/parley?", f"/{name}?")

    def stop(self) -> None:
        self.server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess(str):
    """A server's base URL that also knows the server's process id."""

    pid: int


@contextmanager
def serve_in_process(argv: list[str], port: int, env: dict[str, str],
                     ready_path: str = "/health", stderr: Any = None) -> Iterator[ServerProcess]:
    """Run a server command in its own process; yield its base URL once `ready_path` answers."""
    import os
    import subprocess
    import sys

    import httpx

    root = str(ROOT)
    full_env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    full_env.update(env, PYTHONPATH=root)
    proc = subprocess.Popen([sys.executable, *argv], env=full_env, cwd=root,
                            stdout=stderr or subprocess.DEVNULL, stderr=stderr or subprocess.PIPE,
                            text=True)
    base = ServerProcess(f"http://127.0.0.1:{port}")
    base.pid = proc.pid
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                httpx.get(base + ready_path, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv} did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None and stderr is None:
            proc.stderr.close()


async def settled_turns(base: str, session_id: str, count: int = 1) -> dict[str, Any]:
    """GET /sessions/{id}/turns once at least `count` turns are stored and none is pending:
    the owner writes a turn through its journal, just after the events that start and end
    it (a voice turn's row waits for its acoustic evidence, made in a worker)."""
    import asyncio

    import httpx

    for _ in range(200):
        body: dict[str, Any] = httpx.get(f"{base}/sessions/{session_id}/turns").json()
        if len(body["turns"]) >= count and all(t["status"] != "pending" for t in body["turns"]):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"turns still pending or not stored: {body}")
