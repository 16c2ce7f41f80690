"""Scenarios over a real socket: choosing one, rapport, hold, safety, the admin API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect

from audio.tts import TTS
from gateway.app import create_app
from gateway.auth import mint_token
from tests.audio_support import spoken_reply
from tests.fakes.llm_servers import Script
from tests.support import ask, isolated_settings, next_event, reply_text, send, serve_in_thread, ws_url

SECRET = "scenario-tests-secret-0123456789abcdef0123"


def session(base: str, scenario: str, language: str = "en", token: str | None = None) -> str:
    response = httpx.post(f"{base}/sessions", json={"scenario": scenario, "language": language},
                          params={"token": token} if token else {})
    assert response.status_code == 201, response.text
    return response.json()["session_id"]  # type: ignore[no-any-return]


async def test_scenarios_are_listed_in_both_languages(gateway) -> None:
    base = gateway()
    listed = httpx.get(f"{base}/scenarios").json()["scenarios"]
    assert {s["id"] for s in listed} >= {"counseling", "job_interview", "manager_report",
                                         "relationship_talk", "customer_call"}
    for item in listed:
        assert item["title"]["ko"] and item["title"]["en"] and item["persona"]["traits"]
    response = httpx.post(f"{base}/sessions", json={"scenario": "karaoke"})
    assert response.status_code == 422 and "karaoke" in response.text


async def test_session_start_message_picks_the_scenario(gateway) -> None:
    base = gateway()
    async with connect(ws_url(base, f"st-{uuid.uuid4().hex[:8]}")) as ws:
        await send(ws, "session_start", scenario="job_interview", language="ko")
        started = await next_event(ws)
        assert started["type"] == "session_started"
        assert started["data"]["opening_line"].startswith("안녕하세요")
        assert started["data"]["rapport"] == {"value": 0.5, "stage": 3, "change": 0.0,
                                              "on_hold": False}
        await send(ws, "session_start", scenario="nope")
        assert (await next_event(ws))["data"]["code"] == "unknown_scenario"
        events = await ask(ws, "안녕하세요. 저는 5년 차 백엔드 개발자 김하늘입니다. "
                               "결제 시스템을 만들었습니다.")
        await send(ws, "session_start", scenario="counseling")
        assert (await next_event(ws))["data"]["code"] == "session_already_started"
    assert "지원하신 이유" in reply_text(events)  # the scripted interviewer's next question


async def test_scripted_interviewer_walks_the_bank_with_follow_ups(gateway) -> None:
    base = gateway()
    sid = session(base, "job_interview", "en")
    async with connect(ws_url(base, sid)) as ws:
        vague = reply_text(await ask(ws, "Um, I don't know"))
        specific = reply_text(await ask(ws, "I led the payments team for three years and cut "
                                            "checkout errors by half, thank you for asking."))
        third = await ask(ws, "I applied because your product helps small shops, and I want "
                              "to work on tools like that every day.")
    assert "proudest" in vague  # the opening question's follow-up
    assert "Why did you apply" in specific and "[[" not in specific
    rapport = [e for e in third if e["type"] == "rapport"]
    assert rapport and rapport[0]["data"]["value"] > 0.5
    assert "strength" in reply_text(third)


async def test_scripted_manager_presses_in_korean(gateway) -> None:
    base = gateway()
    sid = session(base, "manager_report", "ko")
    async with connect(ws_url(base, sid)) as ws:
        reply = reply_text(await ask(ws, "부장님, 프로젝트 일정이 2주 지연될 것 같습니다. "
                                         "원인과 대책을 말씀드리겠습니다."))
    assert "원인" in reply


async def test_rapport_tag_moves_rapport_and_never_reaches_text(gateway, fake_llm) -> None:
    server, url = fake_llm
    base = gateway(llm_provider="openai", openai_base_url=f"{url}/v1")
    sid = session(base, "customer_call", "en")
    server.script = Script(chunks=["I hear you. ", "Let me fix it.", "\n[[rap", "port:+0.", "2]]"])
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, "I'm so sorry about the double charge, let me look into it now.")
    chunks = [e["data"]["chunk"] for e in events if e["type"] == "ai_stream_chunk"]
    assert "".join(chunks).strip() == "I hear you. Let me fix it."
    assert not any("[" in c or "rapport" in c for c in chunks)
    [change] = [e["data"] for e in events if e["type"] == "rapport"]
    assert change == {"value": 0.7, "stage": 4, "change": 0.2, "on_hold": False}
    assert "[[rapport:" in server.last_messages()[0]["content"]  # the model was asked for it
    turns = httpx.get(f"{base}/sessions/{sid}/turns").json()
    assert "[[" not in turns["turns"][0]["ai_reply"] and turns["rapport"] == pytest.approx(0.7)


class RecordingTTS(TTS):
    """A voice that records what it was asked to say (silence of a plausible length)."""

    name = "recording"
    sample_rate = 16000

    def __init__(self) -> None:
        self.spoken: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        self.spoken.append(text)
        yield b"\x00\x00" * 800 * len(text)


async def test_rapport_tag_is_never_spoken(postgres, models_dir, tmp_path, fake_llm) -> None:
    server, url = fake_llm
    settings = isolated_settings(
        database_url=postgres.new_database(), llm_provider="openai",
        openai_base_url=f"{url}/v1", stt_provider="none", tts_provider="none",
        parley_data_dir=tmp_path, parley_models_dir=models_dir, tts_lead_ms=60_000)
    app = create_app(settings)
    with serve_in_thread(app) as base:
        voice = RecordingTTS()
        app.state.services.speech.tts = {"en": voice, "ko": voice}
        sid = session(base, "job_interview", "en")
        server.script = Script(chunks=["Thanks. ", "Why us? [[rapp", "ort:+0.1]]"])
        await spoken_reply(ws_url(base, sid), "I have ten years of experience.")
    assert " ".join(voice.spoken) == "Thanks. Why us?"
    assert all("[" not in text for text in voice.spoken)


async def test_rapport_zero_ends_the_conversation_and_holds_the_session(gateway, fake_llm) -> None:
    server, url = fake_llm
    base = gateway(llm_provider="openai", openai_base_url=f"{url}/v1")
    sid = session(base, "customer_call", "en")
    server.script = Script(chunks=["That's not good enough. ", "[[rapport:-0.1]]"])
    async with connect(ws_url(base, sid)) as ws:
        for _ in range(4):
            await ask(ws, "Whatever, not my problem.")
        last = await ask(ws, "Calm down.")
        [change] = [e["data"] for e in last if e["type"] == "rapport"]
        assert change == {"value": 0.0, "stage": 1, "change": -0.1, "on_hold": True}
        assert "supervisor" in reply_text(last)  # the customer's closing line
        assert last[-1]["type"] == "ai_stream_complete"
        [refused] = await ask(ws, "Wait, I'm sorry!")
        assert refused["type"] == "ai_stream_error" and refused["data"]["code"] == "session_on_hold"
    state = httpx.get(f"{base}/sessions/{sid}/turns").json()
    assert state["status"] == "on_hold" and len(state["turns"]) == 5


@pytest.mark.parametrize(("language", "message", "line"), [
    ("ko", "요즘 너무 힘들어서 죽고 싶어요", "109"),
    ("en", "Honestly I just want to kill myself", "988"),
])
async def test_risk_gets_the_safety_reply_escalation_and_a_flag(gateway, fake_llm, language,
                                                                message, line) -> None:
    server, url = fake_llm
    base = gateway(llm_provider="openai", openai_base_url=f"{url}/v1")
    sid = session(base, "job_interview", language)
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, message)
    types = [e["type"] for e in events]
    assert types[0] == "escalation" and types[-1] == "ai_stream_complete"
    assert events[0]["data"]["priority"] == "urgent"
    assert line in reply_text(events)
    assert server.requests == []  # answered at once, without the model
    state = httpx.get(f"{base}/sessions/{sid}/turns").json()
    assert state["flagged_for_human"] is True and "self-harm" in state["flag_reason"]
    assert state["turns"][0]["ai_reply"] == reply_text(events)


async def test_admin_edit_changes_the_next_turn_prompt(gateway, fake_llm) -> None:
    server, url = fake_llm
    base = gateway(llm_provider="openai", openai_base_url=f"{url}/v1", jwt_secret_key=SECRET)
    admin, user = mint_token(SECRET, "ops", roles=("admin",)), mint_token(SECRET, "alice")
    sid = session(base, "job_interview", "en", token=user)
    async with connect(ws_url(base, sid, user)) as ws:
        await ask(ws, "Hello, I am ready for the interview today, thank you.")
        assert "MARKER-42" not in server.last_messages()[0]["content"]
        definition = httpx.get(f"{base}/scenarios/job_interview", params={"token": user}).json()
        definition.pop("persona_detail")
        definition["situation"]["en"] = "A design-systems role. MARKER-42"
        headers = {"Authorization": f"Bearer {admin}"}
        put = httpx.put(f"{base}/admin/scenarios/job_interview", json=definition, headers=headers)
        assert put.status_code == 201, put.text
        await ask(ws, "I have built component libraries for six years at two companies.")
        assert "MARKER-42" in server.last_messages()[0]["content"]
        # Deleting the operator's version falls back to the read-only built-in one.
        assert httpx.delete(f"{base}/admin/scenarios/job_interview",
                            headers=headers).status_code == 204
        assert httpx.delete(f"{base}/admin/scenarios/job_interview",
                            headers=headers).status_code == 409
        await ask(ws, "I also mentor two junior engineers every week in our team.")
        assert "MARKER-42" not in server.last_messages()[0]["content"]


async def test_admin_api_refuses_non_admins_and_bad_input(gateway) -> None:
    base = gateway(jwt_secret_key=SECRET)
    user = {"Authorization": f"Bearer {mint_token(SECRET, 'alice')}"}
    admin = {"Authorization": f"Bearer {mint_token(SECRET, 'ops', roles=('admin',))}"}
    persona = {"id": "coach", "name": {"ko": "코치", "en": "Coach"},
               "role": {"ko": "발표 코치", "en": "Presentation coach"}, "traits": ["warm", "direct"]}
    assert httpx.put(f"{base}/admin/personas/coach", json=persona, headers=user).status_code == 403
    assert httpx.put(f"{base}/admin/personas/coach", json=persona, headers=admin).status_code == 201
    bad = {**persona, "traits": ["grumpy"]}
    response = httpx.put(f"{base}/admin/personas/coach", json=bad, headers=admin)
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"][-2:] == ["traits", 0] and "warm" in detail["msg"]
    scenario = httpx.get(f"{base}/scenarios/customer_call", headers=user).json()
    scenario.pop("persona_detail")
    scenario.update(id="pitch", persona="nobody")
    response = httpx.put(f"{base}/admin/scenarios/pitch", json=scenario, headers=admin)
    assert response.status_code == 422 and "nobody" in response.text
    scenario["persona"] = "coach"
    assert httpx.put(f"{base}/admin/scenarios/pitch", json=scenario, headers=admin).status_code == 201
    listed = {s["id"] for s in httpx.get(f"{base}/scenarios", headers=user).json()["scenarios"]}
    assert "pitch" in listed
    assert httpx.delete(f"{base}/admin/personas/coach", headers=admin).status_code == 409
