"""The voice loop over a real socket: real audio through webrtcvad, Whisper and Piper."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from gateway.app import create_app
from tests.audio_support import (
    EventLog,
    Microphone,
    load_wav,
    resample,
    silence,
    spoken_reply,
    stream_audio,
    synthesized,
    white_noise,
)
from tests.fakes.llm_servers import FakeLLMServer, Script
from tests.support import isolated_settings, send, serve_in_thread, settled_turns, ws_url

LONG_REPLY = [f"This is sentence number {i} of a long and patient answer. " for i in range(1, 30)]


@pytest.fixture(scope="module")
def voice(postgres, models_dir, tmp_path_factory) -> Iterator[tuple[str, FakeLLMServer]]:
    """One gateway with Whisper and Piper, answering through a scriptable local LLM server."""
    llm = FakeLLMServer()
    with serve_in_thread(llm.app) as llm_url:
        database_url = postgres.new_database()
        settings = isolated_settings(
            database_url=database_url, llm_provider="openai",
            openai_base_url=f"{llm_url}/v1", parley_data_dir=tmp_path_factory.mktemp("voice"),
            parley_models_dir=models_dir, max_ai_requests_per_minute=1000,
            max_ai_requests_per_minute_per_user=10_000, max_new_sessions_per_user_per_hour=10_000)
        with serve_in_thread(create_app(settings)) as base:
            wait_until_engines_ready(base)
            DATABASES[base] = database_url
            yield base, llm


DATABASES: dict[str, str] = {}  # the voice gateway's database, to look under its API


def wait_until_engines_ready(base: str) -> None:
    """Models load in the background after start-up; tests about timing start once they have."""
    import time

    deadline = time.monotonic() + 120
    while not httpx.get(f"{base}/health").json()["stt"]["ready"]:
        assert time.monotonic() < deadline, "speech engines did not load"
        time.sleep(0.1)


def new_session(base: str, language: str = "en") -> str:
    response = httpx.post(f"{base}/sessions", json={"language": language})
    assert response.status_code == 201, response.text
    return response.json()["session_id"]  # type: ignore[no-any-return]


def words_of(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


async def talk(base: str, audio: np.ndarray, *, language: str = "en", rate: int = 16000,
               realtime: float = 0.0, wait_for: str | None = "tts_end",
               count: int = 1, config: dict[str, Any] | None = None,
               until: Any = None) -> tuple[str, EventLog]:
    sid = new_session(base, language)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        if config is not None or rate != 16000:
            await send(ws, "audio_config", **{"sample_rate": rate, **(config or {})})
        await stream_audio(ws, audio, rate=rate, realtime=realtime)
        if until is not None:
            try:
                await log.wait_until(lambda: until(log))
            except TimeoutError:
                seen = [(e["type"], e["data"].get("text") or e["data"].get("error"))
                        for e in log.events if e["type"] not in ("ai_stream_chunk",)]
                raise AssertionError(f"condition never held; events: {seen}") from None
        elif wait_for:
            await log.wait_for(wait_for, count)
        else:
            await log.settle(2.0)
        await log.close()
    return sid, log


async def test_jfk_in_real_time_gives_transcript_reply_and_speech(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["I hear you. ", "That is a famous line. ", "What does it mean to you?"])
    # A microphone goes on sending after the words: 3 s of silence, longer than an
    # unfinished-sounding turn may wait (EOT_INCOMPLETE_MS), so the last turn always ends.
    audio = np.concatenate([load_wav("jfk_16k.wav"), silence(3.0)])
    sid, log = await talk(base, audio, realtime=1.0, wait_for=None, until=lambda log: any(
        e["data"]["turn"] == len(log.of_type("transcript")) for e in log.of_type("turn_metrics"))
        and log.of_type("tts_end"))
    await log.settle(1.5)
    # Kennedy pauses 1.16 s after "And so, my fellow Americans" and 0.84 s after "ask not":
    # the speculative transcripts there sound unfinished (a short "And so ..." preamble, a
    # trailing "..."), so the semantic end of turn waits: no reply before "what your country
    # can do for you" has been said (after it, a 0.5 s pause ends a finished sentence).
    transcripts = [e["data"] for e in log.of_type("transcript")]
    assert 1 <= len(transcripts) <= 2
    assert "what your country can do for you" in words_of(transcripts[0]["text"])
    spoken = " ".join(words_of(t["text"]) for t in transcripts)
    assert "ask not what your country can do for you" in spoken.replace("asked", "ask"), spoken
    assert all(t["language"] == "en" and t["stt_ms"] > 0 for t in transcripts)
    # Words carry stream times inside the clip's 11 s, in order.
    starts = [w["start_ms"] for t in transcripts for w in t["words"]]
    assert starts == sorted(starts) and starts[0] < 1500 and transcripts[-1]["end_ms"] <= 11500
    assert all(0 <= w["probability"] <= 1 for t in transcripts for w in t["words"])
    types = [e["type"] for e in log.events]
    assert types.index("speech_started") < types.index("speech_stopped") < types.index("transcript")
    assert "ai_stream_begin" in types and "turn_metrics" in types
    begin = log.of_type("tts_begin")[-1]
    assert begin["data"]["sample_rate"] == 22050 and begin["data"]["encoding"] == "pcm_s16le"
    pcm = log.audio_after(begin)
    seconds = len(pcm) / 2 / 22050
    assert len(pcm) % 2 == 0 and 1.5 < seconds < 20  # three short sentences of speech
    end = log.of_type("tts_end")[-1]["data"]
    assert end["interrupted"] is False and abs(end["audio_ms"] - seconds * 1000) < 5
    samples = np.frombuffer(pcm, dtype="<i2")
    assert np.abs(samples).max() > 1000  # speech, not silence
    metrics = log.of_type("turn_metrics")[-1]["data"]
    assert metrics["turn"] == len(transcripts) and metrics["speculative_hit"] in (True, False)
    for key in ("voice_to_voice_ms", "endpoint_to_transcript_ms", "transcript_to_first_token_ms",
                "first_token_to_first_audio_ms", "stt_ms"):
        assert metrics[key] is not None and metrics[key] >= 0, key
    turns = (await settled_turns(base, sid, count=len(transcripts)))["turns"]
    assert all(t["source"] == "voice" for t in turns)
    assert [t["user_message"] for t in turns] == [t["text"] for t in transcripts]
    assert "voice_to_voice_ms" in turns[-1]["timings"]
    exported = httpx.get(f"{base}/metrics").text
    assert 'parley_stage_seconds_count{stage="voice_to_voice"}' in exported


async def test_without_the_semantic_end_of_turn_jfk_is_answered_mid_sentence(gateway,
                                                                               models_dir) -> None:
    """What the semantic end of turn prevents: on silence alone (VAD_SILENCE_MS=500) the
    pauses inside Kennedy's sentence end turns."""
    base = gateway(stt_provider="whisper", semantic_turn_end=False)
    audio = np.concatenate([load_wav("jfk_16k.wav"), silence(1.5)])
    _, log = await talk(base, audio, realtime=2.0, wait_for="ai_stream_complete", count=3,
                        config={"sample_rate": 16000, "speak_replies": False})
    first = words_of(log.of_type("transcript")[0]["data"]["text"])
    # answered before the point ("Americans" is sometimes heard as "America")
    assert "fellow" in first and "country" not in first


async def test_two_utterances_make_two_turns(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["Okay."])
    audio = np.concatenate([load_wav("piper_en_1.wav"), silence(1.0), load_wav("piper_en_2.wav"),
                            silence(1.0)])
    sid, log = await talk(base, audio, wait_for="ai_stream_complete", count=2,
                          config={"sample_rate": 16000, "speak_replies": False})
    assert len(log.of_type("speech_started")) == 2 and len(log.of_type("transcript")) == 2
    first, second = (words_of(e["data"]["text"]) for e in log.of_type("transcript"))
    assert "biggest strength" in first and "tight deadline" in second
    assert not log.of_type("tts_begin")  # speak_replies false: text only
    turns = (await settled_turns(base, sid, count=2))["turns"]
    assert [t["seq"] for t in turns] == [1, 2]


@pytest.mark.parametrize("kind", ["silence", "white_noise"])
async def test_silence_and_noise_make_no_turn(voice, kind) -> None:
    base, _ = voice
    audio = silence(4.0) if kind == "silence" else white_noise(4.0)
    sid, log = await talk(base, audio, wait_for=None)
    assert not log.of_type("speech_started") and not log.of_type("transcript")
    assert (await settled_turns(base, sid, count=0))["turns"] == []


async def test_48khz_audio_is_resampled(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["Thank you."])
    # As a microphone sends it: in real time, then silence longer than an unfinished turn
    # may wait. (Sent faster than real time, whether the turn breaks in the 0.84 s pause
    # after "ask not" depended on when its transcript came in; when it broke, tiny.en heard
    # the "what" that then opened a turn as "Like", on a loaded CI machine.)
    audio = resample(np.concatenate([load_wav("jfk_16k.wav"), silence(3.0)]), 48000)

    def spoken(log: EventLog) -> str:
        text = " ".join(words_of(e["data"]["text"]) for e in log.of_type("transcript"))
        return text.replace("asked", "ask")

    # However the resampled clip is cut into turns, its words come through in order
    # (tiny.en hears "ask not" as "s not" or "ask not").
    _, log = await talk(base, audio, rate=48000, realtime=1.0, config={"speak_replies": False},
                        until=lambda log: "for your country" in spoken(log))
    assert "not what your country can do for you ask what you can do" in spoken(log)


async def test_odd_byte_counts_are_reassembled(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["Right."])
    data = np.concatenate([load_wav("piper_en_2.wav"), silence(1.0)]).astype("<i2").tobytes()
    sid = new_session(base)
    async with connect(ws_url(base, sid)) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000, speak_replies=False)
        for offset in range(0, len(data), 333):  # odd sizes: samples split across frames
            await ws.send(data[offset:offset + 333])
        await log.wait_for("transcript")
        await log.close()
    assert "tight deadline" in words_of(log.of_type("transcript")[0]["data"]["text"])


async def test_bad_audio_gets_errors_and_the_session_lives_on(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["Still here."])
    sid = new_session(base)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await ws.send(b"\x00" * (1024 * 1024 + 2))
        [event] = await log.wait_for("error")
        assert event["data"]["code"] == "audio_frame_too_large" and "1 MiB" in event["data"]["error"]
        await send(ws, "audio_config", sample_rate=11025)
        errors = await log.wait_for("error", 2)
        assert "11025" in errors[1]["data"]["error"]
        await send(ws, "request_ai_response", message="text still works")
        await log.wait_for("ai_stream_complete")
        await log.close()


async def test_barge_in_cuts_the_reply_to_what_was_heard(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=LONG_REPLY)
    sid = new_session(base)
    full_reply = "".join(LONG_REPLY)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        await stream_audio(ws, np.concatenate([load_wav("piper_en_1.wav"), silence(0.8)]))
        await log.wait_for("tts_begin")
        await log.wait_until(lambda: any(isinstance(item, bytes) for item in log.items))
        await asyncio.sleep(1.5)  # the user hears a little, then talks over it
        await stream_audio(ws, np.concatenate([load_wav("piper_en_2.wav")[:16000],
                                               silence(1.0)]), realtime=1.0)
        [end] = await log.wait_for("tts_end")
        [pause] = log.of_type("tts_pause")  # silenced as soon as the speech started
        assert log.events.index(pause) < log.events.index(end)
        await log.wait_for("speech_started", 2)
        await log.close()
    assert end["data"]["interrupted"] is True
    heard_ms = end["data"]["audio_ms"]
    assert 1000 < heard_ms < 8000  # paced: only about the played part (plus lead) went out
    turns = (await settled_turns(base, sid))["turns"]
    first = turns[0]
    assert first["status"] == "cut_short" and first["end_reason"] == "barge_in"
    assert first["ai_reply"] and full_reply.startswith(first["ai_reply"])
    assert len(first["ai_reply"]) < len(full_reply) / 2


async def test_interrupt_message_stops_speech(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=LONG_REPLY)
    sid = new_session(base)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        await send(ws, "request_ai_response", message="Tell me a long story")
        await log.wait_for("tts_begin")
        await send(ws, "interrupt")
        [end] = await log.wait_for("tts_end")
        await log.close()
    assert end["data"]["interrupted"] is True
    turn = (await settled_turns(base, sid))["turns"][0]
    assert turn["status"] == "cut_short" and turn["end_reason"] == "interrupted"


async def test_health_reports_speech_engines(voice) -> None:
    base, _ = voice
    health = httpx.get(f"{base}/health").json()
    assert health["stt"]["engine"] == "whisper"
    assert health["tts"]["engines"] == {"en": "piper", "ko": "espeak-ng"}
    voices = health["tts"]["voices"]
    assert voices["en"] == {"server": "piper", "natural": True, "speaks": "piper"}
    assert voices["ko"]["natural"] is False and voices["ko"]["speaks"].startswith("the page")


async def test_missing_stt_is_reported_not_a_crash(gateway) -> None:
    base = gateway(stt_provider="none")
    assert "STT_PROVIDER=none" in httpx.get(f"{base}/health").json()["stt"]["error"]
    sid = f"nostt-{uuid.uuid4().hex[:6]}"
    async with connect(ws_url(base, sid)) as ws:
        log = EventLog(ws)
        await stream_audio(ws, np.concatenate([load_wav("piper_en_1.wav"), silence(1.0)]))
        [event] = await log.wait_for("error")
        assert event["data"]["code"] == "stt_unavailable"
        await send(ws, "request_ai_response", message="typing instead")
        await log.wait_for("ai_stream_complete")
        await log.close()


async def test_voice_turns_get_timed_feedback(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["Okay."])
    audio = np.concatenate([load_wav("piper_en_3.wav"), silence(1.0)])
    sid, log = await talk(base, audio, wait_for="feedback",
                          config={"sample_rate": 16000, "speak_replies": False})
    feedback = log.of_type("feedback")[0]["data"]
    assert feedback["scores"]["pace"] is not None and feedback["scores"]["pauses"] is not None
    fillers = feedback["highlights"]["fillers"]
    assert {"uh", "like", "um"} <= {f["text"] for f in fillers}
    assert all(f["start_ms"] is not None for f in fillers if f["kind"] != "acoustic")
    pace = feedback["metrics"]["pace"]
    assert 100 < pace["articulation_rate"] < 260 and pace["unit"] == "wpm"
    turn = (await settled_turns(base, sid))["turns"][0]
    assert turn["feedback"]["scores"] == feedback["scores"]


async def test_speech_starts_before_the_model_has_finished(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["Thank you for sharing that. ", "It sounds like a lot. ",
                                "Let us take it one step at a time. ", "What comes first?"],
                        delay_s=0.6)
    log = await spoken_reply(ws_url(base, new_session(base)), "I have too much to do this week.")
    first_audio = next(i for i, item in enumerate(log.items) if isinstance(item, bytes))
    complete = next(i for i, item in enumerate(log.items)
                    if isinstance(item, dict) and item["type"] == "ai_stream_complete")
    assert first_audio < complete  # the first sentence was heard while the rest was written


async def test_openai_speech_services_through_their_sdk(gateway, fake_llm) -> None:
    """STT_PROVIDER=openai and TTS_PROVIDER=openai against a server speaking their API."""
    server, url = fake_llm
    server.script = Script(chunks=["Of course. ", "Tell me about your last role."])
    base = gateway(llm_provider="openai", openai_api_key="sk-test", openai_base_url=f"{url}/v1",
                   stt_provider="openai", tts_provider="openai")
    sid = new_session(base)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        await stream_audio(ws, np.concatenate([load_wav("piper_en_1.wav"), silence(1.0)]))
        try:
            await log.wait_for("tts_end", timeout=30)
        except TimeoutError:
            raise AssertionError([e for e in log.events if e["type"] != "ai_stream_chunk"]) from None
        await log.close()
    [transcript] = log.of_type("transcript")
    assert transcript["data"]["text"] == server.transcript
    assert [w["word"] for w in transcript["data"]["words"]][:2] == ["I", "would"]
    # The turn's own upload (an earlier one may be a speculation at a pause inside it).
    upload = [r for r in server.requests if r["api"] == "transcriptions"][-1]
    assert upload["bytes"] > 16000 * 2 * 4 and upload["fields"]["language"] == "en"
    begin = log.of_type("tts_begin")[0]
    assert begin["data"]["sample_rate"] == 22050  # the server's own rate, read from its WAV
    assert len(log.audio_after(begin)) > 0
    spoken = [r["body"]["input"] for r in server.requests if r["api"] == "speech"]
    assert " ".join(spoken) == "Of course. Tell me about your last role."


@pytest.mark.parametrize("silero", [True, False])
async def test_a_square_wave_never_reaches_the_recogniser(gateway, fake_llm, silero) -> None:
    """Full-scale square waves look like speech to webrtcvad; they must not keep the
    (shared) recogniser busy. Silero VAD does not take them for speech (no utterance at
    all); with webrtcvad alone each is refused with `not_speech`, never transcribed."""
    server, url = fake_llm
    base = gateway(llm_provider="openai", openai_api_key="sk-test", openai_base_url=f"{url}/v1",
                   stt_provider="openai", vad_silero=silero)
    t = np.arange(int(16000 * 1.5)) / 16000
    square = (np.sign(np.sin(2 * np.pi * 180 * t)) * 32767).astype(np.int16)
    audio = np.concatenate([square, silence(1.0)] * 3 + [load_wav("piper_en_1.wav"), silence(1.0)])
    sid, log = await talk(base, audio, wait_for="transcript")
    refused = [e for e in log.of_type("error") if e["data"]["code"] == "not_speech"]
    transcriptions = [r for r in server.requests if r["api"] == "transcriptions"]
    # The speech may also have been transcribed speculatively at its three pauses.
    if silero:  # the squares make no utterance at all
        assert not refused and len(log.of_type("speech_stopped")) == 1
    else:  # each square is an utterance, refused before the recogniser
        assert len(refused) == 3 and len(log.of_type("speech_stopped")) == 4
    assert 1 <= len(transcriptions) <= 4
    assert [t["source"] for t in (await settled_turns(base, sid))["turns"]] == ["voice"]


async def test_metrics_show_the_engines_queues(voice) -> None:
    base, _ = voice
    text = httpx.get(f"{base}/metrics").text
    assert 'parley_engine_queue_depth{engine="stt"}' in text
    assert 'parley_engine_queue_depth{engine="tts_en"}' in text
    assert "parley_live_sessions" in text


# ---------------------------------------------------------------- speech in the browser

KO_REPLY = ["요즘 많이 힘드셨겠어요. ", "그 마음을 말해 주셔서 고맙습니다. ",
            "어떤 순간이 가장 힘드셨나요? "]
KO_LONG = [f"{i}번째 문장으로 천천히 길게 말씀드리겠습니다. " for i in range(1, 20)]


async def browser_speech_session(base: str, language: str = "ko",
                                 voices: tuple[str, ...] = ("ko",)) -> tuple[str, Any, EventLog]:
    sid = new_session(base, language)
    ws = await connect(ws_url(base, sid), max_size=None)
    log = EventLog(ws)
    await send(ws, "audio_config", sample_rate=16000, browser_voices=list(voices))
    return sid, ws, log


async def test_korean_is_spoken_by_a_page_that_has_a_korean_voice(voice) -> None:
    """Only espeak-ng speaks Korean here: a page with a Korean voice gets the sentences as
    text, says what it spoke, and the reply is complete when its last sentence has ended."""
    base, llm = voice
    llm.script = Script(chunks=KO_REPLY)
    sid, ws, log = await browser_speech_session(base)
    async with ws:
        [chosen] = await log.wait_for("voice_selected")
        assert chosen["data"]["mode"] == "browser" and chosen["data"]["language"] == "ko"
        await send(ws, "request_ai_response", message="요즘 회사 일이 너무 많아요")
        await log.wait_for("ai_stream_complete")
        sentences = await log.wait_for("tts_sentence", 3)
        assert [s["data"]["sentence"] for s in sentences] == [0, 1, 2]
        assert [s["data"]["text"] for s in sentences] == [c.strip() for c in KO_REPLY]
        assert {s["data"]["turn"] for s in sentences} == {1}
        turn = httpx.get(f"{base}/sessions/{sid}/turns").json()["turns"][0]
        assert turn["status"] == "pending"  # not heard yet: not complete
        for index in range(3):
            await send(ws, "tts_spoken", turn=1, sentence=index, state="started")
            await send(ws, "tts_spoken", turn=1, sentence=index, state="ended")
        [end] = await log.wait_for("tts_end")
        await log.close()
    assert end["data"] == {"utterance_id": "turn-1", "interrupted": False, "audio_ms": 0,
                           "mode": "browser"}
    assert not any(isinstance(item, bytes) for item in log.items)  # no server audio
    turn = (await settled_turns(base, sid))["turns"][0]
    assert turn["status"] == "complete" and turn["ai_reply"] == "".join(KO_REPLY)


async def test_barge_in_with_browser_speech_stores_the_sentences_spoken(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=KO_LONG)
    sid, ws, log = await browser_speech_session(base)
    async with ws:
        await send(ws, "request_ai_response", message="길게 이야기해 주세요")
        await log.wait_for("tts_sentence", 3)
        await send(ws, "tts_spoken", turn=1, sentence=0, state="started")
        await send(ws, "tts_spoken", turn=1, sentence=0, state="ended")
        await send(ws, "tts_spoken", turn=1, sentence=1, state="started")
        await asyncio.sleep(0.3)
        # The user talks over the second sentence.
        await stream_audio(ws, np.concatenate([load_wav("espeak_ko_1.wav"), silence(0.8)]),
                           realtime=2.0)
        [end] = await log.wait_for("tts_end")
        await log.wait_for("speech_started")
        # A late report for the cut reply changes nothing.
        await send(ws, "tts_spoken", turn=1, sentence=2, state="started")
        await log.settle(0.5)
        await log.close()
    assert end["data"]["interrupted"] is True and end["data"]["mode"] == "browser"
    first = (await settled_turns(base, sid))["turns"][0]
    assert first["status"] == "cut_short" and first["end_reason"] == "barge_in"
    assert first["ai_reply"] == "".join(KO_LONG[:2])  # the sentences the page began


async def test_a_tts_spoken_report_for_a_sentence_never_sent_is_refused(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=KO_REPLY)
    sid, ws, log = await browser_speech_session(base)
    async with ws:
        await send(ws, "request_ai_response", message="안녕하세요")
        await log.wait_for("tts_sentence", 3)
        await send(ws, "tts_spoken", turn=1, sentence=7, state="ended")
        [error] = await log.wait_for("error")
        assert error["data"]["code"] == "invalid_message" and "sentence 7" in error["data"]["error"]
        await send(ws, "tts_spoken", turn=1, sentence=-1, state="ended")
        await log.wait_for("error", 2)
        await send(ws, "interrupt")  # the session goes on: what was spoken (nothing) is stored
        await log.wait_for("tts_end")
        await log.close()
    first = (await settled_turns(base, sid))["turns"][0]
    assert first["status"] == "cut_short" and first["ai_reply"] == ""


@pytest.mark.parametrize(("language", "voices", "mode", "engine"), [
    ("ko", (), "server", "espeak-ng"),      # the page has no Korean voice: the last resort
    ("en", ("en", "ko"), "server", "piper"),  # a natural server voice stays on the server
])
async def test_the_server_speaks_where_it_has_the_better_voice(voice, language, voices, mode,
                                                               engine) -> None:
    base, llm = voice
    llm.script = Script(chunks=["One. ", "Two."] if language == "en" else KO_REPLY)
    _sid, ws, log = await browser_speech_session(base, language, voices)
    async with ws:
        [chosen] = await log.wait_for("voice_selected")
        await send(ws, "request_ai_response", message="hello")
        [end] = await log.wait_for("tts_end")
        await log.close()
    assert chosen["data"]["mode"] == mode and chosen["data"]["engine"] == engine
    assert chosen["data"]["natural"] is (engine == "piper")
    assert end["data"]["mode"] == "server" and end["data"]["audio_ms"] > 0
    assert not log.of_type("tts_sentence")


async def test_the_opening_line_is_spoken_before_the_first_turn_and_not_stored(voice) -> None:
    base, _ = voice
    response = httpx.post(f"{base}/sessions", json={"language": "en", "scenario": "job_interview"})
    sid, opening = response.json()["session_id"], response.json()["opening_line"]
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000, speak_opening=True)
        [begin] = await log.wait_for("tts_begin")
        [end] = await log.wait_for("tts_end")
        audio = log.audio_after(begin)
        await send(ws, "audio_config", sample_rate=16000, speak_opening=True)  # only once
        await log.settle(1.0)
        await log.close()
    assert begin["data"]["utterance_id"] == "opening" and begin["data"]["turn"] == 0
    assert end["data"]["interrupted"] is False and len(log.of_type("tts_begin")) == 1
    assert len(audio) / 2 / begin["data"]["sample_rate"] > 2.0  # the whole greeting
    assert "introduce yourself" in opening
    assert (await settled_turns(base, sid, count=0))["turns"] == []
    # ... and in browser speech, as sentences of turn 0.
    response = httpx.post(f"{base}/sessions", json={"language": "ko", "scenario": "job_interview"})
    sid = response.json()["session_id"]
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", browser_voices=["ko"], speak_opening=True)
        await log.wait_until(lambda: "".join(
            s["data"]["text"] for s in log.of_type("tts_sentence")).replace(" ", "")
            == response.json()["opening_line"].replace(" ", ""))
        await log.close()
    assert {s["data"]["turn"] for s in log.of_type("tts_sentence")} == {0}


# ---------------------------------------------------------------- talking over a reply

def _not_paused(log: EventLog) -> bool:
    return len(log.of_type("tts_pause")) == len(log.of_type("tts_resume"))


def _events_since(log: EventLog, index: int) -> list[str]:
    """What the client was sent from `index` on, briefly (a transcript with its words)."""
    return [item["type"] + (f" {item['data']['text']!r}" if item["type"] == "transcript" else "")
            for item in log.items[index:] if isinstance(item, dict)]


BACKCHANNELS = {"en": ["Yeah.", "Right.", "Okay.", "I see.", "Sure.", "Yep.", "Got it.",
                       "Uh-huh.", "Hmm."],
                "ko": ["네.", "응.", "아, 네."]}


async def test_backchannels_and_a_cough_do_not_stop_the_reply(voice) -> None:
    """Twelve acknowledgements (Piper and espeak-ng) and a cough-like burst over a reply:
    each pauses it at most (tts_pause), then it resumes (tts_resume); none cuts it or makes
    a turn."""
    base, llm = voice
    llm.script = Script(chunks=LONG_REPLY)
    sounds = 0
    for language, words in BACKCHANNELS.items():
        sid = new_session(base, language)
        async with connect(ws_url(base, sid), max_size=None) as ws:
            log = EventLog(ws)
            await send(ws, "audio_config", sample_rate=16000)
            await send(ws, "request_ai_response", message="Tell me a long story")
            await log.wait_for("tts_begin")
            clips = [await synthesized(word, language) for word in words]
            if language == "en":
                clips.append(white_noise(0.25, amplitude=6000))  # a cough-like burst
            microphone = Microphone(ws)
            for word, clip in zip([*words, "(a cough)"], clips, strict=False):
                before = len(log.items)
                microphone.say(clip)
                await microphone.said()
                await asyncio.sleep(0.3)
                try:
                    await log.wait_until(partial(_not_paused, log), timeout=15)
                except TimeoutError:
                    raise AssertionError(f"{word!r} paused the reply for good: "
                                         f"{_events_since(log, before)}") from None
                sounds += 1
            await microphone.close()
            assert not log.of_type("tts_end"), f"a backchannel stopped the reply ({language})"
            assert log.of_type("tts_pause"), "the speech over the reply was not heard"
            assert all(r["data"]["false_interruption"] for r in log.of_type("tts_resume"))
            await send(ws, "interrupt")
            await log.wait_for("tts_end")
            await log.close()
        turns = (await settled_turns(base, sid))["turns"]
        assert len(turns) == 1 and turns[0]["end_reason"] == "interrupted"  # no turn of theirs
    assert sounds >= 13
    assert 'parley_turn_events_total{event="false_interruptions"}' in httpx.get(
        f"{base}/metrics").text


@pytest.mark.parametrize("words", ["Wait.", "Hold on.", "Sorry, can I ask you something first?"])
async def test_a_short_real_interruption_stops_the_reply(voice, words) -> None:
    base, llm = voice
    llm.script = Script(chunks=LONG_REPLY)
    sid = new_session(base)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        await send(ws, "request_ai_response", message="Tell me a long story")
        await log.wait_for("tts_begin")
        await asyncio.sleep(1.0)
        microphone = Microphone(ws)
        microphone.say(await synthesized(words, "en"))
        [end] = await log.wait_for("tts_end")
        await log.wait_for("ai_stream_complete", 2)  # and their words were answered
        await microphone.close()
        await log.close()
    assert end["data"]["interrupted"] is True
    assert log.events.index(log.of_type("tts_pause")[0]) < log.events.index(end)
    turns = (await settled_turns(base, sid, count=2))["turns"]
    assert turns[0]["end_reason"] == "barge_in" and len(turns) == 2


# ---------------------------------------------------------------- preemptive replies


def _chat_requests(llm: FakeLLMServer) -> list[dict[str, Any]]:
    return [r for r in llm.requests if r["api"] == "openai"]


async def test_the_reply_starts_on_the_speculative_transcript(voice) -> None:
    base, llm = voice
    llm.script = Script(chunks=["I see. ", "Tell me more."])
    before = len(_chat_requests(llm))
    sid = new_session(base)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        microphone = Microphone(ws)
        microphone.say(load_wav("piper_en_2.wav"))
        [metrics] = await log.wait_for("turn_metrics", timeout=60)
        await microphone.close()
        await log.close()
    assert metrics["data"]["preemptive"] is True and metrics["data"]["turn_end"] == "complete"
    # A pause inside the answer may have started an attempt that its next words threw away
    # (how many depends on how fast Whisper is); each cost at most one request (it may be
    # cancelled before its request leaves), and one was used.
    discarded = metrics["data"]["preemptive_discarded"]
    assert 1 <= len(_chat_requests(llm)) - before <= 1 + discarded


async def test_a_preemptive_reply_the_user_talks_past_is_never_sent_stored_or_counted(
        gateway, fake_llm, models_dir) -> None:
    """A finished-sounding sentence, a pause the turn waits through (EOT_COMPLETE_MS 1.5 s),
    and then more: the reply started in the pause is thrown away; the turn that follows is
    answered once, and the rate limit (one request a minute) never saw the discarded one."""
    llm, url = fake_llm
    llm.script = Script(chunks=["Okay. ", "Go on."])
    base = gateway(llm_provider="openai", openai_api_key="sk-test",
                   openai_base_url=f"{url}/v1", stt_provider="whisper", tts_provider="local",
                   eot_complete_ms=1500, max_ai_requests_per_minute=1)
    wait_until_engines_ready(base)
    sid = new_session(base)
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        microphone = Microphone(ws)
        microphone.say(np.concatenate([load_wav("piper_en_2.wav"), silence(0.9),
                                       load_wav("piper_en_1.wav")]))
        [metrics] = await log.wait_for("turn_metrics", timeout=90)
        await log.settle(1.0)
        await microphone.close()
        await log.close()
    assert len(log.of_type("ai_stream_begin")) == 1 and not log.of_type("ai_stream_error")
    assert metrics["data"]["preemptive_discarded"] >= 1
    # A discarded attempt may be cancelled before its request leaves: at most one each.
    assert 1 <= len(_chat_requests(llm)) <= 1 + metrics["data"]["preemptive_discarded"]
    [turn] = (await settled_turns(base, sid))["turns"]
    assert "deadline" in turn["user_message"] and "strength" in turn["user_message"]
    assert turn["ai_reply"] == "Okay. Go on." and turn["status"] == "complete"
    exported = httpx.get(f"{base}/metrics").text
    assert 'parley_turn_events_total{event="preemptive_discarded"}' in exported


# ------------------------------------------------------------------ hear yourself


async def recorded_session(base: str, audio: np.ndarray, scenario: str,
                           config: dict[str, Any]) -> tuple[str, EventLog, dict[str, Any]]:
    """A voice session that answers once, then ends: its id, events and report."""
    response = httpx.post(f"{base}/sessions", json={"scenario": scenario, "language": "en"})
    sid = response.json()["session_id"]
    async with connect(ws_url(base, sid), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", **{"sample_rate": 16000, "speak_replies": False, **config})
        await stream_audio(ws, audio)
        await log.wait_for("feedback")
        await send(ws, "session_end")
        [report] = await log.wait_for("session_report")
        await log.close()
    return sid, log, report["data"]


async def stored_audio_rows(base: str, sid: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(DATABASES[base])
    try:
        return int(await conn.fetchval("SELECT count(*) FROM turn_audio WHERE session_id = $1",
                                       sid))
    finally:
        await conn.close()


async def test_recorded_answer_plays_back_with_its_fillers_marked(voice) -> None:
    import soundfile

    base, llm = voice
    llm.script = Script(chunks=["Thank you."])
    audio = np.concatenate([load_wav("piper_en_1.wav"), silence(1.0)])
    sid, log, report = await recorded_session(base, audio, "job_interview", {"record_audio": True})
    [answer] = log.of_type("recording")
    assert answer["data"]["enabled"] is True
    feedback = log.of_type("feedback")[0]["data"]
    [turn] = report["transcript"]
    recording = turn["recording"]
    # The marks are the feedback's own filler times, on the clip's clock.
    fillers = [(f["start_ms"] - recording["start_ms"], f["text"])
               for f in feedback["highlights"]["fillers"] if f["start_ms"] is not None]
    marked = [(m["at_ms"], m["label"]) for m in recording["markers"] if m["kind"] == "filler"]
    assert fillers and marked == sorted(fillers)
    assert [m for m in recording["markers"] if m["kind"] == "pace"]
    page = httpx.get(f"{base}/sessions/{sid}/report.html").text
    for at_ms, _ in marked:
        assert f'class="marker filler" data-at-ms="{at_ms}"' in page
    assert f'data-src="/sessions/{sid}/turns/{turn["seq"]}/audio"' in page
    # The audio is the answer as streamed (Opus: close, not identical), from its start.
    response = httpx.get(f"{base}/sessions/{sid}/turns/{turn['seq']}/audio")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/ogg"
    pcm, rate = soundfile.read(io.BytesIO(response.content), dtype="int16")
    assert rate == 16000 and abs(len(pcm) / 16 - recording["duration_ms"]) <= 1
    start = recording["start_ms"] * 16
    original = audio[start:start + len(pcm)].astype(float)
    assert np.corrcoef(original, pcm[:len(original)].astype(float))[0, 1] > 0.9
    # The user's data export says where it is; deleting the session deletes it.
    exported = next(x for x in httpx.get(f"{base}/me/data").json()["sessions"] if x["id"] == sid)
    assert [r["url"] for r in exported["recordings"]] == [f"/sessions/{sid}/turns/{turn['seq']}/audio"]
    assert await stored_audio_rows(base, sid) == 1
    assert httpx.delete(f"{base}/sessions/{sid}").status_code == 204
    assert await stored_audio_rows(base, sid) == 0


@pytest.mark.parametrize(("scenario", "config"), [
    ("job_interview", {}),                          # no consent: nothing is kept
    ("counseling", {"record_audio": True}),         # never in counseling, even when asked
])
async def test_no_recording_without_consent_or_in_counseling(voice, scenario, config) -> None:
    base, llm = voice
    llm.script = Script(chunks=["I see."])
    audio = np.concatenate([load_wav("piper_en_2.wav"), silence(1.0)])
    sid, log, report = await recorded_session(base, audio, scenario, config)
    answers = log.of_type("recording")
    if config:
        assert [a["data"]["enabled"] for a in answers] == [False]
        assert "counseling" in answers[0]["data"]["reason"]
    else:
        assert answers == []
    assert await stored_audio_rows(base, sid) == 0
    seq = (await settled_turns(base, sid))["turns"][0]["seq"]
    assert httpx.get(f"{base}/sessions/{sid}/turns/{seq}/audio").status_code == 404
    assert all("recording" not in t for t in report.get("transcript", []))
