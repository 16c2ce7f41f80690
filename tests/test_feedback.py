"""Feedback through the gateway: live after each turn, and the session report."""

from __future__ import annotations

import json
import re
import uuid

import httpx
from websockets.asyncio.client import connect

from tests.fakes.llm_servers import Script
from tests.support import ask, last_feedback, next_event, send, ws_url


def session(base: str, scenario: str = "job_interview", language: str = "en") -> str:
    response = httpx.post(f"{base}/sessions", json={"scenario": scenario, "language": language})
    assert response.status_code == 201
    return response.json()["session_id"]  # type: ignore[no-any-return]


async def test_each_turn_gets_feedback_after_its_reply(gateway) -> None:
    base = gateway()
    sid = session(base)
    async with connect(ws_url(base, sid)) as ws:
        events = await ask(ws, "Um, so, like, I basically led the team, you know?")
        feedback = last_feedback(ws)
    assert events[-1]["type"] == "ai_stream_complete"
    assert feedback["turn"] == 1 and feedback["scores"]["pace"] is None  # typed: no pace
    fillers = feedback["highlights"]["fillers"]
    assert [(f["text"], f["word_index"]) for f in fillers] == [
        ("um", 0), ("so", 1), ("like", 2), ("basically", 4), ("you know", 8)]
    assert feedback["scores"]["fillers"] == 0 and feedback["tips"]["fillers"]
    stored = httpx.get(f"{base}/sessions/{sid}/turns").json()["turns"][0]["feedback"]
    assert stored["scores"] == feedback["scores"]


async def test_korean_feedback_scores_the_expected_register(gateway) -> None:
    base = gateway()
    sid = session(base, "job_interview", "ko")
    async with connect(ws_url(base, sid)) as ws:
        await ask(ws, "안녕하십니까. 저는 김하늘입니다. 잘 부탁드립니다.")
        polite = last_feedback(ws)["scores"]["politeness"]
        await ask(ws, "나는 개발자야. 그냥 뭐 열심히 했어.")
        plain = last_feedback(ws)
    assert polite == 100 and plain["scores"]["politeness"] == 0
    assert [f["text"] for f in plain["highlights"]["fillers"]] == ["그냥", "뭐"]


async def test_session_end_report_json_and_html(gateway) -> None:
    base = gateway()
    sid = session(base)
    async with connect(ws_url(base, sid)) as ws:
        await ask(ws, "Hello, thank you for having me today.")
        await ask(ws, "Um, I, I think my strength is, like, staying calm.")
        await ask(ws, "Could you tell me more about the team, please?")
        await send(ws, "session_end")
        event = await next_event(ws)
        assert event["type"] == "session_report"
        [refused] = await ask(ws, "one more thing")
        assert refused["data"]["code"] == "session_ended"
    report = event["data"]
    assert report["turns"] == 3 and report["scenario"] == "job_interview"
    assert report["fillers"]["by_word"] == {"um": 1, "like": 1}
    assert report["clarity"]["repetitions"] == 1
    assert set(report["scores"]) == {"fillers", "pace", "pauses", "clarity", "politeness"}
    assert "summary" not in report  # the scripted counterpart writes none
    stored = httpx.get(f"{base}/sessions/{sid}/report").json()
    assert stored == report
    page = httpx.get(f"{base}/sessions/{sid}/report.html")
    assert page.headers["content-type"].startswith("text/html")
    assert "<mark>Um,</mark>" in page.text and "Job interview" in page.text
    assert not re.search(r"(src|href)=[\"']?https?:", page.text)
    regenerated = httpx.post(f"{base}/sessions/{sid}/end").json()
    assert json.dumps(regenerated, sort_keys=True) == json.dumps(report, sort_keys=True)
    state = httpx.get(f"{base}/sessions/{sid}/turns").json()
    assert state["ended_at"] is not None and state["status"] == "ended"


async def test_a_real_model_writes_a_summary(gateway, fake_llm) -> None:
    server, url = fake_llm
    base = gateway(llm_provider="openai", openai_base_url=f"{url}/v1")
    sid = session(base, "manager_report", "en")
    async with connect(ws_url(base, sid)) as ws:
        server.script = Script(chunks=["Noted. [[rapport:+0.1]]"])
        await ask(ws, "The launch will slip by two weeks; here is the plan to recover.")
        server.script = Script(chunks=["You were clear and direct. ", "Next, lead with the date."])
        await send(ws, "session_end")
        report = (await next_event(ws))["data"]
    assert report["summary"] == "You were clear and direct. Next, lead with the date."
    assert "scores" in server.requests[-1]["body"]["messages"][1]["content"]
    html = httpx.get(f"{base}/sessions/{sid}/report.html").text
    assert "You were clear and direct." in html


async def test_report_before_the_end_is_404(gateway) -> None:
    base = gateway()
    sid = f"r-{uuid.uuid4().hex[:8]}"
    async with connect(ws_url(base, sid)) as ws:
        await ask(ws, "hello")
    assert httpx.get(f"{base}/sessions/{sid}/report").status_code == 404


def test_auto_language_sessions_get_feedback_in_the_language_heard() -> None:
    from gateway.scoring import feedback_language

    assert feedback_language("en", None) == "en" and feedback_language("ko", {"language": "en"}) == "ko"
    assert feedback_language("auto", {"language": "en"}) == "en"
    assert feedback_language("auto", {"language": "english"}) == "en"  # OpenAI's spelling
    assert feedback_language("auto", {"language": "ko"}) == "ko"
    assert feedback_language("auto", None) == "ko"


async def test_counseling_ends_with_a_gentle_summary_not_a_score_card(gateway) -> None:
    base = gateway()
    sid = session(base, "counseling", "en")
    async with connect(ws_url(base, sid)) as ws:
        await ask(ws, "I have been sleeping badly since the move.", emotion="anxious")
        await ask(ws, "Talking about it helps a little.", emotion="sad")
        await send(ws, "session_end")
        report = (await next_event(ws))["data"]
    assert report["kind"] == "counseling"
    assert report["emotions"] == [{"turn": 1, "emotion": "anxious"}, {"turn": 2, "emotion": "sad"}]
    html = httpx.get(f"{base}/sessions/{sid}/report.html").text
    assert "sleeping badly since the move" in html and "anxious" in html and "sad" in html
    assert 'class="card"' not in html and "Overall" not in html and "Politeness" not in html
