"""Contract sections 1-2 over a real socket, with the offline scripted counterpart."""

from __future__ import annotations

import uuid

import httpx
from websockets.asyncio.client import connect

from tests.support import ask, collect_reply, next_event, reply_text, send, ws_url


def new_id() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


async def test_text_turn_streams_begin_chunks_complete(gateway) -> None:
    base = gateway()
    async with connect(ws_url(base, new_id())) as ws:
        events = await ask(ws, "요즘 회사에서 스트레스를 많이 받아요", emotion="anxious",
                           timestamp=1704902400000)
    types = [e["type"] for e in events]
    assert types[0] == "ai_stream_begin" and types[-1] == "ai_stream_complete"
    assert set(types[1:-1]) == {"ai_stream_chunk"} and len(types) > 3
    assert all("text" not in e["data"] for e in events)
    text = reply_text(events)
    assert "불안" in text and "회사에서 스트레스를 많이 받아요" in text


async def test_reply_is_stored_with_emotion_and_timings(gateway) -> None:
    base, sid = gateway(), new_id()
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, "I feel great today", emotion="happy")
    turns = httpx.get(f"{base}/sessions/{sid}/turns").json()["turns"]
    assert len(turns) == 1
    turn = turns[0]
    assert turn["user_message"] == "I feel great today"
    assert turn["ai_reply"] == reply_text(events)
    assert (turn["emotion"], turn["source"], turn["status"]) == ("happy", "text", "complete")
    assert {"first_chunk_ms", "complete_ms"} <= set(turn["timings"])


async def test_validation_errors_keep_the_socket_open(gateway) -> None:
    base = gateway(max_message_chars=2000)
    async with connect(ws_url(base, new_id())) as ws:
        cases = {
            "   ": "empty",
            "x" * 2001: "2001 characters",
        }
        for message, needle in cases.items():
            [event] = await ask(ws, message)
            assert event["type"] == "ai_stream_error" and needle in event["data"]["error"]
        [event] = await ask(ws, "hello", emotion="bored")
        assert event["type"] == "ai_stream_error"
        assert "unknown emotion 'bored'" in event["data"]["error"]
        events = await ask(ws, "x" * 2000)
        assert events[-1]["type"] == "ai_stream_complete"


async def test_null_emotion_uses_the_current_emotion(gateway, fake_llm) -> None:
    server, url = fake_llm
    base = gateway(llm_provider="openai", openai_base_url=f"{url}/v1")
    async with connect(ws_url(base, new_id())) as ws:
        await ask(ws, "first", emotion=None)
        assert "경청" in server.last_messages()[0]["content"]
        await send(ws, "emotion_update", emotion="sad", confidence=0.8)
        await ask(ws, "second", emotion=None)
        assert "슬퍼 보입니다" in server.last_messages()[0]["content"]
        await ask(ws, "third", emotion="angry")
        assert "화가 나 보입니다" in server.last_messages()[0]["content"]


async def test_bad_frames_get_error_events(gateway) -> None:
    base = gateway()
    async with connect(ws_url(base, new_id())) as ws:
        await ws.send("{not json")
        event = await next_event(ws)
        assert event == {"type": "error", "data": {"error": "the frame is not valid JSON",
                                                   "code": "invalid_json"}}
        await send(ws, "dance")
        event = await next_event(ws)
        assert event["type"] == "error" and event["data"]["code"] == "unknown_type"
        assert "'dance'" in event["data"]["error"]
        await send(ws, "emotion_update", emotion="bored")
        event = await next_event(ws)
        assert event["type"] == "error" and "unknown emotion 'bored'" in event["data"]["error"]
        await send(ws, "vad_metrics", speech_prob=0.3, rms=0.01)
        events = await ask(ws, "still here?")
        assert events[-1]["type"] == "ai_stream_complete"


async def test_session_id_is_validated(gateway) -> None:
    from websockets.exceptions import ConnectionClosed

    base = gateway()
    for bad in ("a" * 129, "bad.id", "semi;colon", "%ED%95%9C"):
        async with connect(ws_url(base, bad)) as ws:
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4400
                assert "1-128" in closed.rcvd.reason
            else:
                raise AssertionError(f"{bad!r} was accepted")
    async with connect(ws_url(base, "a" * 128)) as ws:
        assert (await ask(ws, "ok"))[-1]["type"] == "ai_stream_complete"


async def test_rate_limit_refuses_the_eleventh_request(gateway) -> None:
    base, sid = gateway(max_ai_requests_per_minute=10), new_id()
    async with connect(ws_url(base, sid)) as ws:
        for i in range(10):
            assert (await ask(ws, f"message {i}"))[-1]["type"] == "ai_stream_complete"
        [event] = await ask(ws, "one too many")
        assert event["type"] == "ai_stream_error"
        assert "at most 10 AI requests per minute" in event["data"]["error"]
    # A reconnect does not reset the window.
    async with connect(ws_url(base, sid)) as ws:
        [event] = await ask(ws, "after reconnect")
        assert event["data"]["code"] == "rate_limited"


async def test_history_is_the_ten_most_recent_turns(gateway, fake_llm) -> None:
    server, url = fake_llm
    base, sid = gateway(llm_provider="openai", openai_base_url=f"{url}/v1",
                        max_ai_requests_per_minute=100), new_id()
    async with connect(ws_url(base, sid)) as ws:
        for i in range(1, 14):
            server.script.chunks = [f"reply {i}"]
            await ask(ws, f"message {i}")
    messages = server.last_messages()
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users == [f"message {i}" for i in range(3, 14)]  # turns 3-12 as history, then 13
    assistants = [m["content"] for m in messages if m["role"] == "assistant"]
    assert assistants == [f"reply {i}" for i in range(3, 13)]
    assert messages[0]["role"] == "system"


async def test_history_survives_a_reconnect(gateway, fake_llm) -> None:
    server, url = fake_llm
    base, sid = gateway(llm_provider="openai", openai_base_url=f"{url}/v1"), new_id()
    async with connect(ws_url(base, sid)) as ws:
        server.script.chunks = ["I hear you."]
        await ask(ws, "I could not sleep")
    async with connect(ws_url(base, sid)) as ws:
        await ask(ws, "It happened again")
    contents = [(m["role"], m["content"]) for m in server.last_messages()[1:]]
    assert contents == [("user", "I could not sleep"), ("assistant", "I hear you."),
                        ("user", "It happened again")]


async def test_disconnect_mid_reply_stores_it_cut_short(gateway, fake_llm) -> None:
    server, url = fake_llm
    base, sid = gateway(llm_provider="openai", openai_base_url=f"{url}/v1"), new_id()
    server.script.chunks = ["one ", "two ", "three ", "four"]
    server.script.hang_after = 2
    async with connect(ws_url(base, sid)) as ws:
        await send(ws, "request_ai_response", message="talk to me")
        seen = [await next_event(ws) for _ in range(3)]
        assert [e["type"] for e in seen] == ["ai_stream_begin", "ai_stream_chunk",
                                             "ai_stream_chunk"]
    turn = await _wait_for_turn_status(base, sid, "cut_short")
    assert turn["ai_reply"] == "one two " and turn["end_reason"] == "disconnected"


async def _wait_for_turn_status(base: str, sid: str, status: str) -> dict:
    import asyncio

    async with httpx.AsyncClient() as client:
        for _ in range(200):
            turns = (await client.get(f"{base}/sessions/{sid}/turns")).json()["turns"]
            if turns and turns[-1]["status"] == status:
                return turns[-1]
            await asyncio.sleep(0.05)
    raise AssertionError(f"turn never reached {status}: {turns}")


async def test_a_new_request_supersedes_the_reply_in_progress(gateway, fake_llm) -> None:
    server, url = fake_llm
    base, sid = gateway(llm_provider="openai", openai_base_url=f"{url}/v1"), new_id()
    server.script.chunks = ["slow ", "reply"]
    server.script.hang_after = 1
    async with connect(ws_url(base, sid)) as ws:
        await send(ws, "request_ai_response", message="first")
        assert (await next_event(ws))["type"] == "ai_stream_begin"
        assert (await next_event(ws))["data"]["chunk"] == "slow "
        server.script.hang_after = None
        server.script.chunks = ["second answer"]
        events = await ask(ws, "second")
        assert reply_text(events) == "second answer"
    turns = httpx.get(f"{base}/sessions/{sid}/turns").json()["turns"]
    assert [(t["status"], t["ai_reply"]) for t in turns] == [
        ("cut_short", "slow "), ("complete", "second answer")]
    assert turns[0]["end_reason"] == "superseded"


async def test_unknown_session_history_is_404(gateway) -> None:
    base = gateway()
    assert httpx.get(f"{base}/sessions/nope/turns").status_code == 404


async def test_collect_reply_skips_nothing(gateway) -> None:
    base = gateway()
    async with connect(ws_url(base, new_id())) as ws:
        await send(ws, "request_ai_response", message="hi")
        events = await collect_reply(ws)
    assert events[0]["data"] == {"turn": 1}


async def test_openapi_docs_are_served(gateway) -> None:
    base = gateway()
    assert httpx.get(f"{base}/docs").status_code == 200
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    assert {"/health", "/sessions", "/sessions/{session_id}/turns", "/scenarios",
            "/sessions/{session_id}/report"} <= set(paths)
