"""audio/ as a library: framing, the turn state machine, sentence cutting, the engines."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio import models
from audio.pcm import FrameAssembler, UnsupportedRate
from audio.sentences import SentenceSplitter
from audio.stt import WhisperSTT, Word, max_new_tokens, squeezed, window_frames
from audio.tts import EspeakTTS, PiperTTS
from audio.turn_end import classify, is_backchannel
from audio.vad import (
    Endpointer,
    SpeechConfirmed,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    VADOptions,
    onset,
)
from tests.audio_support import load_wav, resample, silence

FRAME = 320


def tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    """A harmonic-rich buzz (speech-like spectrum, so not flat like noise)."""
    t = np.arange(int(seconds * 16000)) / 16000
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 12))
    return (wave / np.abs(wave).max() * 8000).astype(np.int16)


def run(endpointer: Endpointer, pattern: list[tuple[bool, int]], *,
        confirmed: bool = False) -> list[Any]:
    """Feed (voiced, frame count) runs; voiced frames carry a buzz, unvoiced ones silence.
    `SpeechConfirmed` is left out unless asked for. (Any: each test reads the fields of the
    event kinds it expects where it expects them.)"""
    events: list[Any] = []
    buzz = tone(0.02)
    quiet = np.zeros(FRAME, dtype=np.int16)
    for voiced, count in pattern:
        for _ in range(count):
            events += endpointer.push(buzz if voiced else quiet, voiced)
    return [e for e in events if confirmed or not isinstance(e, SpeechConfirmed)]


def test_speech_is_confirmed_once_it_outlasts_a_backchannel() -> None:
    for frames in (20, 30):  # 400 ms: "uh-huh"; 600 ms: a two-part "아, 네."
        short = run(Endpointer(), [(True, frames), (False, 30)], confirmed=True)
        assert not any(isinstance(e, SpeechConfirmed) for e in short)
    long = run(Endpointer(), [(True, 50), (False, 30)], confirmed=True)
    confirmed = [e for e in long if isinstance(e, SpeechConfirmed)]
    assert len(confirmed) == 1 and confirmed[0].stream_ms == (6 + 40) * 20


def test_the_required_silence_follows_the_semantic_end_of_turn() -> None:
    endpointer = Endpointer(VADOptions(max_silence_ms=2000))
    events = run(endpointer, [(True, 30), (False, 12)])
    assert [type(e) for e in events] == [SpeechStarted, SpeechPaused]
    endpointer.require_silence(240)  # a finished sentence: already silent long enough
    events = run(endpointer, [(False, 1)])
    assert [type(e) for e in events] == [SpeechStopped]
    events = run(endpointer, [(True, 30), (False, 12)])
    endpointer.require_silence(10_000)  # "and so...": waits, but never past max_silence_ms
    events += run(endpointer, [(False, 87)])
    assert SpeechStopped not in [type(e) for e in events]
    assert [type(e) for e in run(endpointer, [(False, 1)])] == [SpeechStopped]


def test_room_tone_that_only_the_cheap_gate_hears_ends_where_the_speech_ends() -> None:
    endpointer = Endpointer()
    buzz = tone(0.02)
    events: list[object] = []
    for frame in range(100):  # 1 s of speech, then the gate keeps "hearing" room tone
        events += endpointer.push(buzz, voiced=True, speech=frame < 50)
    [stopped] = [e for e in events if isinstance(e, SpeechStopped)]
    assert stopped.end_ms == 50 * 20 and stopped.speech_ms == (50 - 6) * 20


def test_a_turn_starts_after_enough_voiced_frames_and_ends_after_the_silence() -> None:
    events = run(Endpointer(VADOptions()), [(False, 10), (True, 5), (True, 50), (False, 30)])
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechPaused, SpeechStopped]
    started, paused, stopped = events
    assert started.stream_ms == 200  # the first voiced frame, not the one that confirmed it
    assert paused.stream_ms == stopped.end_ms + 200
    assert stopped.start_ms == 200 and stopped.end_ms == 200 + 55 * 20
    assert stopped.stream_ms == stopped.end_ms + 500 and stopped.reason == "silence"
    # Pre-roll: 300 ms before the start window is kept; the tail is the speculative 200 ms.
    assert stopped.audio_start_ms == 0
    assert len(stopped.audio) == (10 + 55 + 10) * FRAME
    assert np.array_equal(paused.audio, stopped.audio)  # speculation is reusable as-is


def test_a_short_blip_is_not_speech() -> None:
    assert run(Endpointer(), [(False, 5), (True, 4), (False, 40), (True, 3), (False, 40)]) == []


def test_speech_resuming_after_the_speculative_point_continues_the_turn() -> None:
    events = run(Endpointer(), [(True, 20), (False, 15), (True, 20), (False, 30)])
    assert [type(e) for e in events] == [SpeechStarted, SpeechPaused, SpeechResumed,
                                         SpeechPaused, SpeechStopped]
    assert events[-1].end_ms == 55 * 20


def test_a_turn_is_cut_at_the_maximum_length() -> None:
    options = VADOptions(max_turn_ms=2000)
    events = run(Endpointer(options), [(True, 250)])
    stops = [e for e in events if isinstance(e, SpeechStopped)]
    assert stops and stops[0].reason == "max_length"
    assert len(stops[0].audio) == 100 * FRAME  # pre-roll frames count towards the 2 s
    assert isinstance(events[events.index(stops[0]) + 1], SpeechStarted)  # and speech goes on


def test_white_noise_is_not_speech_even_when_webrtcvad_says_so() -> None:
    rng = np.random.default_rng(1)
    detector = TurnDetector()
    noise = (rng.standard_normal(16000 * 3) * 4000).astype(np.int16).reshape(-1, FRAME)
    assert [e for frame in noise for e in detector.push(frame)] == []


@pytest.mark.parametrize("name", ["espeak_ko_1.wav", "espeak_ko_2.wav", "leopard_test_ko_16k.wav"])
def test_korean_speech_is_one_turn_with_its_timing(name: str) -> None:
    audio = np.concatenate([silence(0.5), load_wav(name), silence(1.0)])
    detector = TurnDetector()
    events = [e for frame in audio[: len(audio) // FRAME * FRAME].reshape(-1, FRAME)
              for e in detector.push(frame)]
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    stops = [e for e in events if isinstance(e, SpeechStopped)]
    assert len(starts) == len(stops) == 1
    clip_end_ms = 500 + len(load_wav(name)) * 1000 // 16000
    # The voices start 0.04-0.66 s into the clips (leopard_test_ko at 0.66 s, where its level
    # jumps 45 dB; a click at 0.3 s before it is not speech).
    assert 500 <= starts[0].stream_ms <= 1250
    assert clip_end_ms - 600 <= stops[0].end_ms <= clip_end_ms + 40


def test_frames_are_reassembled_from_odd_byte_counts() -> None:
    audio = load_wav("piper_en_1.wav")
    data = audio.astype("<i2").tobytes()
    assembler = FrameAssembler()
    frames = [f for offset in range(0, len(data), 333) for f in assembler.push(data[offset:offset + 333])]
    joined = np.concatenate(frames)
    assert len(joined) == len(audio) // FRAME * FRAME
    assert np.array_equal(joined, audio[: len(joined)])


@pytest.mark.parametrize("rate", [8000, 24000, 32000, 44100, 48000])
def test_every_supported_rate_resamples_to_16k(rate: int) -> None:
    audio = load_wav("piper_en_1.wav")
    data = resample(audio, rate).astype("<i2").tobytes()
    assembler = FrameAssembler(rate)
    frames = [f for offset in range(0, len(data), 1001) for f in assembler.push(data[offset:offset + 1001])]
    produced = len(frames) * FRAME
    assert abs(produced - len(audio)) < 0.02 * len(audio)


def test_unsupported_rate_is_named() -> None:
    with pytest.raises(UnsupportedRate, match="22050"):
        FrameAssembler(22050)


def test_sentence_splitter_speaks_early_and_keeps_offsets() -> None:
    reply = ("Thank you for telling me that, it sounds like a hard week. "
             "What happened on Monday? 스트레스를 많이 받으셨군요. 오늘은 어떠세요?")
    splitter = SentenceSplitter()
    pieces = [p for i in range(0, len(reply), 5) for p in splitter.push(reply[i:i + 5])]
    pieces += splitter.flush()
    texts = [text for text, _ in pieces]
    assert texts[0] == "Thank you for telling me that,"  # the first clause, for a fast start
    assert texts[-2:] == ["스트레스를 많이 받으셨군요.", "오늘은 어떠세요?"]
    assert " ".join(texts) == " ".join(reply.split())
    for text, ends_at in pieces:
        assert reply[:ends_at].rstrip().endswith(text)


def test_whisper_token_budget_and_window() -> None:
    assert max_new_tokens(2.0) < max_new_tokens(10.0) <= 440
    assert window_frames(2.0) == 300 and window_frames(40.0) == 3000


@pytest.fixture(scope="module")
def whisper(models_dir: Path) -> WhisperSTT:
    base = models.whisper_base(models_dir)
    return WhisperSTT({"en": models.whisper_tiny_en(), "ko": base, "auto": base})


def test_whisper_base_is_assembled_once_with_the_right_size(models_dir: Path) -> None:
    first = models.whisper_base(models_dir)
    mtime = (first / "model.bin").stat().st_mtime_ns
    assert models.whisper_base(models_dir) == first
    assert (first / "model.bin").stat().st_mtime_ns == mtime
    assert (first / "model.bin").stat().st_size == 145_217_532


def test_golden_transcripts(whisper: WhisperSTT) -> None:
    async def go() -> None:
        jfk = await whisper.transcribe(load_wav("jfk_16k.wav"), language="en", offset_ms=1000)
        text = re.sub(r"[^\w\s]", "", jfk.text.lower())
        assert "ask not what your country can do for you" in text
        assert "ask what you can do for your country" in text
        assert 1000 <= jfk.start_ms < 1500 and 10500 < jfk.end_ms < 12200
        ask = next(w for w in jfk.words if w.text.lower().startswith("country"))
        assert 6500 < ask.start_ms < 8000  # "country" first comes at ~6.0 s into the clip
        korean = await whisper.transcribe(load_wav("leopard_test_ko_16k.wav"), language="ko")
        assert korean.language == "ko" and "걸어갔다" in korean.text
        assert "피하면서" in korean.text

    asyncio.run(go())


def test_local_tts_engines_speak(tmp_path: Path) -> None:
    async def go() -> None:
        for engine, text in ((PiperTTS(models.piper_joe()), "Hello, how are you today?"),
                             (EspeakTTS("ko"), "안녕하세요, 오늘 기분은 어떠세요?")):
            pcm = b"".join([chunk async for chunk in engine.synthesize(text)])
            seconds = len(pcm) / 2 / engine.sample_rate
            assert engine.sample_rate == 22050 and 1.0 < seconds < 5.0, engine.name
            assert np.abs(np.frombuffer(pcm, dtype="<i2")).max() > 1000
            await engine.aclose()

    asyncio.run(go())


def test_speculation_can_be_turned_off() -> None:
    events = run(Endpointer(VADOptions(speculative_ms=0)), [(True, 20), (False, 30)])
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    assert len(events[-1].audio) == (20 + 10) * FRAME  # the 200 ms tail is kept all the same


def test_a_streamed_wav_gives_its_rate_then_its_pcm_whatever_the_pieces() -> None:
    import io
    import wave

    from audio.tts import TTSError, WavStreamReader

    pcm = np.arange(-500, 500, dtype="<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(22050)
        writer.writeframes(pcm)
    data = out.getvalue()
    for size in (1, 7, 44, 45, 4800):
        reader = WavStreamReader()
        got = b"".join(reader.push(data[i:i + size]) for i in range(0, len(data), size))
        assert (reader.sample_rate, got) == (22050, pcm)
    with pytest.raises(TTSError):
        WavStreamReader().push(b"not a wav at all")


# ---------------------------------------------------------------- the end of speech, the end of turn


@pytest.mark.parametrize("kind", ["quiet", "room_tone", "fan_15db"])
@pytest.mark.parametrize("name", ["leopard_test_en_16k.wav", "jfk_16k.wav", "piper_en_all.wav"])
def test_the_end_of_speech_is_found_where_the_words_end(name: str, kind: str) -> None:
    """Against the annotated ends (bench/clips.py), over real room tone and fan noise at
    15 dB SNR going on after the words: Silero's judgement, not webrtcvad's alone."""
    from bench.clips import variant
    from bench.end_of_speech import detected_end_ms

    audio, end_s = variant(name, kind)
    truth = round(end_s * 1000)
    end = detected_end_ms(audio, truth, silero=True)
    assert end is not None and -100 <= end - truth <= 150, (end, truth)


def test_room_tone_keeps_webrtcvad_alone_from_ever_ending_the_turn() -> None:
    """Why Silero is there: the same clip through webrtcvad alone never ends."""
    from bench.clips import variant
    from bench.end_of_speech import detected_end_ms

    audio, end_s = variant("leopard_test_en_16k.wav", "room_tone")
    assert detected_end_ms(audio, round(end_s * 1000), silero=False) is None


@pytest.mark.parametrize(("text", "language", "verdict"), [
    ("Mr. Quilter is the apostle of the middle classes.", "en", "complete"),
    ("Where are you from?", "en", "complete"),
    ("Yes, I did.", "en", "complete"),
    ("And so, my fellow Americans,", "en", "incomplete"),
    ("And so am I fellow Americans.", "en", "incomplete"),   # tiny.en's hearing of it
    ("And so my fellow Americans ask not...", "en", "incomplete"),
    ("ask what you can do for your country...", "en", "unknown"),  # audio that just stops
    ("I would like to...", "en", "incomplete"),
    ("회사에 갔는데...", "ko", "incomplete"),
    ("I led the team and", "en", "incomplete"),
    ("I think, um", "en", "incomplete"),
    ("I am a backend engineer", "en", "unknown"),
    ("요즘 회사에서 스트레스를 많이 받아요.", "ko", "complete"),
    ("그는 길 한 옆으로 걸어갔다.", "ko", "complete"),
    ("회사에 갔는데", "ko", "incomplete"),
    ("그래서", "ko", "incomplete"),
    ("음", "ko", "incomplete"),
    ("", "en", "unknown"),
])
def test_the_semantic_end_of_turn(text: str, language: str, verdict: str) -> None:
    assert classify(text, language) == verdict


@pytest.mark.parametrize(("text", "speech_ms", "backchannel"), [
    ("at it.", 400, True),                  # Whisper's "Got it."
    ("Yeah.", 400, True),
    ("Mm-hmm.", 500, True),
    ("네", 300, True),
    ("uh-huh, right", 700, True),
    ("", 300, True),                       # a cough Whisper wrote nothing for
    ("them.", 400, True),                  # a guess at a hum
    ("10", 300, True),                      # numbers out of a murmur
    ("이 영상은, 이 영상은, 이 영상은, 이 영상은,", 300, True),  # more words than time
    ("Wait.", 400, False),
    ("No, no.", 600, False),
    ("I see I see", 500, True),  # Whisper's double of a short "I see." (seen in CI)
    ("Yeah, yeah, yeah, yeah.", 900, True),
    ("네 네 네", 600, True),
    ("Sorry, sorry, can I ask something?", 1500, False),
    ("Hold on.", 500, False),
])
def test_what_counts_as_a_backchannel(text: str, speech_ms: int, backchannel: bool) -> None:
    assert is_backchannel(text, speech_ms) is backchannel


def test_sound_leading_into_a_turn_is_kept_before_its_pre_roll() -> None:
    """`onset`: a short word the VAD let pass before the words that started the turn is
    kept, when it ends within the turn's own pause of what follows; a sound further back
    is not, and a quiet pre-roll stays as it was."""
    quiet = np.full(FRAME, 30, np.int16) * np.resize([1, -1], FRAME).astype(np.int16)
    loud = (np.sin(np.arange(FRAME) * 0.3) * 8000).astype(np.int16)

    def frames(*runs: tuple[np.ndarray, int]) -> list[np.ndarray]:
        return [frame for frame, count in runs for _ in range(count)]

    # 20 quiet, a 300 ms word, 100 ms quiet, then the pre-roll: 300 ms quiet, then speech.
    leading = frames((quiet, 20), (loud, 15), (quiet, 5), (quiet, 15), (loud, 10))
    assert onset(leading, 40, max_gap=25) == 20 - 3
    # The same word a whole pause (500 ms) before the speech: a turn of its own.
    apart = frames((quiet, 20), (loud, 15), (quiet, 10), (quiet, 15), (loud, 10))
    assert onset(apart, 45, max_gap=25) == 45
    # A word running on into the pre-roll (the pre-roll began inside it).
    inside = frames((quiet, 30), (loud, 20), (quiet, 5), (loud, 10))
    assert onset(inside, 40, max_gap=25) == 30 - 3
    assert onset(frames((quiet, 60), (loud, 10)), 40, max_gap=25) == 40
    assert onset(frames((quiet, 10), (loud, 10)), 0, max_gap=25) == 0


def test_words_said_in_no_time_are_a_decoding_loop() -> None:
    def word(text: str, start_ms: int, end_ms: int) -> Word:
        return Word(text, start_ms, end_ms, 0.9)

    said = [word("ask", 8140, 8660), word("what", 8660, 8940), word("country", 10160, 10260)]
    assert not squeezed(said)
    assert not squeezed([*said, word("as", 10260, 10260), word("what", 10260, 10260)])
    assert squeezed([*said, word("as", 10260, 10260), word("what", 10260, 10260),
                     word("you", 10260, 10260), word("country", 10260, 10440)])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 40, 400, 4000]), st.booleans(),
                          st.integers(1, 40)), min_size=1, max_size=30))
def test_a_turn_never_takes_audio_another_turn_holds(
        runs: list[tuple[int, bool, int]]) -> None:
    """Any sequence of loud and quiet, voiced and unvoiced frames: each turn's audio starts
    where the stream had it (its samples are the stream's), after the audio of the turn
    before, and no further back than the pre-roll, the start window and the look-back."""
    options = VADOptions()
    endpointer = Endpointer(options)
    stream: list[np.ndarray] = []
    stops: list[SpeechStopped] = []
    for amplitude, voiced, count in runs:
        for _ in range(count):
            frame = (tone(0.02) * (amplitude / 32767)).astype(np.int16)
            stream.append(frame)
            stops += [e for e in endpointer.push(frame, voiced) if isinstance(e, SpeechStopped)]
    samples = np.concatenate(stream)
    reach = options.preroll_ms + options.start_window_ms + options.lookback_ms
    end_before = 0
    for stop in stops:
        first = stop.audio_start_ms * 16
        assert np.array_equal(stop.audio, samples[first:first + len(stop.audio)])
        assert stop.audio_start_ms >= end_before
        assert stop.start_ms - stop.audio_start_ms <= reach
        end_before = stop.audio_start_ms + len(stop.audio) // 16
