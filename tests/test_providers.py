"""The OpenAI and Gemini providers, through their real SDKs, against a local wire-format server."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support import ask, reply_text, ws_url


def provider_settings(name: str, url: str, **extra: object) -> dict[str, object]:
    if name == "openai":
        return {"llm_provider": "openai", "openai_api_key": "sk-test-secret-123",
                "openai_base_url": f"{url}/v1", "llm_model": "gpt-test", **extra}
    return {"llm_provider": "gemini", "gemini_api_key": "gm-test-secret-456",
            "gemini_base_url": url, "llm_model": "gemini-test", **extra}


@pytest.mark.parametrize("provider", ["openai", "gemini"])
async def test_provider_streams_through_its_sdk(provider, gateway, fake_llm) -> None:
    server, url = fake_llm
    base = gateway(**provider_settings(provider, url))
    server.script.chunks = ["안녕하세요. ", "오늘 ", "어떠세요?"]
    async with connect(ws_url(base, f"p-{uuid.uuid4().hex[:8]}")) as ws:
        first = await ask(ws, "안녕")
        second = await ask(ws, "잘 지내요")
    assert reply_text(first) == "안녕하세요. 오늘 어떠세요?"
    assert [e["type"] for e in first].count("ai_stream_chunk") == 3
    assert second[-1]["type"] == "ai_stream_complete"
    request = server.requests[-1]
    if provider == "openai":
        body = request["body"]
        assert body["model"] == "gpt-test" and body["stream"] is True
        assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    else:
        assert re.fullmatch(r"/v1(beta)?/models/gemini-test:streamGenerateContent",
                            request["path"])
        assert request["query"].get("alt") == "sse"
        body = request["body"]
        assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
        assert "counselor" in body["systemInstruction"]["parts"][0]["text"]
    health = httpx.get(f"{base}/health").json()
    assert health["llm"] == {"provider": provider, "model": f"{provider}-test".replace(
        "openai-test", "gpt-test"), "is_language_model": True}


@pytest.mark.parametrize("provider", ["openai", "gemini"])
@pytest.mark.parametrize("failure", ["http_error", "break_mid_stream", "timeout"])
async def test_provider_failures_end_in_ai_stream_error(provider, failure, gateway, fake_llm):
    server, url = fake_llm
    base = gateway(**provider_settings(provider, url, llm_timeout_s=1.0))
    sid = f"f-{uuid.uuid4().hex[:8]}"
    server.script.chunks = ["partial ", "answer ", "never ", "finished"]
    if failure == "http_error":
        server.script.status = 500
    elif failure == "break_mid_stream":
        server.script.break_after = 2
    else:
        server.script.hang_after = 2
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, "hello")
        assert events[-1]["type"] == "ai_stream_error"
        reason = events[-1]["data"]["error"]
        assert reason and "Traceback" not in reason
        if failure == "timeout":
            assert "did not answer within 1 s" in reason
        # The socket is usable for the next turn.
        server.script = type(server.script)(chunks=["recovered"])
        events = await ask(ws, "again")
        assert reply_text(events) == "recovered" and events[-1]["type"] == "ai_stream_complete"
    turns = httpx.get(f"{base}/sessions/{sid}/turns").json()["turns"]
    assert turns[0]["status"] == "cut_short" and turns[0]["end_reason"] == "llm_error"
    expected_partial = "" if failure == "http_error" else "partial answer "
    assert turns[0]["ai_reply"] == expected_partial
    assert turns[1]["status"] == "complete"
