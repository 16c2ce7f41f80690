"""Microphone audio in: frames -> turn detection -> (speculative) transcription.

A stage: `push()` takes a binary frame and returns the VAD events it produced; the
transcriptions it starts put `TranscriptReady` / `ListeningFailed` into the owner's inbox,
in the order the utterances were spoken. It never speaks the wire protocol.

Framing, resampling and VAD cost tens of microseconds per 20 ms frame and run inline; a
large binary message is processed in a worker thread instead. Whisper runs in its own
worker. Transcription starts when the silence reaches VAD_SPECULATIVE_MS, so it is usually
done by the time the end of turn is confirmed. If speech resumes, a transcript that ends in a
finished sentence is kept: the next transcription of the same utterance decodes only the
audio after it (with those words as context), so a long answer costs one sentence at its
end, not the whole answer again.

Audio that cannot be speech (a steady tone, clipping, DC) is refused before Whisper, and
each session may spend at most `STT_BUDGET_RATIO` seconds of recognition per second of
audio it sends (plus a burst), so no client can keep the shared recogniser busy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace

from audio.pcm import FrameAssembler, UnsupportedRate
from audio.signal import non_speech_reason
from audio.stt import STT, STTError, Transcript
from audio.turn_end import TurnEnd, TurnEndPolicy, classify
from audio.types import PIPELINE_RATE, Int16Array
from audio.vad import (
    SpeechPaused,
    SpeechResumed,
    SpeechStopped,
    TurnDetector,
    VADEvent,
    VADOptions,
)
from gateway.config import Settings
from gateway.privacy import preview
from gateway.session.events import (
    ListeningFailed,
    Message,
    TranscriptReady,
    TranscriptSpeculated,
    UtteranceIgnored,
    VoiceTurn,
)
from gateway.session.tasks import abandon

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 1024 * 1024
INLINE_FRAMES = 25  # up to 0.5 s of audio is processed on the loop; more goes to a thread
STT_BURST_S = 8.0   # recognition time a session may spend before its audio has earned it


class _Refused(Exception):
    def __init__(self, failure: ListeningFailed) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class AudioRejected(Exception):
    """Audio the session cannot use, with the `error` code and reason for the client."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class _Speculation:
    """A transcription of the utterance's first `audio_samples`, started at a pause.
    `earlier` is the one started at the utterance's previous pause, if speech resumed
    after it: a finished sentence there is a head later transcriptions can build on."""

    audio_samples: int
    audio_start_ms: int
    task: asyncio.Task[Transcript]
    earlier: _Speculation | None = None


def _chain(speculation: _Speculation | None) -> Iterator[_Speculation]:
    """A speculation and those of the same utterance before it, latest first."""
    while speculation is not None:
        yield speculation
        speculation = speculation.earlier


HEAD_MIN_WORDS = 4  # a shorter head saves little and is often misheard ("And uh," as "And up.")


def _ended_a_sentence(task: asyncio.Task[Transcript], language: str) -> bool:
    """Is this speculation done, with a transcript that ends in a finished sentence?"""
    return (task.done() and not task.cancelled() and task.exception() is None
            and _settled(task.result(), language))


def _settled(transcript: Transcript, language: str) -> bool:
    """Can later audio be transcribed on its own after this? Only after a finished
    sentence: cutting mid-sentence ("ask not | what your country...") loses words."""
    return (len(transcript.words) >= HEAD_MIN_WORDS
            and classify(transcript.text, language) == "complete")


def carries_on(tail: Transcript) -> bool:
    """Does the tail carry on the head's sentence ("I wrote the proposal." | "and presented
    it to the board")? Whisper capitalises a sentence's first word, so a lowercase one says
    the head's full stop was only a pause. (Korean has no such mark; there the rule in
    `_settled` alone decides.)"""
    first = tail.words[0].text.lstrip("\"'“‘([¿¡-…. ") if tail.words else ""
    return first[:1].isascii() and first[:1].islower()


def joined(head: Transcript, tail: Transcript) -> Transcript:
    """One utterance's transcript from the transcripts of two consecutive stretches of it;
    the time spent is the tail's (the head's was counted when it was made)."""
    if not tail.words:
        return replace(head, stt_ms=tail.stt_ms)
    return Transcript(text=f"{head.text} {tail.text}", start_ms=head.start_ms,
                      end_ms=tail.end_ms, words=head.words + tail.words,
                      language=tail.language or head.language, stt_ms=tail.stt_ms,
                      engine=tail.engine)


class Listening:
    """One session's microphone stream."""

    def __init__(self, settings: Settings, stt: STT | None, stt_problem: str | None,
                 language: str, post: Callable[[Message], Awaitable[None]]) -> None:
        self.stt = stt
        self.stt_problem = stt_problem
        self.language = language
        self._post = post
        options = VADOptions(silence_ms=settings.vad_silence_ms,
                             speculative_ms=settings.vad_speculative_ms,
                             max_turn_ms=int(settings.vad_max_turn_s * 1000),
                             confirm_ms=settings.barge_in_confirm_ms,
                             max_silence_ms=max(settings.eot_incomplete_ms,
                                                settings.vad_silence_ms))
        self._frame_ms = options.frame_ms
        self._assembler = FrameAssembler(PIPELINE_RATE, options.frame_samples)
        self._detector = TurnDetector(options, settings.vad_aggressiveness,
                                      silero=settings.vad_silero)
        self._turn_end = (TurnEndPolicy(settings.eot_complete_ms, settings.vad_silence_ms,
                                        settings.eot_incomplete_ms)
                          if settings.semantic_turn_end else None)
        self.last_verdict: TurnEnd | None = None
        self._frames = 0
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=512)  # (frame count, time)
        self._speculation: _Speculation | None = None
        self._earlier: _Speculation | None = None  # of this utterance, before speech resumed
        self._in_order = asyncio.Lock()  # transcripts become turns in the order spoken
        self._tasks: set[asyncio.Task[None]] = set()
        self._budget_ratio = settings.stt_budget_ratio
        self._by_sentence = settings.stt_by_sentence
        self._stt_spent_s = 0.0

    def configure(self, sample_rate: int) -> None:
        try:
            self._assembler = FrameAssembler(sample_rate, self._assembler.frame_samples)
        except UnsupportedRate as error:
            raise AudioRejected("unsupported_sample_rate", str(error)) from None

    async def push(self, data: bytes) -> list[VADEvent]:
        """Take one binary frame of PCM16 LE mono at the configured rate; return what the
        VAD saw. Pauses and ends of turn start transcriptions as a side effect."""
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
            if isinstance(event, SpeechPaused):
                self._speculate(event)
            elif isinstance(event, SpeechResumed):
                self._speech_resumed()
            elif isinstance(event, SpeechStopped):
                self._finalize_later(event)
        return events

    @property
    def audio_seconds(self) -> float:
        return self._frames * self._frame_ms / 1000

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

    def _refusal(self, audio: Int16Array) -> ListeningFailed | None:
        """Why this utterance is not worth the recogniser's time, if it is not."""
        if self.stt is None:
            return ListeningFailed("stt_unavailable", "speech recognition is unavailable: "
                                   f"{self.stt_problem or 'no engine configured'}")
        reason = non_speech_reason(audio)
        if reason is not None:
            return ListeningFailed("not_speech", f"{reason}; it was not transcribed")
        allowed = STT_BURST_S + self._budget_ratio * self.audio_seconds
        if self._stt_spent_s > allowed:
            return ListeningFailed(
                "stt_budget_exceeded",
                f"this session used {self._stt_spent_s:.1f} s of speech recognition for "
                f"{self.audio_seconds:.1f} s of audio; the utterance was not transcribed")
        return None

    def _speculate(self, event: SpeechPaused) -> None:
        earlier, self._earlier = self._earlier, None
        if self._speculation is not None:  # (a pause always follows speech; just in case)
            abandon(self._speculation.task)
            self._speculation = None
        self.last_verdict = None
        if self._refusal(event.audio) is not None:
            return
        task = asyncio.create_task(self._transcribe(event.audio, event.audio_start_ms,
                                                    event.speech_end_ms, earlier))
        task.add_done_callback(self._count_spent)
        self._speculation = _Speculation(len(event.audio), event.audio_start_ms, task, earlier)
        if self._turn_end is not None:
            if self._live():
                # The reply needs this transcript anyway: the turn does not end before it
                # says how finished the utterance sounds (bounded by EOT_INCOMPLETE_MS).
                # A recording sent faster than real time is split by silence alone.
                self._detector.endpointer.require_silence(self._turn_end.incomplete_ms)
            task.add_done_callback(self._judge_turn_end)

    def _speech_resumed(self) -> None:
        """Speech goes on: the transcript started at the pause is not the utterance's, but
        it may be the start of it that later transcriptions build on."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return
        task = speculation.task
        if task.done() and not _ended_a_sentence(task, self.language):
            abandon(task)  # the worker finishes; its result is ignored
            self._earlier = speculation.earlier
        else:  # a finished sentence, or it may turn out to be one
            self._earlier = speculation

    async def _say(self, message: Message) -> None:
        await self._post(message)

    def _live(self) -> bool:
        """Is the audio arriving about as fast as it plays (a microphone, not a file)?"""
        if not self._arrivals:
            return True
        elapsed = time.perf_counter() - self._arrivals[0][1]
        audio_s = (self._frames - self._arrivals[0][0]) * self._frame_ms / 1000
        return elapsed >= 0.8 * audio_s - 0.5

    def _judge_turn_end(self, task: asyncio.Task[Transcript]) -> None:
        """The speculative transcript is in: set how much silence ends this utterance."""
        if self._turn_end is None or self._speculation is None \
                or self._speculation.task is not task:
            return  # speech resumed: that utterance goes on
        failed = task.cancelled() or task.exception() is not None
        verdict: TurnEnd = "unknown"
        if not failed:
            transcript = task.result()
            verdict = classify(transcript.text, self.language)
            if verdict != "incomplete" and transcript.text:
                posting = asyncio.create_task(self._say(TranscriptSpeculated(transcript)))
                self._tasks.add(posting)
                posting.add_done_callback(self._tasks.discard)
        self.last_verdict = verdict
        silence_ms = self._turn_end.silence_ms(verdict)
        if verdict == "complete" and any(_ended_a_sentence(earlier.task, self.language)
                                         for earlier in _chain(self._speculation.earlier)):
            # This speaker has gone on after a finished sentence before, in this utterance:
            # a full stop is no longer a sign that the turn is over (a long answer's
            # sentences are 200-400 ms apart).
            silence_ms = max(silence_ms, self._turn_end.unknown_ms)
        self._detector.endpointer.require_silence(silence_ms)

    def _count_spent(self, task: asyncio.Task[Transcript]) -> None:
        if not task.cancelled() and task.exception() is None:
            self._stt_spent_s += task.result().stt_ms / 1000

    def _drop_speculation(self) -> None:
        for speculation in (self._speculation, self._earlier):
            if speculation is not None:
                abandon(speculation.task)  # the worker finishes; its result is ignored
        self._speculation = self._earlier = None

    async def _transcribe(self, audio: Int16Array, audio_start_ms: int, speech_end_ms: int,
                          earlier: _Speculation | None) -> Transcript:
        """The words of `audio` (an utterance so far): the last finished sentence among the
        earlier transcripts of its start, and the audio after it transcribed on its own."""
        assert self.stt is not None
        for start in _chain(earlier if self._by_sentence else None):
            if start.audio_start_ms != audio_start_ms or start.audio_samples >= len(audio):
                continue  # another utterance's, or not a head of this audio
            try:
                head = await asyncio.shield(start.task)
            except (asyncio.CancelledError, STTError):
                if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise
                continue
            if _settled(head, self.language):
                tail_start_ms = audio_start_ms + start.audio_samples * 1000 // PIPELINE_RATE
                tail = await self.stt.transcribe(
                    audio[start.audio_samples:], language=self.language,
                    offset_ms=tail_start_ms, speech_end_ms=speech_end_ms, preceding=head.text)
                if not carries_on(tail):
                    return joined(head, tail)
                break  # the head's full stop was a pause mid-sentence: the whole, then
        return await self.stt.transcribe(audio, language=self.language,
                                         offset_ms=audio_start_ms, speech_end_ms=speech_end_ms)

    def _finalize_later(self, event: SpeechStopped) -> None:
        # The transcription of exactly this audio, or the last of its start (speech went on
        # to the length limit, or its pause was not transcribed) to build on.
        speculation = self._speculation or self._earlier
        self._speculation = self._earlier = None
        task = asyncio.create_task(self._finalize(event, speculation, time.perf_counter()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finalize(self, event: SpeechStopped, speculation: _Speculation | None,
                        endpoint_at: float) -> None:
        async with self._in_order:
            if event.speech_ms == 0 and event.reason == "silence":
                if speculation is not None:
                    abandon(speculation.task)
                log.info("utterance at %d ms was not speech (room tone)", event.start_ms)
                await self._post(UtteranceIgnored("no speech"))
                return
            hit = speculation is not None and speculation.audio_samples == len(event.audio)
            try:
                transcript = await self._transcript(event, speculation, hit)
            except _Refused as refused:
                log.info("utterance at %d ms not transcribed: %s", event.start_ms,
                         refused.failure.code)
                await self._post(refused.failure)
                return
            except STTError as error:
                await self._post(ListeningFailed(error.code, str(error)))
                return
            transcript_at = time.perf_counter()
            if not transcript.text:
                log.info("utterance at %d ms had no words", event.start_ms)
                await self._post(UtteranceIgnored("no words"))
                return
            log.info("transcript (%s, %.0f ms, speculative=%s): %s", transcript.language,
                     transcript.stt_ms, hit, preview(transcript.text))
            await self._post(TranscriptReady(VoiceTurn(
                transcript, self._arrival_of(event.end_ms), endpoint_at, transcript_at, hit,
                event.voiced, event.start_ms, event.end_ms, self.last_verdict if hit else None,
                event.audio, event.audio_start_ms)))

    async def _transcript(self, event: SpeechStopped, speculation: _Speculation | None,
                          hit: bool) -> Transcript:
        """The utterance's words: the speculation's when it holds exactly the final audio,
        else transcribed now (on the speculations of its start)."""
        if speculation is not None and hit:
            return await speculation.task
        if (refused := self._refusal(event.audio)) is not None:
            raise _Refused(refused)
        transcript = await self._transcribe(event.audio, event.audio_start_ms, event.end_ms,
                                            speculation)
        self._stt_spent_s += transcript.stt_ms / 1000
        return transcript

    async def aclose(self) -> None:
        self._drop_speculation()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
