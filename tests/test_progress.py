"""Practice adding up: `GET /me/progress`, its page, and "since last time" in each report."""

from __future__ import annotations

import re
import uuid

import httpx
from websockets.asyncio.client import connect

from gateway.auth import mint_token
from tests.support import ask, next_event, send, ws_url

SECRET = "progress-test-jwt-secret-0123456789abcdef"


async def practise(base: str, token: str, scenario: str, answers: list[str],
                   language: str = "en") -> dict:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"}
    sid = httpx.post(f"{base}/sessions", json={"scenario": scenario, "language": language},
                     headers=headers).json()["session_id"]
    async with connect(ws_url(base, sid, token)) as ws:
        for answer in answers:
            await ask(ws, answer)
        await send(ws, "session_end")
        event = await next_event(ws)
    assert event["type"] == "session_report"
    return event["data"]  # type: ignore[no-any-return]


async def test_progress_lists_each_users_scored_sessions_in_order(gateway) -> None:
    base = gateway(jwt_secret_key=SECRET)
    alice, bob = mint_token(SECRET, f"alice-{uuid.uuid4().hex[:6]}"), mint_token(SECRET, "bob")
    first = await practise(base, alice, "job_interview", [
        "Um, so, like, I basically, uh, led the team, you know?"])
    assert "since_last_time" not in first  # nothing to compare with yet
    await practise(base, alice, "counseling", ["I have been feeling low lately."])
    second = await practise(base, alice, "job_interview", [
        "Thank you. I led a team of five through a difficult migration."])
    await practise(base, bob, "job_interview", ["Hello."])

    # The second interview compares itself with the first.
    since = second["since_last_time"]
    assert since["session_id"] == first["session_id"]
    assert since["scores"]["fillers"] == second["scores"]["fillers"] - first["scores"]["fillers"] > 0
    assert since["fillers_per_100"] == round(
        second["fillers"]["per_100"] - first["fillers"]["per_100"], 2) < 0
    assert since["overall"] == second["overall"] - first["overall"]

    body = httpx.get(f"{base}/me/progress", headers={"Authorization": f"Bearer {alice}"}).json()
    # Counseling has no score card and is not here; Bob's practice is not Alice's.
    assert [s["scenario"] for s in body["scenarios"]] == ["job_interview"]
    sessions = body["scenarios"][0]["sessions"]
    assert [s["session_id"] for s in sessions] == [first["session_id"], second["session_id"]]
    assert [s["overall"] for s in sessions] == [first["overall"], second["overall"]]
    assert [s["scores"] for s in sessions] == [first["scores"], second["scores"]]
    assert [s["fillers_per_100"] for s in sessions] == [first["fillers"]["per_100"],
                                                        second["fillers"]["per_100"]]
    assert sessions[0]["created_at"] < sessions[1]["created_at"]

    page = httpx.get(f"{base}/me/progress.html", params={"language": "en"},
                     headers={"Authorization": f"Bearer {alice}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('<circle class="point" data-series="overall"') == 2
    assert not re.search(r"(src|href)=[\"']?https?:|<script", page.text)

    report = httpx.get(f"{base}/sessions/{second['session_id']}/report.html",
                       headers={"Authorization": f"Bearer {alice}"}).text
    assert "Since last time" in report

    assert httpx.get(f"{base}/me/progress").status_code == 401


async def test_progress_of_someone_who_has_not_practised_is_empty(gateway) -> None:
    base = gateway(jwt_secret_key=SECRET)
    carol = mint_token(SECRET, f"carol-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {carol}"}
    assert httpx.get(f"{base}/me/progress", headers=headers).json()["scenarios"] == []
    page = httpx.get(f"{base}/me/progress.html", headers=headers).text
    assert 'class="empty"' in page
