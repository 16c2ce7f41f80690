"""Speech to text: one small interface; faster-whisper locally, or OpenAI's API.

Whisper runs in a single worker thread (one decode at a time, on one CPU thread by default:
tiny and base decode faster on one thread than on two), and its lazy segment generator is
consumed entirely inside that thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import io
import itertools
import re
import time
import wave
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audio.admission import Admission, EngineBusy
from audio.pcm import frame_levels_db, to_float32
from audio.repeats import repeated_runs
from audio.types import PIPELINE_RATE, Int16Array

# Whisper falls into repetition loops on poor audio; a segment this repetitive is dropped.
MAX_COMPRESSION_RATIO = 2.4
# Whisper pads every call to a 30 s window, so its encoder costs the same for a 2 s turn
# as for 30 s (about 1.1 s for tiny.en on a slow 2-core CPU). CTranslate2 encodes shorter
# inputs, so the window is cut to the utterance plus this much padding: 2-3x faster, with
# the same words and word times on every fixture (half a second of padding sometimes
# made Whisper repeat itself; one second never did).
WINDOW_PADDING_S = 1.0
# When that loops or finds nothing, three seconds of padding nearly always does not (8 of 9
# such decodes in tests/data/pace, at 130-440 ms; the full window takes ~900 ms).
RETRY_PADDING_S = 3.0
FULL_WINDOW_FRAMES = 3000  # 30 s of 10 ms mel frames
TRAILING_WORD_MS = 300  # a word may start this long after the last voiced frame
# Whisper's own mark of a failed decode (faster-whisper's `log_prob_threshold`): tokens
# averaging a lower log-probability. With the disfluent prompt tiny.en now and then writes a
# line of its own over real speech ("I'm going to go." for nine seconds of a licence read
# aloud, at -1.5; the same audio reads right without the prompt, at -0.4).
LOG_PROB_THRESHOLD = -1.0
# A prompted decode can also stop short. After a sound that is not words (a laugh), the
# prompt leads Whisper to write that sound in the prompt's own fillers and end there, or to
# write a word for it and end there, leaving the sentence after it unwritten ("으... 으...
# 으..." or "스네?" over a 3.7 s Korean sentence; the same audio reads right without the
# prompt, and likelier). Such a decode is doubtful too: it wrote only the prompt's words, or
# left this much sound between its words (a long laugh is ~2 s; the filler set's prompted
# English decodes leave at most 960 ms).
UNWRITTEN_MS = 2000
LOUD_WITHIN_DB = 15.0  # "sound": a 20 ms frame within this of the clip's loud frames (p95)
# Whisper often ends with a word of its own, written over the last word's tail or the
# padding after it: "Okay.", "it.", "And then...". In the filler set's English answers it
# did so in 9 of 128 (3 of 64 with Intel MKL's kernels), each word at probability
# 0.01-0.21 after words heard at 0.67-0.95 on average; the real last words it was least
# sure of read 0.28 and 0.29. A last word it was guessing at, after words heard clearly,
# is not kept. (Where all the words are guesses, as at espeak-ng's Korean, none is dropped:
# there is nothing to tell a guess from.) feedback.acoustic lets no such word claim sound.
GUESSED = 0.25
HEARD_CLEARLY = 0.6  # the mean probability of the words before


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: int
    end_ms: int
    probability: float


@dataclass(frozen=True)
class Transcript:
    text: str
    start_ms: int
    end_ms: int
    words: tuple[Word, ...]
    language: str | None
    stt_ms: float
    engine: str = ""


# Written in a disfluent style, this keeps more of the "um"s and "uh"s Whisper tends to
# drop (feedback counts them); the figures are in ../shared/fixtures/SOURCES.md and, for
# Korean (filled pauses Whisper wrote: 0.58 -> 0.72 of the filler set's), docs/feedback.md.
FILLER_PROMPT = {"en": "Umm, let me think like, hmm... Okay, uh, so",
                 "ko": "음... 어, 그러니까 저... 그게, 으... 좀"}


@dataclass(frozen=True)
class STTOptions:
    beam_size: int = 1
    max_seconds: float = 6.0  # per utterance; past it the utterance is given up
    initial_prompt: dict[str, str] = field(default_factory=dict)  # per language


class STTError(Exception):
    """Transcription failed or took too long; the message is fit to show the user."""

    def __init__(self, reason: str, code: str = "stt_failed") -> None:
        super().__init__(reason)
        self.code = code


class STT(ABC):
    name: str

    @abstractmethod
    async def transcribe(self, audio: Int16Array, *, language: str | None,
                         offset_ms: int = 0, speech_end_ms: int | None = None,
                         preceding: str | None = None) -> Transcript:
        """Transcribe one utterance of 16 kHz audio that starts at `offset_ms` in the stream;
        words starting well after `speech_end_ms` (the last voiced frame) are dropped.
        `preceding` is what the speaker said just before this audio (the start of the same
        utterance), given to the recogniser as context."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Release worker threads and network clients."""


# Under a second of audio, the prompt nearly always makes Whisper loop ("um um um..."):
# such audio is decoded without it first.
PROMPTED_MIN_S = 1.0
LOOP_WORDS = 8  # a phrase repeated back to back over this many words is a decoding loop
# Words the alignment puts at one instant have no sound under them: Whisper wrote on past
# the audio, and its word timing found nowhere to put them. On JFK's last phrase, cut by the
# turn detector as a user's microphone would be, tiny.en wrote "ask what you can do for your
# country as what you can do for your country", the repeat's seven words all at 10.26 s; the
# loop check misses it ("ask" came back as "as", so the phrase does not follow itself).
SQUEEZED_WORDS = 3


def _plain(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


def repeats_itself(words: list[str]) -> bool:
    """Whisper's repetition loop, which the compression ratio misses on short text: a phrase
    said again and again back to back ("um um um um um um um um", "so I think my biggest
    strength is... so I think my biggest strength is..."), LOOP_WORDS words or more. A
    speaker's own "no, no, no" or "I think, I think" is far shorter."""
    norm = [w for w in map(_plain, words) if w]
    return any(n * times >= LOOP_WORDS and (n >= 3 or times >= 4)
               for _, n, times in repeated_runs(norm))


def echoes_prompt(words: list[str], prompt: str) -> bool:
    """Whether a decode wrote nothing the prompt did not say ("으... 으..." under the
    prompt "음... 어, 그러니까 저... 그게, 으... 좀")."""
    said = {_plain(w) for w in prompt.split()}
    plain = [w for w in map(_plain, words) if w]
    return bool(plain) and all(w in said for w in plain)


def squeezed(words: list[Word]) -> bool:
    """Whether `SQUEEZED_WORDS` or more words in a row start at the same instant: words
    written with no audio to say them in, a decoding loop as much as a repeated phrase is."""
    run = 1
    for before, word in itertools.pairwise(words):
        run = run + 1 if word.start_ms == before.start_ms else 1
        if run >= SQUEEZED_WORDS:
            return True
    return False


def unwritten_ms(audio: Int16Array, words: list[Word], offset_ms: int = 0) -> int:
    """The most sound (20 ms frames within LOUD_WITHIN_DB of the clip's loud frames) that
    lies between two written words, or before the first or after the last, in ms."""
    frame_ms = 20
    frame = PIPELINE_RATE * frame_ms // 1000
    n = len(audio) // frame
    if n == 0:
        return 0
    level = frame_levels_db(audio[: n * frame].reshape(n, frame))
    loud = level >= np.percentile(level, 95) - LOUD_WITHIN_DB
    written = np.zeros(n, dtype=bool)
    for word in words:
        written[max(0, (word.start_ms - offset_ms) // frame_ms):
                (word.end_ms - offset_ms) // frame_ms + 1] = True
    # Count the loud frames in each unwritten stretch: the running count, less its value at
    # the last written frame.
    counted = np.cumsum(np.where(written, 0, loud))
    runs = counted - np.maximum.accumulate(np.where(written, counted, 0))
    return int(runs.max()) * frame_ms


def without_closing_guesses(words: list[Word]) -> list[Word]:
    """`words` without the words Whisper ended on that it was guessing at (`GUESSED`), when
    the words before them were heard clearly (`HEARD_CLEARLY`). Only words with letters
    go: a closing "%" or "." belongs to what came before."""
    end = len(words)
    while end > 1:
        last = words[end - 1]
        if last.probability >= GUESSED or not any(c.isalpha() for c in last.text):
            break
        before = [w.probability for w in words[:end - 1]]
        if sum(before) / len(before) < HEARD_CLEARLY:
            break
        end -= 1
    return words[:end]


def window_frames(duration_s: float, padding_s: float = WINDOW_PADDING_S) -> int:
    """Encoder input length for an utterance: its duration plus padding, even, at most 30 s."""
    frames = int(np.ceil((duration_s + padding_s) * 50)) * 2
    return min(FULL_WINDOW_FRAMES, frames)


@functools.cache
def _short_window_model() -> type:
    """A `WhisperModel` whose encoder sees only `window_frames` of the padded 30 s window."""
    from faster_whisper import WhisperModel

    class ShortWindowWhisper(WhisperModel):  # type: ignore[misc]
        window_frames = FULL_WINDOW_FRAMES

        def encode(self, features: Any) -> Any:
            return super().encode(features[..., : self.window_frames])

    return ShortWindowWhisper


def max_new_tokens(duration_s: float) -> int:
    """A token budget generous for real speech (Korean included) that stops runaway loops."""
    return min(440, int(14 * duration_s) + 24)


class WhisperSTT(STT):
    """faster-whisper with one model per language (see `audio.models`)."""

    name = "whisper"

    def __init__(self, models: dict[str, Path | str], *, threads: int = 1,
                 options: STTOptions | None = None, short_window: bool = True,
                 workers: int = 1, max_wait_s: float = 3.0) -> None:
        self._model_refs = models  # language ("en", "ko", "auto") -> model path or name
        self._threads = threads
        self._workers = workers
        self._short_window = short_window
        self.options = options or STTOptions()
        self._models: dict[str, Any] = {}
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")
        self.admission = Admission("speech recognition", workers=workers, max_wait_s=max_wait_s)

    def _model_key(self, language: str | None) -> str:
        key = language or "auto"
        return key if key in self._model_refs else "auto"

    def _load(self, key: str) -> Any:
        if key not in self._models:
            self._models[key] = _short_window_model()(
                str(self._model_refs[key]), device="cpu", compute_type="int8",
                cpu_threads=self._threads, num_workers=self._workers)
        return self._models[key]

    async def preload(self, languages: tuple[str, ...] | None = None) -> None:
        """Load the models for `languages` (all by default) in the worker thread; the
        others load on first use."""
        loop = asyncio.get_running_loop()
        keys = dict.fromkeys(self._model_key(lang) for lang in languages or self._model_refs)
        for key in keys:
            await loop.run_in_executor(self._executor, self._load, key)

    async def transcribe(self, audio: Int16Array, *, language: str | None,
                         offset_ms: int = 0, speech_end_ms: int | None = None,
                         preceding: str | None = None) -> Transcript:
        loop = asyncio.get_running_loop()
        try:
            async with self.admission.admit():
                job = loop.run_in_executor(self._executor, self._transcribe_sync, audio, language,
                                           offset_ms, speech_end_ms, preceding)
                return await asyncio.wait_for(job, self.options.max_seconds)
        except EngineBusy as busy:
            raise STTError(str(busy), code="stt_busy") from None
        except TimeoutError:
            raise STTError(f"transcription took longer than {self.options.max_seconds:g} s"
                           " and was given up") from None

    def _transcribe_sync(self, audio: Int16Array, language: str | None, offset_ms: int,
                         speech_end_ms: int | None, preceding: str | None = None) -> Transcript:
        started = time.perf_counter()
        key = self._model_key(language)
        model = self._load(key)
        whisper_language = None if language in (None, "auto") else language
        if key == "en":
            whisper_language = "en"
        # Whisper's prompt is "the text before this window": the style prompt, then the
        # words that really came before (faster-whisper keeps the prompt's last 223 tokens).
        prompt = " ".join(filter(None, (self.options.initial_prompt.get(whisper_language or ""),
                                        preceding))) or None
        # A repetition loop, or nothing at all: once more without the prompt (on a short
        # utterance the prompt is what loops: "um um um um..."), then with more padding,
        # then in Whisper's own 30 s window, which is slower (~1 s on tiny) but does not
        # loop on these. (Padding None: the full window.) A prompted decode Whisper itself
        # would call failed, or one that stopped short (above), is decoded once more
        # without the prompt, and the likelier of the two is kept.
        attempts: list[tuple[str | None, float | None]] = [(prompt, WINDOW_PADDING_S),
                                                             (None, WINDOW_PADDING_S),
                                                             (None, RETRY_PADDING_S), (None, None)]
        if len(audio) < PROMPTED_MIN_S * PIPELINE_RATE:
            attempts[:2] = attempts[1::-1]
        if not self._short_window:
            attempts = [(p, None) for p, _ in attempts]
        doubtful: tuple[list[Word], str | None, float] | None = None
        for with_prompt, padding_s in dict.fromkeys(attempts):
            words, detected, clean, log_prob = self._decode(model, audio, whisper_language,
                                                            with_prompt, padding_s, offset_ms)
            if (clean and with_prompt and doubtful is None
                    and (log_prob < LOG_PROB_THRESHOLD
                         or echoes_prompt([w.text for w in words], with_prompt)
                         or unwritten_ms(audio, words, offset_ms) >= UNWRITTEN_MS)):
                doubtful = (words, detected, log_prob)
                continue
            if clean:
                break
        if doubtful is not None and (not clean or doubtful[2] > log_prob):
            words, detected, _ = doubtful
        if speech_end_ms is not None:
            # Whisper pads with silence and sometimes "hears" a closing "Thank you." in it.
            words = [w for w in words if w.start_ms <= speech_end_ms + TRAILING_WORD_MS]
        words = without_closing_guesses(words)
        duration_ms = round(len(audio) / PIPELINE_RATE * 1000)
        return Transcript(
            text=" ".join(w.text for w in words),
            start_ms=words[0].start_ms if words else offset_ms,
            end_ms=words[-1].end_ms if words else offset_ms + duration_ms,
            words=tuple(words),
            language=detected,
            stt_ms=round((time.perf_counter() - started) * 1000, 1),
            engine=f"whisper:{Path(str(self._model_refs[key])).name}",
        )

    def _decode(self, model: Any, audio: Int16Array, language: str | None, prompt: str | None,
                padding_s: float | None, offset_ms: int
                ) -> tuple[list[Word], str | None, bool, float]:
        """Words, detected language, whether the output was clean (no segment dropped for
        looping, and some words), and the kept tokens' mean log-probability. The encoder
        sees the audio plus `padding_s`, or Whisper's whole 30 s window."""
        duration_s = len(audio) / PIPELINE_RATE
        model.window_frames = (FULL_WINDOW_FRAMES if padding_s is None
                               else window_frames(duration_s, padding_s))
        segments, info = model.transcribe(
            to_float32(audio), language=language, beam_size=self.options.beam_size,
            temperature=0.0, condition_on_previous_text=False, word_timestamps=True,
            without_timestamps=False, vad_filter=False, max_new_tokens=max_new_tokens(duration_s),
            initial_prompt=prompt,
        )
        words: list[Word] = []
        looped = False
        tokens, log_prob = 0, 0.0
        for segment in segments:  # the generator decodes as it is consumed: keep it here
            if segment.compression_ratio > MAX_COMPRESSION_RATIO or repeats_itself(
                    [w.word for w in segment.words or ()]):
                looped = True
                continue
            tokens += len(segment.tokens)
            log_prob += segment.avg_logprob * len(segment.tokens)
            for word in segment.words or ():
                text = word.word.strip()
                if text:
                    words.append(Word(text, offset_ms + round(word.start * 1000),
                                      offset_ms + round(word.end * 1000),
                                      round(word.probability, 4)))
        # A loop may also span segments ("I think the plan needs one more review." twice,
        # the second squeezed into the padding).
        looped = looped or repeats_itself([w.text for w in words]) or squeezed(words)
        return (words, info.language, bool(words) and not looped,
                log_prob / tokens if tokens else float("-inf"))

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def wav_bytes(audio: Int16Array, rate: int = PIPELINE_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(audio.tobytes())
    return buffer.getvalue()


class OpenAISTT(STT):
    """OpenAI's transcription API (better Korean for users with a key)."""

    name = "openai"

    def __init__(self, *, api_key: str | None, base_url: str | None,
                 model: str = "whisper-1", timeout_s: float = 15.0) -> None:
        from openai import AsyncOpenAI

        self._client = AsyncOpenAI(api_key=api_key or "unused", base_url=base_url,
                                   timeout=timeout_s, max_retries=1)
        self.model = model

    async def transcribe(self, audio: Int16Array, *, language: str | None,
                         offset_ms: int = 0, speech_end_ms: int | None = None,
                         preceding: str | None = None) -> Transcript:
        import openai

        started = time.perf_counter()
        extra: dict[str, Any] = {} if language in (None, "auto") else {"language": language}
        if preceding:
            extra["prompt"] = preceding
        try:
            result = await self._client.audio.transcriptions.create(
                model=self.model, file=("utterance.wav", wav_bytes(audio), "audio/wav"),
                response_format="verbose_json", timestamp_granularities=["word"], **extra,
            )
        except openai.APIError as error:
            raise STTError(f"the transcription service failed ({type(error).__name__})") from None
        words = tuple(
            Word(w.word.strip(), offset_ms + round(w.start * 1000), offset_ms + round(w.end * 1000),
                 1.0)
            for w in (result.words or ())
        )
        duration_ms = round(len(audio) / PIPELINE_RATE * 1000)
        return Transcript(
            text=result.text.strip(), start_ms=words[0].start_ms if words else offset_ms,
            end_ms=words[-1].end_ms if words else offset_ms + duration_ms, words=words,
            language=getattr(result, "language", language),
            stt_ms=round((time.perf_counter() - started) * 1000, 1), engine=f"openai:{self.model}",
        )

    async def aclose(self) -> None:
        await self._client.close()
