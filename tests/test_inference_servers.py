"""Speech recognition and synthesis on their own servers, apart from the LLM's.

First against a local server speaking OpenAI's audio API (its own address, not the LLM's),
through the real `openai` SDK; then against Parley's own speech server with the real
offline Whisper and Piper inside, so a gateway can run with no model loaded at all.
"""

from __future__ import annotations

import numpy as np
import pytest
from websockets.asyncio.client import connect

from audio.server import create_speech_app
from gateway.engines import build_engines, load_engines
from tests.audio_support import EventLog, load_wav, silence, stream_audio
from tests.fakes.llm_servers import FakeLLMServer, Script
from tests.support import isolated_settings, send, serve_in_thread, ws_url
from tests.test_voice import new_session, words_of


async def _voice_turn(base: str, audio: np.ndarray) -> EventLog:
    async with connect(ws_url(base, new_session(base)), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        await stream_audio(ws, audio)
        try:
            await log.wait_for("tts_end", timeout=90)
        except TimeoutError:
            raise AssertionError([e for e in log.events if e["type"] != "ai_stream_chunk"]) from None
        await log.close()
    return log


async def test_stt_and_tts_use_their_own_base_urls(gateway, fake_llm) -> None:
    llm, llm_url = fake_llm
    llm.script = Script(chunks=["Thanks. ", "Go on."])
    speech = FakeLLMServer()
    with serve_in_thread(speech.app) as speech_url:
        base = gateway(llm_provider="openai", openai_base_url=f"{llm_url}/v1",
                       stt_provider="openai", tts_provider="openai",  # the fixture's default: none
                       stt_base_url=f"{speech_url}/v1", stt_model="my-whisper",
                       tts_base_url=f"{speech_url}/v1", tts_model="my-voice-model",
                       tts_voice="nova")
        log = await _voice_turn(base, np.concatenate([load_wav("piper_en_1.wav"), silence(1.0)]))
    assert log.of_type("transcript")[0]["data"]["text"] == speech.transcript
    assert {r["api"] for r in llm.requests} == {"openai"}  # the LLM's server: chat only
    upload = next(r for r in speech.requests if r["api"] == "transcriptions")
    assert upload["fields"]["model"] == "my-whisper" and upload["fields"]["language"] == "en"
    spoken = [r["body"] for r in speech.requests if r["api"] == "speech"]
    assert spoken and {(b["model"], b["voice"]) for b in spoken} == {("my-voice-model", "nova")}


@pytest.fixture(scope="module")
def speech_server(models_dir):
    settings = isolated_settings(parley_models_dir=models_dir, stt_preload="en",
                                 stt_model=None)
    engines = build_engines(settings)
    import asyncio

    asyncio.run(load_engines(engines, settings))
    with serve_in_thread(create_speech_app(engines.stt, engines.tts)) as url:
        yield url


async def test_the_gateway_runs_on_parleys_own_speech_server(gateway, fake_llm,
                                                            speech_server) -> None:
    llm, llm_url = fake_llm
    llm.script = Script(chunks=["Thank you for that. ", "What happened next?"])
    base = gateway(llm_provider="openai", openai_base_url=f"{llm_url}/v1",
                   stt_provider="openai", tts_provider="openai",
                   stt_base_url=f"{speech_server}/v1", tts_base_url=f"{speech_server}/v1")
    health = __import__("httpx").get(f"{base}/health").json()
    assert health["stt"]["engine"] == "openai" and health["tts"]["engines"]["en"] == "openai"
    log = await _voice_turn(base, np.concatenate([load_wav("jfk_16k.wav"), silence(1.5)]))
    heard = " ".join(words_of(e["data"]["text"]) for e in log.of_type("transcript"))
    assert "fellow americans" in heard  # (sent faster than real time: split at its pauses)
    begin = log.of_type("tts_begin")[0]
    audio = np.frombuffer(log.audio_after(begin), dtype="<i2")
    assert begin["data"]["sample_rate"] == 22050 and len(audio) > 22050 * 0.5  # Piper's rate
    assert np.abs(audio.astype(np.float32)).mean() > 100  # speech, not silence
