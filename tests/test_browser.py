"""The web page in a real headless Chromium (Debian's, driven by Playwright) against a real
gateway. The microphone is fed from a fixture by Chromium's own fake-capture flags.
Each test leaves a screenshot in artifacts/."""

from __future__ import annotations

import asyncio
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
from tests.support import isolated_settings, serve_in_thread

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
