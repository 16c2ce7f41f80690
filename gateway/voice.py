"""Microphone audio in: frames -> turn detection -> (speculative) transcription -> a turn.

Framing, resampling and VAD cost tens of microseconds per 20 ms frame and run inline;
a large binary message is processed in a worker thread instead. Whisper runs in its own
worker. Transcription starts when the silence reaches VAD_SPECULATIVE_MS, so it is
usually done by the time the end of turn is confirmed; it is thrown away if speech
resumes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from audio.pcm import FrameAssembler, UnsupportedRate
from audio.stt import STTError, Transcript
from audio.types import PIPELINE_RATE
from audio.vad import (
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    VADEvent,
    VADOptions,
)
from gateway import protocol as p
from gateway.config import Settings
from gateway.engines import SpeechEngines
from gateway.outbox import Outbox
from gateway.privacy import preview

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 1024 * 1024
INLINE_FRAMES = 25  # up to 0.5 s of audio is processed on the loop; more goes to a thread


class AudioRejected(Exception):
    """Audio the session cannot use, with the `error` code and reason for the client."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class _Speculation:
    audio_samples: int
    task: asyncio.Task[Transcript]


@dataclass(frozen=True)
class VoiceTurn:
    """A final transcript and when its speech ended, for the conversation to answer."""

    transcript: Transcript
    speech_end_at: float | None  # perf_counter() when the last voiced frame arrived
    endpoint_at: float           # perf_counter() when the end of turn was confirmed
    transcript_at: float
    speculative_hit: bool
    voiced: tuple[tuple[int, int], ...] = ()  # VAD voiced stretches, stream ms


class VoiceInput:
    """One session's microphone stream."""

    def __init__(self, settings: Settings, engines: SpeechEngines, outbox: Outbox,
                 language: str, on_turn: Callable[[VoiceTurn], Awaitable[None]],
                 on_speech_started: Callable[[], Awaitable[None]]) -> None:
        self.settings = settings
        self.engines = engines
        self.outbox = outbox
        self.language = language
        self._on_turn = on_turn
        self._on_speech_started = on_speech_started
        options = VADOptions(silence_ms=settings.vad_silence_ms,
                             speculative_ms=settings.vad_speculative_ms,
                             max_turn_ms=int(settings.vad_max_turn_s * 1000))
        self._frame_ms = options.frame_ms
        self._assembler = FrameAssembler(PIPELINE_RATE, options.frame_samples)
        self._detector = TurnDetector(options, settings.vad_aggressiveness)
        self._frames = 0
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=512)  # (frame count, time)
        self._speculation: _Speculation | None = None
        self._in_order = asyncio.Lock()  # transcripts become turns in the order spoken
        self._tasks: set[asyncio.Task[None]] = set()

    def configure(self, sample_rate: int) -> None:
        try:
            self._assembler = FrameAssembler(sample_rate, self._assembler.frame_samples)
        except UnsupportedRate as error:
            raise AudioRejected("unsupported_sample_rate", str(error)) from None

    async def push(self, data: bytes) -> None:
        """Take one binary frame of PCM16 LE mono at the configured rate."""
        if len(data) > MAX_FRAME_BYTES:
            raise AudioRejected("audio_frame_too_large",
                                f"an audio frame is {len(data)} bytes; the limit is "
                                f"{MAX_FRAME_BYTES} bytes (1 MiB)")
        received_at = time.perf_counter()
        estimated_frames = len(data) // 2 * PIPELINE_RATE // self._assembler.resampler.input_rate \
            // self._assembler.frame_samples
        if estimated_frames > INLINE_FRAMES:
            events = await asyncio.to_thread(self._ingest, data)
        else:
            events = self._ingest(data)
        self._arrivals.append((self._frames, received_at))
        for event in events:
            await self._handle(event)

    def _ingest(self, data: bytes) -> list[VADEvent]:
        events: list[VADEvent] = []
        for frame in self._assembler.push(data):
            self._frames += 1
            events += self._detector.push(frame)
        return events

    def _arrival_of(self, stream_ms: int) -> float | None:
        frame = stream_ms // self._frame_ms
        for count, at in self._arrivals:
            if count >= frame:
                return at
        return None

    async def _handle(self, event: VADEvent) -> None:
        if isinstance(event, SpeechStarted):
            await self.outbox.send(p.SpeechStartedEvent(data=p.StreamTime(stream_ms=event.stream_ms)))
            await self._on_speech_started()
        elif isinstance(event, SpeechPaused):
            self._speculate(event)
        elif isinstance(event, SpeechResumed):
            self._drop_speculation()
        elif isinstance(event, SpeechStopped):
            await self.outbox.send(p.SpeechStoppedEvent(data=p.SpeechStoppedData(
                stream_ms=event.stream_ms, start_ms=event.start_ms, end_ms=event.end_ms,
                reason=event.reason)))
            speculation, self._speculation = self._speculation, None
            task = asyncio.create_task(self._finalize(event, speculation, time.perf_counter()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _speculate(self, event: SpeechPaused) -> None:
        self._drop_speculation()
        if self.engines.stt is None:
            return
        task = asyncio.create_task(self.engines.stt.transcribe(
            event.audio, language=self.language, offset_ms=event.audio_start_ms,
            speech_end_ms=event.speech_end_ms))
        self._speculation = _Speculation(len(event.audio), task)

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation.task.cancel()  # the worker finishes; its result is ignored
            self._speculation = None

    async def _finalize(self, event: SpeechStopped, speculation: _Speculation | None,
                        endpoint_at: float) -> None:
        async with self._in_order:
            if self.engines.stt is None:
                reason = self.engines.problems.get("stt", "no engine configured")
                await self.outbox.error("stt_unavailable",
                                        f"speech recognition is unavailable: {reason}")
                return
            hit = speculation is not None and speculation.audio_samples == len(event.audio)
            try:
                if hit:
                    assert speculation is not None
                    transcript = await speculation.task
                else:
                    if speculation is not None:
                        speculation.task.cancel()
                    transcript = await self.engines.stt.transcribe(
                        event.audio, language=self.language, offset_ms=event.audio_start_ms,
                        speech_end_ms=event.end_ms)
            except STTError as error:
                await self.outbox.error("stt_failed", str(error))
                return
            transcript_at = time.perf_counter()
            if not transcript.text:
                log.info("utterance at %d ms had no words", event.start_ms)
                return
            log.info("transcript (%s, %.0f ms, speculative=%s): %s", transcript.language,
                     transcript.stt_ms, hit, preview(transcript.text))
            await self.outbox.send(p.TranscriptEvent(data=p.TranscriptData(
                text=transcript.text, start_ms=transcript.start_ms, end_ms=transcript.end_ms,
                words=[p.WordData(word=w.text, start_ms=w.start_ms, end_ms=w.end_ms,
                                  probability=w.probability) for w in transcript.words],
                language=transcript.language, stt_ms=transcript.stt_ms, speculative=hit)))
            await self._on_turn(VoiceTurn(transcript, self._arrival_of(event.end_ms),
                                          endpoint_at, transcript_at, hit, event.voiced))

    async def aclose(self) -> None:
        self._drop_speculation()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
