"""Text-turn latency through the real gateway, against a zero-delay local LLM server.

Prints JSON: p50/p95 of request -> first chunk and request -> complete through the
gateway, the same LLM's own first-token time measured directly (so the gateway's
overhead is their difference), and the history query time with 10,000 turns stored.

    python bench/text_turn.py [--turns 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from websockets.asyncio.client import connect

from gateway.storage.migrations import migrate
from gateway.storage.store import Store, create_pool
from scenarios.loader import builtin_catalog
from scenarios.prompts import PromptContext, compose_prompt
from tests.support import (
    PostgresForTests,
    free_port,
    next_event,
    send,
    serve_in_process,
    ws_url,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 0.5), "p95": pct(values, 0.95), "mean": round(statistics.mean(values), 3)}


async def through_gateway(base: str, turns: int) -> tuple[list[float], list[float]]:
    first, complete = [], []
    async with connect(ws_url(base, "bench-text")) as ws:
        for i in range(turns):
            started = time.perf_counter()
            await send(ws, "request_ai_response", message=f"benchmark message {i}")
            got_first = None
            while True:
                event = await next_event(ws)
                if event["type"] == "ai_stream_chunk" and got_first is None:
                    got_first = time.perf_counter()
                if event["type"] in ("ai_stream_complete", "ai_stream_error"):
                    assert event["type"] == "ai_stream_complete", event
                    break
            done = time.perf_counter()
            first.append((got_first - started) * 1000)  # type: ignore[operator]
            complete.append((done - started) * 1000)
    return first, complete


async def direct_first_token(llm_url: str, turns: int) -> list[float]:
    """The LLM server's own first-token time for a request of the gateway's shape
    (system prompt, 10 turns of history, the new message), read with a bare HTTP client."""
    catalog = builtin_catalog()
    system = compose_prompt(PromptContext(scenario=catalog.scenarios["counseling"],
                                          persona=catalog.personas["counselor"], language="ko",
                                          emotion="neutral"))
    messages = [{"role": "system", "content": system}]
    for i in range(10):
        messages += [{"role": "user", "content": f"benchmark message {i}"},
                     {"role": "assistant", "content": "Zero-delay reply from the local model."}]
    firsts = []
    async with httpx.AsyncClient(base_url=llm_url) as client:
        for i in range(turns):
            body = {"model": "bench", "stream": True,
                    "messages": [*messages, {"role": "user", "content": f"message {i}"}]}
            started = time.perf_counter()
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        firsts.append((time.perf_counter() - started) * 1000)
                        break
    return firsts


async def history_query(dsn: str, rows: int = 10_000, sessions: int = 100) -> dict[str, float]:
    pool = await create_pool(dsn)
    async with pool.acquire() as conn:
        await migrate(conn)
        await conn.executemany(
            "INSERT INTO sessions (id, owner, turn_count) VALUES ($1, 'bench', $2)",
            [(f"h{s}", rows // sessions) for s in range(sessions)])
        await conn.executemany(
            "INSERT INTO turns (session_id, seq, user_message, ai_reply, emotion, source, status)"
            " VALUES ($1, $2, $3, $4, 'neutral', 'text', 'complete')",
            [(f"h{i % sessions}", i // sessions + 1, f"user message {i} " * 8,
              f"assistant reply {i} " * 12) for i in range(rows)])
        await conn.execute("ANALYZE turns")
    store = Store(pool)
    timings = []
    for i in range(500):
        started = time.perf_counter()
        history = await store.recent_turns(f"h{i % sessions}", 10, before_seq=rows // sessions)
        timings.append((time.perf_counter() - started) * 1000)
        assert len(history) == 10
    await pool.close()
    return {"rows": rows, **summary(timings)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    # The LLM server and the gateway each run in their own process, as in production.
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)  # as root, the embedded PostgreSQL's own user must reach it
        postgres = PostgresForTests(Path(tmp) / "pg")
        try:
            llm_port, gw_port = free_port(), free_port()
            chunks = ["Zero-delay ", "reply ", "from ", "the ", "local ", "model."]
            llm_cmd = ["-m", "tests.fakes.llm_servers", "--port", str(llm_port), "--chunks",
                       *chunks]
            with serve_in_process(llm_cmd, llm_port, {}, ready_path="/") as llm_url:
                env = {"DATABASE_URL": postgres.new_database(), "LLM_PROVIDER": "openai",
                       "OPENAI_BASE_URL": f"{llm_url}/v1", "TTS_PROVIDER": "none",
                       "MAX_AI_REQUESTS_PER_MINUTE": "100000", "LOG_LEVEL": "warning",
                       "MAX_AI_REQUESTS_PER_MINUTE_PER_USER": "1000000",
                       "MAX_NEW_SESSIONS_PER_USER_PER_HOUR": "1000000",
                       "PARLEY_DATA_DIR": str(Path(tmp) / "data")}
                gw_cmd = ["-m", "gateway", "serve", "--port", str(gw_port)]
                with serve_in_process(gw_cmd, gw_port, env) as base:
                    asyncio.run(through_gateway(base, 20))  # warm-up
                    first, complete = asyncio.run(through_gateway(base, args.turns))
                asyncio.run(direct_first_token(llm_url, 20))  # warm-up
                direct = asyncio.run(direct_first_token(llm_url, args.turns))
            history = asyncio.run(history_query(postgres.new_database()))
        finally:
            postgres.stop()
    result = {
        "benchmark": "text_turn",
        "turns": args.turns,
        "request_to_first_chunk_ms": summary(first),
        "request_to_complete_ms": summary(complete),
        "llm_direct_first_token_ms": summary(direct),
        "gateway_overhead_first_chunk_p50_ms": round(pct(first, 0.5) - pct(direct, 0.5), 3),
        "history_query_ms": history,
        "targets": {"gateway_overhead_first_chunk_p50_ms": 5.0, "history_query_p50_ms": 2.0},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
