"""The web page in a real headless Chromium (Debian's, driven by Playwright) against a real
gateway. The microphone is fed from a fixture by Chromium's own fake-capture flags.
Each test leaves a screenshot in artifacts/."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from gateway.app import create_app
from tests.audio_support import load_wav, silence
from tests.support import isolated_settings, serve_in_thread, settled_turns

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def site(postgres, models_dir, tmp_path_factory) -> Iterator[str]:
    """A gateway with Whisper and Piper and the offline scripted counterpart."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    settings = isolated_settings(database_url=postgres.new_database(),
                                 parley_data_dir=tmp_path_factory.mktemp("web"),
                                 parley_models_dir=models_dir, stt_preload="en",
                                 max_ai_requests_per_minute=100,
                                 max_ai_requests_per_minute_per_user=10_000,
                                 max_new_sessions_per_user_per_hour=10_000)
    with serve_in_thread(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory) -> Path:
    """jfk_16k.wav with 2 s of silence after it, so the turn ends."""
    path = tmp_path_factory.mktemp("audio") / "jfk_then_silence.wav"
    audio = np.concatenate([silence(0.5), load_wav("jfk_16k.wav"), silence(2.5)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(audio.astype("<i2").tobytes())
    return path


async def launch(*extra: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=[*FLAGS, *extra])
        yield browser
        await browser.close()


@pytest.fixture
async def browser(speech_file: Path) -> AsyncIterator[Browser]:
    async for item in launch("--use-fake-ui-for-media-stream",
                             "--use-fake-device-for-media-stream",
                             f"--use-file-for-fake-audio-capture={speech_file}%noloop"):
        yield item


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def start(page: Page, base: str, *, language: str = "en", mic: bool = True,
                scenario: str = "counseling") -> None:
    await page.goto(base + "/")
    await expect(page.locator("#scenario option")).to_have_count(5)
    await page.select_option("#language", language)
    await page.select_option("#scenario", scenario)
    if not mic:
        await page.uncheck("#use-mic")
    await page.click("#start")
    await expect(page.locator("#status")).to_have_text("Connected" if language == "en" else "연결됨")


async def stats(page: Page) -> dict[str, Any]:
    return await page.evaluate("() => ({...window.parley.stats})")  # type: ignore[no-any-return]


async def wait_for_stat(page: Page, name: str, timeout_s: float = 60) -> None:
    """Until the page's counter `name` is above 0 (polled from here: the page's CSP forbids
    the eval that Playwright's in-page wait_for_function uses)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (await stats(page))[name] <= 0:
        assert asyncio.get_running_loop().time() < deadline, f"{name} stayed 0"
        await asyncio.sleep(0.2)


async def test_speaking_into_the_page(site: str, browser: Browser) -> None:
    page = await browser.new_page()
    try:
        await start(page, site)
        you = page.locator("#log li.you")
        await expect(you.filter(has_text="country")).not_to_have_count(0, timeout=60_000)
        await expect(page.locator("#log li.ai:not(.opening) .text").first).not_to_be_empty(
            timeout=30_000)
        await wait_for_stat(page, "audioChunksPlayed")
        spoken = " ".join(await you.all_inner_texts()).lower()
        assert "your country" in spoken
        assert (await stats(page))["audioMsScheduled"] > 500
        # Counseling is not an examination: feedback arrives, no grade is shown.
        await wait_for_stat(page, "feedback", 30)
        assert await page.locator("#log li.you .chip").count() == 0
    finally:
        await screenshot(page, "browser-voice")


async def test_typing_instead_and_the_report(site: str, browser: Browser) -> None:
    page = await browser.new_page()
    try:
        await start(page, site, mic=False, scenario="job_interview")
        assert await page.locator("#mic-state").inner_text() == "🎙 off"
        await page.fill("#text", "Um, hello! Thank you for having me, I am a backend engineer.")
        await page.keyboard.press("Enter")
        await expect(page.locator("#log li.ai.opening")).to_contain_text("introduce yourself")
        await expect(page.locator("#log li.ai:not(.opening) .text").first).to_contain_text(
            "?", timeout=30_000)
        await expect(page.locator("#log li.you .chip").first).to_contain_text("Fillers 1")
        await expect(page.locator("#rapport-box")).to_be_visible()
        await screenshot(page, "browser-text")
        await page.click("#end")
        frame = page.frame_locator("#report-frame")
        await expect(frame.locator("h1")).to_have_text("Job interview", timeout=30_000)
        await expect(frame.locator("mark").first).to_have_text("Um,")
        await screenshot(page, "browser-report")
    finally:
        await screenshot(page, "browser-text-final")


async def test_a_recorded_answer_plays_back_from_its_marks_and_progress_shows(
        site: str, browser: Browser) -> None:
    page = await browser.new_page()
    try:
        await page.goto(site + "/")
        await expect(page.locator("#scenario option")).to_have_count(5)
        await page.select_option("#language", "en")
        assert await page.locator("#record-box").is_hidden()  # counseling: never offered
        await page.select_option("#scenario", "job_interview")
        assert not await page.locator("#record-audio").is_checked()  # off until asked
        await page.check("#record-audio")
        await page.click("#start")
        await expect(page.locator("#notice")).to_have_text("Your answers are being recorded",
                                                           timeout=30_000)
        await expect(page.locator("#log li.you").filter(has_text="country")).not_to_have_count(
            0, timeout=60_000)
        await wait_for_stat(page, "feedback", 30)
        await page.click("#end")
        frame = page.frame_locator("#report-frame")
        mark = frame.locator(".playback .marker").first
        await expect(mark).to_be_visible(timeout=30_000)
        at_s = int(await mark.get_attribute("data-at-ms") or 0) / 1000
        await mark.click()
        audio = frame.locator(".playback audio")
        await expect(audio).to_have_attribute("src", re.compile(r"^blob:"), timeout=10_000)
        position = await audio.evaluate("(a) => a.currentTime")
        assert at_s <= position < at_s + 1.5  # jumped to the mark (and may be playing on)
        await screenshot(page, "browser-playback")
        await page.click("#report-progress")
        progress = page.frame_locator("#progress-frame")
        await expect(progress.locator("section.scenario[data-scenario=job_interview]")).to_be_visible(
            timeout=10_000)
        await expect(progress.locator("circle.point").first).to_be_visible()
        await screenshot(page, "browser-progress")
        await page.click("#progress-back")
        await expect(page.locator("#report")).to_be_visible()
    finally:
        await screenshot(page, "browser-playback-final")


async def test_korean_labels_emotions_and_reconnect(site: str, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    try:
        await start(page, site, language="ko", mic=False)
        await expect(page.locator("#end")).to_have_text("대화 끝내기")
        await page.get_by_role("button", name="슬픔").click()
        await expect(page.get_by_role("button", name="슬픔")).to_have_attribute("aria-pressed", "true")
        await page.evaluate("() => window.parley.setEmotion('anxious', 0.7)")  # the model hook
        await page.evaluate("() => window.parley.state.ws.close()")  # the connection drops
        await expect(page.locator("#notice")).to_have_text("다시 연결되었어요.", timeout=20_000)
        await page.fill("#text", "요즘 잠을 잘 못 자요")
        await page.keyboard.press("Enter")
        await expect(page.locator("#log li.ai:not(.opening) .text").first).to_contain_text(
            "불안", timeout=30_000)
    finally:
        await screenshot(page, "browser-korean-phone")


async def test_a_refused_microphone_is_explained(site: str) -> None:
    async for browser in launch("--use-fake-device-for-media-stream"):
        context = await browser.new_context(permissions=[])
        page = await context.new_page()
        try:
            await page.goto(site + "/")
            await expect(page.locator("#scenario option")).to_have_count(5)
            await page.select_option("#language", "en")
            await page.click("#start")
            await expect(page.locator("#notice")).to_contain_text("Microphone access was refused",
                                                                 timeout=20_000)
            await page.fill("#text", "I will type then")
            await page.keyboard.press("Enter")
            await expect(page.locator("#log li.ai:not(.opening) .text").first).not_to_be_empty(
                timeout=30_000)
        finally:
            await screenshot(page, "browser-mic-refused")


async def test_an_english_browser_gets_an_english_conversation_that_opens_first(
        site: str, browser: Browser) -> None:
    page = await browser.new_page(locale="en-US")
    try:
        await page.goto(site + "/")
        await expect(page.locator("#scenario option")).to_have_count(5)
        assert await page.input_value("#language") == "en"  # the browser's language
        await page.select_option("#ui-language", "ko")
        assert await page.input_value("#language") == "ko"  # follows the page's language
        await page.select_option("#ui-language", "en")
        await page.select_option("#scenario", "job_interview")
        await page.uncheck("#use-mic")
        await page.click("#start")
        opening = page.locator("#log li.ai.opening")
        await expect(opening).to_contain_text("could you briefly introduce yourself?")
        assert await page.locator("#log li.you").count() == 0  # before the user said anything
        await screenshot(page, "browser-opening")
        # A conversation language the user picks is remembered, whatever the page's language.
        await page.goto(site + "/")
        await page.select_option("#language", "ko")
        await page.select_option("#ui-language", "en")
        await page.reload()
        await expect(page.locator("#scenario option")).to_have_count(5)
        assert await page.input_value("#language") == "ko"
    finally:
        await page.close()


# ---------------------------------------------------------------- speech in the browser

# Chromium in CI has no speech voices (headless, no speech-dispatcher), so these tests give
# the page a stand-in `speechSynthesis` with the Web Speech API's shape: `voices` are what
# getVoices() lists; each utterance "speaks" for `ms_per_char` per character, firing
# onstart/onend as the real one does, and cancel() fires onerror ("interrupted"). What it
# was asked to say is kept in window.__spoken. The page's choice of voice, its reports to
# the gateway and the stored reply are real.
FAKE_SPEECH = (Path(__file__).parent / "fixtures" / "fake-speech-synthesis.js").read_text()
KOREAN_VOICE = {"name": "Fake 한국어", "lang": "ko-KR", "default": False, "localService": True}


@pytest.fixture
async def quiet_browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """A microphone that hears only room silence."""
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(silence(30.0).astype("<i2").tobytes())
    async for item in launch("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                             f"--use-file-for-fake-audio-capture={path}%noloop"):
        yield item


async def page_with_voices(browser: Browser, voices: list[dict[str, Any]],
                           ms_per_char: int = 40) -> Page:
    page = await browser.new_page(locale="ko-KR")
    config = json.dumps({"voices": voices, "msPerChar": ms_per_char})
    await page.add_init_script(f"window.__fakeSpeechConfig = {config};\n{FAKE_SPEECH}")
    return page


async def spoken(page: Page) -> list[dict[str, Any]]:
    return await page.evaluate("() => window.__spoken")  # type: ignore[no-any-return]


async def stored_turns(page: Page, base: str) -> list[dict[str, Any]]:
    sid = await page.evaluate("() => window.parley.state.sessionId")
    return (await settled_turns(base, sid))["turns"]  # type: ignore[no-any-return]


async def until(condition: Any, what: str, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.2)


async def test_the_page_speaks_korean_with_its_own_voice(site: str, quiet_browser: Browser) -> None:
    page = await page_with_voices(quiet_browser, [
        {"name": "Robot English", "lang": "en-US", "default": True, "localService": True},
        KOREAN_VOICE])
    try:
        await start(page, site, language="ko", scenario="job_interview")
        await expect(page.locator("#voice")).to_contain_text("Fake 한국어")
        # The interviewer's greeting and first question, spoken before the user says anything.
        opening = await page.locator("#log li.ai.opening").inner_text()
        await until(lambda: _said(page, opening), "the opening line was spoken")
        assert {(s["lang"], s["voice"]) for s in await spoken(page)} == {("ko-KR", "Fake 한국어")}
        before = len(await spoken(page))
        await page.fill("#text", "안녕하세요. 저는 백엔드 개발자로 오 년 일했습니다.")
        await page.keyboard.press("Enter")
        reply = page.locator("#log li.ai:not(.opening)").first
        await expect(reply.locator(".text")).not_to_be_empty(timeout=30_000)
        await expect(reply.locator(".wait")).to_contain_text("초 뒤 응답", timeout=30_000)

        async def heard_in_full() -> bool:
            turns = await stored_turns(page, site)
            return bool(turns) and turns[0]["status"] == "complete"

        await until(heard_in_full, "the reply was stored complete once spoken")
        [turn] = await stored_turns(page, site)
        said = "".join(s["text"] for s in (await spoken(page))[before:])
        assert said.replace(" ", "") == turn["ai_reply"].replace(" ", "").replace("\n", "")
        assert (await stats(page))["audioChunksPlayed"] == 0  # nothing came from the server
    finally:
        await screenshot(page, "browser-speech-korean")


async def _said(page: Page, text: str) -> bool:
    return "".join(s["text"] for s in await spoken(page)).replace(" ", "") == text.replace(" ", "")


async def test_stopping_browser_speech_stores_the_sentences_begun(site: str,
                                                                  quiet_browser: Browser) -> None:
    page = await page_with_voices(quiet_browser, [KOREAN_VOICE], ms_per_char=150)
    try:
        await start(page, site, language="ko", scenario="counseling")
        opening = await page.locator("#log li.ai.opening").inner_text()
        await until(lambda: _said(page, opening), "the opening line was spoken")

        async def quiet() -> bool:
            return (await stats(page))["sentencesSpoken"] == len(await spoken(page))

        await until(quiet, "the opening line was spoken to its end")
        before = len(await spoken(page))
        await page.fill("#text", "요즘 회사에서 스트레스를 많이 받아요. 잠도 잘 못 자요.")
        await page.keyboard.press("Enter")

        async def reply_begun() -> bool:
            return len(await spoken(page)) > before

        await until(reply_begun, "the reply began to be spoken")
        await page.click("#stop-reply")
        begun = "".join(s["text"] for s in (await spoken(page))[before:])
        [turn] = await stored_turns(page, site)
        shown = await page.locator("#log li.ai:not(.opening) .text").first.inner_text()
    finally:
        await screenshot(page, "browser-speech-stop")
    assert turn["status"] == "cut_short" and turn["end_reason"] == "interrupted"
    assert turn["ai_reply"].replace(" ", "") == begun.replace(" ", "")  # what was heard
    assert len(turn["ai_reply"]) < len(shown)  # less than the text on screen


async def _stat_at_least(page: Page, name: str, value: int) -> bool:
    return (await stats(page))[name] >= value  # type: ignore[no-any-return]


async def test_without_a_voice_for_the_language_the_page_plays_the_servers(
        site: str, quiet_browser: Browser) -> None:
    page = await page_with_voices(quiet_browser, [
        {"name": "Robot English", "lang": "en-US", "default": True, "localService": True}])
    try:
        await start(page, site, language="ko", scenario="job_interview")
        await expect(page.locator("#voice")).to_contain_text("espeak-ng")
        await expect(page.locator("#voice")).to_contain_text("기계음")  # said to be a last resort
        await wait_for_stat(page, "audioChunksPlayed")  # the opening, in the server's voice
        assert await spoken(page) == []
    finally:
        await screenshot(page, "browser-speech-fallback")
