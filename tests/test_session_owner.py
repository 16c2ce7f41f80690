"""One owner per session: sockets, HTTP and processes that race for the same session."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.llm_servers import Script
from tests.support import ask, next_event, reply_text, send, settled_turns, ws_url


def new_id() -> str:
    return f"o-{uuid.uuid4().hex[:10]}"


async def _closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, None)


async def test_a_second_socket_takes_the_session_over(gateway) -> None:
    base, sid = gateway(), new_id()
    async with connect(ws_url(base, sid)) as first:
        await ask(first, "first socket")
        async with connect(ws_url(base, sid)) as second:
            code, reason = await _closed_with(first)
            assert code == 4409 and "another connection" in (reason or "")
            await send(second, "emotion_update", emotion="sad")
            events = await ask(second, "second socket")
            assert events[-1]["type"] == "ai_stream_complete"
    body = await settled_turns(base, sid, count=2)
    assert [t["user_message"] for t in body["turns"]] == ["first socket", "second socket"]
    assert body["turns"][1]["emotion"] == "sad"


async def test_http_end_goes_through_the_live_owner(gateway) -> None:
    base, sid = gateway(), new_id()
    async with connect(ws_url(base, sid)) as ws:
        await ask(ws, "before the end")
        response = await asyncio.to_thread(httpx.post, f"{base}/sessions/{sid}/end", timeout=30)
        assert response.status_code == 200 and response.json()["turns"] == 1
        report = await next_event(ws)
        assert report["type"] == "session_report"
        refused = await ask(ws, "after the end")
        assert refused[-1]["data"]["code"] == "session_ended"
    async with connect(ws_url(base, sid)) as again:
        refused = await ask(again, "on a new socket")
        assert refused[-1]["data"]["code"] == "session_ended"
    body = await settled_turns(base, sid)
    assert body["status"] == "ended" and len(body["turns"]) == 1


async def test_end_races_a_turn_and_the_session_stays_ended(gateway, fake_llm) -> None:
    server, url = fake_llm
    server.script = Script(chunks=["slow ", "reply ", "here."], delay_s=0.2)
    base, sid = gateway(llm_provider="openai", openai_base_url=url + "/v1"), new_id()
    async with connect(ws_url(base, sid)) as ws:
        await send(ws, "request_ai_response", message="one")
        end = asyncio.create_task(asyncio.to_thread(
            httpx.post, f"{base}/sessions/{sid}/end", timeout=30))
        await send(ws, "request_ai_response", message="two")
        assert (await end).status_code == 200
        await send(ws, "request_ai_response", message="three")
        while (event := await next_event(ws, timeout=10))["type"] != "ai_stream_error":
            pass
        assert event["data"]["code"] == "session_ended"
    body = await settled_turns(base, sid)
    assert body["status"] == "ended"
    assert all(t["status"] in ("complete", "cut_short") for t in body["turns"])
    report = httpx.get(f"{base}/sessions/{sid}/report").json()
    assert report["turns"] == len(body["turns"])


@pytest.mark.parametrize("how", ["interrupt", "new_message"])
async def test_a_cut_reply_gets_exactly_one_feedback(gateway, fake_llm, how) -> None:
    server, url = fake_llm
    server.script = Script(chunks=["a ", "slow ", "reply ", "that ", "goes ", "on."], delay_s=0.15)
    base, sid = gateway(llm_provider="openai", openai_base_url=url + "/v1"), new_id()
    async with connect(ws_url(base, sid)) as ws:
        await send(ws, "request_ai_response", message="first")
        while (await next_event(ws))["type"] != "ai_stream_chunk":
            pass
        if how == "interrupt":
            await send(ws, "interrupt")
        else:
            await send(ws, "request_ai_response", message="second")
        seen: list[dict] = []
        deadline = asyncio.get_running_loop().time() + 6
        while asyncio.get_running_loop().time() < deadline:
            try:
                seen.append(await next_event(ws, timeout=0.5))
            except TimeoutError:
                if how == "interrupt":
                    break
    feedback_turns = [e["data"]["turn"] for e in seen if e["type"] == "feedback"]
    assert feedback_turns.count(1) == 1, seen
    body = await settled_turns(base, sid)
    assert body["turns"][0]["status"] == "cut_short"


async def test_a_delivered_reply_stays_complete_when_the_next_message_is_quick(gateway) -> None:
    base, sid = gateway(max_ai_requests_per_minute=100), new_id()
    async with connect(ws_url(base, sid)) as ws:
        texts = []
        for i in range(20):
            await send(ws, "request_ai_response", message=f"message {i}")
            events = []
            while True:  # the next message goes out on ai_stream_complete, before feedback
                event = await next_event(ws)
                events.append(event)
                if event["type"] == "ai_stream_complete":
                    break
            texts.append(reply_text(events))
    body = await settled_turns(base, sid, count=20)
    assert [t["status"] for t in body["turns"]] == ["complete"] * 20
    assert [t["ai_reply"] for t in body["turns"]] == texts


async def test_two_processes_never_serve_one_session(gateway, postgres) -> None:
    database = postgres.new_database()
    one, two = gateway(database_url=database), gateway(database_url=database)
    sid = new_id()
    async with connect(ws_url(one, sid)) as owner_socket:
        await ask(owner_socket, "served by one")
        async with connect(ws_url(two, sid)) as other:
            code, reason = await _closed_with(other)
        assert code == 4423 and "another gateway process" in (reason or "")
        response = await asyncio.to_thread(httpx.post, f"{two}/sessions/{sid}/end", timeout=30)
        assert response.status_code == 409
    for _ in range(100):  # the first process lets the lease go once its socket is closed
        try:
            async with connect(ws_url(two, sid)) as moved:
                events = await ask(moved, "served by two")
                break
        except ConnectionClosed:
            await asyncio.sleep(0.1)
    assert events[-1]["type"] == "ai_stream_complete"
    body = await settled_turns(two, sid, count=2)
    assert [t["user_message"] for t in body["turns"]] == ["served by one", "served by two"]


async def test_a_dead_owners_pending_reply_is_marked_cut_short(gateway, postgres) -> None:
    database = postgres.new_database()
    base, sid = gateway(database_url=database), new_id()
    async with connect(ws_url(base, sid)) as ws:
        await ask(ws, "a finished turn")
    await settled_turns(base, sid)
    conn = await asyncpg.connect(database)
    try:  # another process died mid-reply: its lease ran out, its turn is still pending
        await conn.execute(
            "UPDATE sessions SET lease_holder = 'dead:1', lease_token = 'dead',"
            " lease_until = now() - interval '1 second', turn_count = 2 WHERE id = $1", sid)
        await conn.execute(
            "INSERT INTO turns (session_id, seq, user_message, ai_reply, emotion, source)"
            " VALUES ($1, 2, 'in flight', 'what had been sent', 'neutral', 'text')", sid)
    finally:
        await conn.close()
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, "after the takeover")
        assert events[-1]["type"] == "ai_stream_complete"
    body = await settled_turns(base, sid, count=2)
    statuses = [(t["seq"], t["status"], t["end_reason"], t["ai_reply"]) for t in body["turns"]]
    assert statuses[1] == (2, "cut_short", "owner_lost", "what had been sent")
    assert statuses[2][:2] == (3, "complete")


async def test_many_sockets_on_one_session_at_once(gateway) -> None:
    """Twenty sockets open the same session at once: one serves, the rest are told why."""
    base, sid = gateway(), new_id()
    sockets = [await connect(ws_url(base, sid)) for _ in range(20)]
    codes = await asyncio.gather(*(_closed_with(ws) for ws in sockets[:-1]))
    assert {code for code, _ in codes} == {4409}
    events = await ask(sockets[-1], "the last one serves")
    assert events[-1]["type"] == "ai_stream_complete"
    await sockets[-1].close()
    body = await settled_turns(base, sid)
    assert [t["ai_reply"] for t in body["turns"]] == [reply_text(events)]
