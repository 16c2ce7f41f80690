"""The model fails in every way a network and a provider can: what is stored is what was sent.

Each fault runs through the real `openai` / `google-genai` SDK against a local server that
speaks the wire format and misbehaves as scripted. Invariants: the client gets an
`ai_stream_error` with a specific code, the turn is stored `cut_short` with exactly the
text the client received (never `complete`), and the socket takes the next turn.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.fakes.llm_servers import CloseDelimitedSSE, Script
from tests.support import ask, reply_text, ws_url

CHUNKS = ["The first part of the reply, ", "then a second part, ", "and the end."]

FAULTS = {
    "http_500": Script(chunks=CHUNKS, status=500),
    "http_429": Script(chunks=CHUNKS, status=429),
    "hang_mid_reply": Script(chunks=CHUNKS, hang_after=1),
    "drop_chunked_body": Script(chunks=CHUNKS, break_after=2),
    "clean_early_end": Script(chunks=CHUNKS[:2], finish=False),
    "garbage_sse": Script(chunks=CHUNKS, garbage_after=1),
}


def _settings(provider: str, url: str) -> dict[str, object]:
    if provider == "openai":
        return {"llm_provider": "openai", "openai_base_url": url + "/v1", "llm_timeout_s": 1.0}
    return {"llm_provider": "gemini", "gemini_api_key": "test-key", "gemini_base_url": url,
            "llm_timeout_s": 1.0}


async def _stored(base: str, sid: str) -> list[dict]:
    for _ in range(100):
        turns = httpx.get(f"{base}/sessions/{sid}/turns").json()["turns"]
        if turns and all(t["status"] != "pending" for t in turns):
            return turns  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"turns still pending: {turns}")


@pytest.mark.parametrize("provider", ["openai", "gemini"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_a_failing_model_is_stored_as_sent(gateway, fake_llm, provider, fault) -> None:
    server, url = fake_llm
    base, sid = gateway(**_settings(provider, url)), f"f-{uuid.uuid4().hex[:8]}"
    server.script = FAULTS[fault]
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, "hello there")
        assert events[-1]["type"] == "ai_stream_error", events
        error = events[-1]["data"]
        assert error["code"] in ("llm_error", "llm_incomplete") and "Traceback" not in error["error"]
        sent = reply_text(events)
        assert sent != "".join(CHUNKS)
        server.script = Script(chunks=["recovered."])
        again = await ask(ws, "and again")
        assert reply_text(again) == "recovered." and again[-1]["type"] == "ai_stream_complete"
    first, second = await _stored(base, sid)
    assert (first["status"], first["end_reason"], first["ai_reply"]) == (
        "cut_short", error["code"], sent)
    assert (second["status"], second["ai_reply"]) == ("complete", "recovered.")


async def test_a_close_delimited_body_that_ends_early_is_not_complete(gateway) -> None:
    """HTTP/1.0-style: no length, no chunking, the server closes before the end signal.
    To the SDK that is a normal end of the body; only the missing finish says otherwise."""
    server = CloseDelimitedSSE(CHUNKS[:2])
    url = await server.start()
    try:
        base, sid = gateway(llm_provider="openai", openai_base_url=url), "close-delimited"
        async with connect(ws_url(base, sid)) as ws:
            events = await ask(ws, "hello")
        assert events[-1]["type"] == "ai_stream_error"
        assert events[-1]["data"]["code"] == "llm_incomplete"
        assert reply_text(events) == "".join(CHUNKS[:2])
        [turn] = await _stored(base, sid)
        assert (turn["status"], turn["ai_reply"]) == ("cut_short", "".join(CHUNKS[:2]))
    finally:
        await server.aclose()


async def test_a_finished_reply_is_complete_with_every_character(gateway, fake_llm) -> None:
    server, url = fake_llm
    base, sid = gateway(llm_provider="openai", openai_base_url=url + "/v1"), "finished"
    server.script = Script(chunks=CHUNKS)
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, "hello")
    assert events[-1]["type"] == "ai_stream_complete"
    [turn] = await _stored(base, sid)
    assert (turn["status"], turn["ai_reply"]) == ("complete", "".join(CHUNKS))
