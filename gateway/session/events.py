"""What a session's owner receives in its inbox: typed messages, never callbacks.

Connections put frames; HTTP handlers put requests; the stages a session runs (listening,
the model's reply, speaking, feedback, reports) put the events they yield. The owner is the
only one that acts on them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audio.stt import Transcript
from audio.types import Int16Array

if TYPE_CHECKING:
    from gateway.counterpart import TurnPlan
    from gateway.session.connection import Connection


# ---------------------------------------------------------------- from connections and HTTP


@dataclass(frozen=True)
class Attach:
    connection: Connection


@dataclass(frozen=True)
class Detach:
    connection: Connection


@dataclass(frozen=True)
class TextFrame:
    connection: Connection
    text: str


@dataclass(frozen=True)
class AudioFrame:
    connection: Connection
    data: bytes


@dataclass(frozen=True)
class EndRequested:
    """End and score the session (HTTP `POST /sessions/{id}/end`); answered with the report."""

    answer: asyncio.Future[dict[str, Any]]


@dataclass(frozen=True)
class LeaseLost:
    """Another process took the session over: stop serving it, write nothing more."""


@dataclass(frozen=True)
class Shutdown:
    """The process is stopping: cut what is in flight, write it, close the socket."""

    close_code: int
    reason: str


# ---------------------------------------------------------------- from listening


@dataclass(frozen=True)
class VoiceTurn:
    """A final transcript and when its speech ended, for the owner to answer."""

    transcript: Transcript
    speech_end_at: float | None  # perf_counter() when the last voiced frame arrived
    endpoint_at: float           # perf_counter() when the end of turn was confirmed
    transcript_at: float
    speculative_hit: bool
    voiced: tuple[tuple[int, int], ...] = ()  # VAD voiced stretches, stream ms
    start_ms: int = 0   # where the utterance's speech starts and ends in the stream
    end_ms: int = 0
    turn_end: str | None = None  # the semantic end of turn's verdict, if it gave one
    audio: Int16Array | None = field(default=None, repr=False)  # the utterance, for feedback
    audio_start_ms: int = 0  # stream position of audio[0]


@dataclass(frozen=True)
class TranscriptReady:
    turn: VoiceTurn


@dataclass(frozen=True)
class TranscriptSpeculated:
    """The speculative transcript of an utterance that may be over (its end of turn is not
    confirmed yet): the owner may start the reply on it, holding it back."""

    transcript: Transcript


@dataclass(frozen=True)
class UtteranceIgnored:
    """An utterance that makes no turn: no words in it, or only room tone."""

    reason: str


@dataclass(frozen=True)
class ListeningFailed:
    """An utterance that could not be transcribed (no engine, engine error, not speech)."""

    code: str
    reason: str


# ---------------------------------------------------------------- from a reply's generation


@dataclass(frozen=True)
class ReplyText:
    seq: int
    text: str


@dataclass(frozen=True)
class ReplyDone:
    """The model said it finished (finish_reason, [DONE], Gemini's final chunk)."""

    seq: int
    plan: TurnPlan | None
    rapport_delta: float | None


@dataclass(frozen=True)
class ReplyFailed:
    seq: int
    code: str
    reason: str


# ---------------------------------------------------------------- from speaking


@dataclass(frozen=True)
class SpeechAudio:
    """Reply audio to send now (pacing is the speaker's); `heard_chars`: the reply's text up
    to the end of the sentence this audio belongs to."""

    seq: int
    data: bytes
    sample_rate: int
    heard_chars: int


@dataclass(frozen=True)
class SpeechSentence:
    """Browser speech: one complete sentence for the page to speak; `heard_chars` as above."""

    seq: int
    index: int
    text: str
    heard_chars: int


@dataclass(frozen=True)
class SpeechDone:
    seq: int


@dataclass(frozen=True)
class SpeechFailed:
    seq: int
    reason: str


# ---------------------------------------------------------------- from feedback and reports


@dataclass(frozen=True)
class FeedbackReady:
    seq: int
    result: dict[str, Any] | None


@dataclass(frozen=True)
class ReportReady:
    report: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class Idle:
    """Nothing is connected and everything is written: the owner may retire."""

    generation: int


Message = (Attach | Detach | TextFrame | AudioFrame | EndRequested | LeaseLost | Shutdown
           | TranscriptReady | TranscriptSpeculated | UtteranceIgnored | ListeningFailed
           | ReplyText | ReplyDone | ReplyFailed
           | SpeechAudio | SpeechSentence | SpeechDone | SpeechFailed | FeedbackReady | ReportReady | Idle)
