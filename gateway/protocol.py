"""The session WebSocket protocol as pydantic models: the code validates with these, and
the JSON Schema in docs/protocol.md is generated from them (`python -m gateway.protocol`).

Every text frame is `{"type": "...", "data": {...}}`. Names from the frontend contract
(../shared/contracts/session-websocket.md) are kept exactly; everything else is additive.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from scenarios.emotions import Emotion


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients may send more than we read


class _Event(BaseModel):
    type: str

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


# ---------------------------------------------------------------- client -> gateway


MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last datetime Python has


class RequestAIResponseData(_Data):
    message: str = Field(description="The user's words. Not empty; at most MAX_MESSAGE_CHARS.")
    emotion: Emotion | None = Field(None, description="null means the session's current emotion")
    timestamp: int | None = Field(None, ge=0, le=MAX_TIMESTAMP_MS,
                                  description="Milliseconds since the epoch")


class RequestAIResponse(_Event):
    """Ask for a reply to a typed (or browser-transcribed) message."""

    type: Literal["request_ai_response"]
    data: RequestAIResponseData


class EmotionUpdateData(_Data):
    emotion: Emotion
    confidence: float | None = Field(None, ge=0.0, le=1.0)


class EmotionUpdate(_Event):
    """Set the session's current emotion (used by requests that carry none)."""

    type: Literal["emotion_update"]
    data: EmotionUpdateData


class VadMetrics(_Event):
    """The browser's own voice-activity figures; accepted and ignored."""

    type: Literal["vad_metrics"]
    data: dict[str, Any] = Field(default_factory=dict)


class AudioConfigData(_Data):
    sample_rate: Literal[8000, 16000, 24000, 32000, 44100, 48000] = 16000
    speak_replies: bool = Field(True, description="Send replies as speech too (tts_* events)")
    browser_voices: list[Literal["ko", "en"]] = Field(
        default_factory=list, max_length=8,
        description="Languages the page can speak itself (Web Speech API voices it has). Where "
                    "the gateway has no natural voice for the session's language it then sends "
                    "the reply's sentences as `tts_sentence` events for the page to speak")
    speak_opening: bool = Field(
        False, description="Speak the counterpart's opening line now, before the first turn "
                           "(once per session; turn 0, utterance_id `opening`)")
    record_audio: bool = Field(
        False, description="The user consents to keeping their voice for each answer from now "
                           "on, so the report can play it back with its fillers and pauses "
                           "marked. Off by default; never in counseling. Answered by "
                           "`recording`")


class AudioConfig(_Event):
    """Declare the sample rate of the binary PCM frames that follow (default 16000)."""

    type: Literal["audio_config"]
    data: AudioConfigData = Field(default_factory=AudioConfigData)


class Interrupt(_Event):
    """Stop the reply being generated or spoken (barge-in by button)."""

    type: Literal["interrupt"]
    data: dict[str, Any] = Field(default_factory=dict)


class TTSSpokenData(_Data):
    turn: int = Field(ge=0, le=1_000_000)
    sentence: int = Field(ge=0, le=10_000, description="The `tts_sentence` index")
    state: Literal["started", "ended"]


class TTSSpoken(_Event):
    """Browser speech: the page started or finished speaking one `tts_sentence`. A reply cut
    by barge-in or `interrupt` is stored up to the end of the last sentence started; a reply
    is complete once its last sentence has ended."""

    type: Literal["tts_spoken"]
    data: TTSSpokenData


class SpeechEndTruthData(_Data):
    stream_ms: int = Field(ge=0, le=86_400_000,
                           description="Where the user's words really end, in the session's "
                                       "audio stream (ms)")


class SpeechEndTruth(_Event):
    """For benchmarks and tests: where speech really ends (e.g. annotated in a clip). The
    turn holding it reports `speech_end_late_ms` in `turn_metrics`."""

    type: Literal["speech_end_truth"]
    data: SpeechEndTruthData


class SessionStartData(_Data):
    scenario: str = Field("counseling", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                          description="A scenario id from GET /scenarios")
    language: Literal["ko", "en", "auto"] = "ko"


class SessionStart(_Event):
    """Choose the scenario and language before the first turn (default: counseling, ko)."""

    type: Literal["session_start"]
    data: SessionStartData = Field(default_factory=lambda: SessionStartData())


class SessionEnd(_Event):
    """End the session: it is closed and scored (answered by `session_report`)."""

    type: Literal["session_end"]
    data: dict[str, Any] = Field(default_factory=dict)


ClientMessage = Annotated[
    RequestAIResponse | EmotionUpdate | VadMetrics | AudioConfig | Interrupt | SessionStart
    | SessionEnd | TTSSpoken | SpeechEndTruth,
    Field(discriminator="type"),
]
CLIENT_MESSAGES: dict[str, type[_Event]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (RequestAIResponse, EmotionUpdate, VadMetrics, AudioConfig, Interrupt, SessionStart,
                SessionEnd, TTSSpoken, SpeechEndTruth)
}

# ---------------------------------------------------------------- gateway -> client


class Empty(_Data):
    pass


class TurnRef(_Data):
    turn: int | None = Field(None, description="The turn's sequence number in the session")


class AIStreamBegin(_Event):
    type: Literal["ai_stream_begin"] = "ai_stream_begin"
    data: TurnRef = Field(default_factory=lambda: TurnRef())


class ChunkData(_Data):
    chunk: str


class AIStreamChunk(_Event):
    type: Literal["ai_stream_chunk"] = "ai_stream_chunk"
    data: ChunkData


class AIStreamComplete(_Event):
    type: Literal["ai_stream_complete"] = "ai_stream_complete"
    data: TurnRef = Field(default_factory=lambda: TurnRef())


class ErrorData(_Data):
    error: str = Field(description="A human-readable reason")
    code: str | None = Field(None, description="A stable machine-readable code")


class AIStreamError(_Event):
    """The turn failed (validation, rate limit, LLM error or timeout); the socket stays open."""

    type: Literal["ai_stream_error"] = "ai_stream_error"
    data: ErrorData


class ErrorEvent(_Event):
    """A frame could not be used (bad JSON, unknown type, bad audio...); the socket stays open."""

    type: Literal["error"] = "error"
    data: ErrorData


class StreamTime(_Data):
    stream_ms: int = Field(description="Position in the session's audio stream (16 kHz clock)")


class SpeechStartedEvent(_Event):
    """The user started speaking (this also interrupts a reply in progress: barge-in)."""

    type: Literal["speech_started"] = "speech_started"
    data: StreamTime


class SpeechStoppedData(StreamTime):
    start_ms: int
    end_ms: int = Field(description="End of the last voiced frame")
    reason: Literal["silence", "max_length"]


class SpeechStoppedEvent(_Event):
    """End of turn: VAD_SILENCE_MS of silence, or the 30 s forced cut."""

    type: Literal["speech_stopped"] = "speech_stopped"
    data: SpeechStoppedData


class WordData(_Data):
    word: str
    start_ms: int
    end_ms: int
    probability: float


class TranscriptData(_Data):
    text: str
    start_ms: int
    end_ms: int
    words: list[WordData]
    language: str | None
    stt_ms: float = Field(description="Time the recogniser spent on this utterance")
    speculative: bool = Field(False, description="Started before the end of turn was confirmed")


class TranscriptEvent(_Event):
    """The final transcript of a voice turn; the reply follows as ai_stream_* events."""

    type: Literal["transcript"] = "transcript"
    data: TranscriptData


class TTSBeginData(_Data):
    utterance_id: str
    turn: int | None = None
    sample_rate: int
    encoding: Literal["pcm_s16le"] = "pcm_s16le"


class TTSBegin(_Event):
    """Binary frames that follow are the reply's speech, 16-bit LE mono at `sample_rate`."""

    type: Literal["tts_begin"] = "tts_begin"
    data: TTSBeginData


class TTSEndData(_Data):
    utterance_id: str
    interrupted: bool = False
    audio_ms: int = Field(0, description="Duration of the audio sent")
    mode: Literal["server", "browser"] = Field(
        "server", description="`browser`: the page spoke `tts_sentence` events; stop it")


class TTSPauseData(_Data):
    utterance_id: str
    turn: int | None = None


class TTSPause(_Event):
    """The user started speaking over the reply: stop playing it now (drop what is queued;
    in browser speech, pause). It either resumes (`tts_resume`: a backchannel, a cough) or
    ends (`tts_end` with `interrupted: true`: a real interruption)."""

    type: Literal["tts_pause"] = "tts_pause"
    data: TTSPauseData


class TTSResumeData(_Data):
    utterance_id: str
    turn: int | None = None
    false_interruption: bool = Field(
        True, description="What the user said was a backchannel (\"네\", \"mm-hm\"), a cough "
                          "or noise: the reply goes on from the start of the sentence it "
                          "stopped in (server audio) or where it paused (browser speech)")


class TTSResume(_Event):
    type: Literal["tts_resume"] = "tts_resume"
    data: TTSResumeData


class RecordingData(_Data):
    enabled: bool = Field(description="Whether the user's answers are being recorded now")
    reason: str = ""


class Recording(_Event):
    """Answer to `audio_config` when it asks to record (or stops a recording): whether each
    answer's audio is kept from now on (deleted with the session)."""

    type: Literal["recording"] = "recording"
    data: RecordingData


class VoiceSelectedData(_Data):
    mode: Literal["server", "browser", "none"] = Field(
        description="`server`: binary audio (tts_begin/tts_end); `browser`: `tts_sentence` "
                    "events the page speaks; `none`: no voice for this language")
    language: str
    engine: str | None = Field(None, description="The server voice, e.g. `piper:...`")
    natural: bool = Field(False, description="False for a last-resort voice (espeak-ng)")
    reason: str = ""


class VoiceSelected(_Event):
    """Which voice speaks this session's replies, answered to `audio_config`."""

    type: Literal["voice_selected"] = "voice_selected"
    data: VoiceSelectedData


class TTSSentenceData(_Data):
    utterance_id: str
    turn: int
    sentence: int = Field(description="0, 1, 2... in speaking order")
    text: str
    language: str


class TTSSentence(_Event):
    """Browser speech: one complete sentence of the reply (turn 0: the opening line), sent as
    soon as it is written, for the page to speak; the page answers `tts_spoken`."""

    type: Literal["tts_sentence"] = "tts_sentence"
    data: TTSSentenceData


class TTSEnd(_Event):
    type: Literal["tts_end"] = "tts_end"
    data: TTSEndData


class TurnMetricsData(_Data):
    turn: int
    speech_end_to_transcript_ms: float | None = None
    endpoint_to_transcript_ms: float | None = None
    transcript_to_first_token_ms: float | None = None
    first_token_to_first_audio_ms: float | None = None
    voice_to_voice_ms: float | None = Field(
        None, description="User's last voiced frame received -> first reply audio byte sent")
    stt_ms: float | None = None
    speculative_hit: bool | None = None
    speech_end_late_ms: float | None = Field(
        None, description="Detected end of speech minus where it really ended, when the client "
                          "said so (`speech_end_truth`); positive: late")
    turn_end: Literal["complete", "incomplete", "unknown"] | None = Field(
        None, description="How finished the utterance sounded (the semantic end of turn)")
    preemptive: bool | None = Field(
        None, description="The reply was started on the speculative transcript, before the end "
                          "of turn was confirmed")
    preemptive_discarded: int | None = Field(
        None, description="Preemptive replies thrown away before this one (the user went on, "
                          "or the final transcript differed)")


class TurnMetrics(_Event):
    type: Literal["turn_metrics"] = "turn_metrics"
    data: TurnMetricsData


class RapportData(_Data):
    value: float = Field(ge=0, le=1)
    stage: int = Field(ge=1, le=5)
    change: float = 0.0
    on_hold: bool = False


class SessionStartedData(_Data):
    session_id: str
    scenario: str
    language: str
    opening_line: str = Field(description="The counterpart's first words")
    rapport: RapportData | None = None


class SessionStarted(_Event):
    type: Literal["session_started"] = "session_started"
    data: SessionStartedData


class RapportEvent(_Event):
    """The counterpart's rapport after a turn; at 0 the session is put on hold."""

    type: Literal["rapport"] = "rapport"
    data: RapportData


class EscalationData(_Data):
    reason: str
    priority: Literal["urgent", "high"]


class Escalation(_Event):
    """A risk signal: the safety reply was sent and the session flagged for a human counselor."""

    type: Literal["escalation"] = "escalation"
    data: EscalationData


class FeedbackData(_Data):
    turn: int
    scores: dict[str, int | None] = Field(description="fillers, pace, pauses, clarity, "
                                                      "politeness: 0-100, or null without data")
    overall: int | None
    tips: dict[str, str]
    highlights: dict[str, Any] = Field(description="Filler positions (word index and time), "
                                                   "long pauses, low-confidence words...")
    metrics: dict[str, Any] = Field(description="Every metric with its evidence")


class FeedbackEvent(_Event):
    """How the user's last turn came across (sent after each user turn)."""

    type: Literal["feedback"] = "feedback"
    data: FeedbackData


class SessionReportEvent(_Event):
    """The session report, after `session_end` (also at GET /sessions/{id}/report)."""

    type: Literal["session_report"] = "session_report"
    data: dict[str, Any]


ServerMessage = Annotated[
    AIStreamBegin | AIStreamChunk | AIStreamComplete | AIStreamError | ErrorEvent
    | SpeechStartedEvent | SpeechStoppedEvent | TranscriptEvent | TTSBegin | TTSEnd | TurnMetrics
    | SessionStarted | RapportEvent | Escalation | FeedbackEvent | SessionReportEvent
    | VoiceSelected | TTSSentence | TTSPause | TTSResume | Recording,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- parsing


class ProtocolError(Exception):
    """A client frame that cannot be used, with its error code and readable reason."""

    def __init__(self, code: str, reason: str, *, message_type: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.message_type = message_type


MAX_FRAME_CHARS = 64 * 1024   # a text frame; MAX_MESSAGE_CHARS of Korean is ~6 KB
MAX_DEPTH = 16
MAX_INT_DIGITS = 20


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ProtocolError("invalid_json", f"a number in the frame has more than "
                                            f"{MAX_INT_DIGITS} digits")
    return int(digits)


def _no_constant(name: str) -> None:
    raise ProtocolError("invalid_json", f"{name} is not a JSON number")


def _check_values(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH, and text PostgreSQL cannot store (NUL, lone
    surrogates), naming where it is."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProtocolError("invalid_json", f"the frame nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, where or "key")
                stack.append((child, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise ProtocolError("invalid_text", f"field {where or 'data'!r} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("invalid_text", f"field {where or 'data'!r} contains a lone "
                                            "surrogate (not valid Unicode text)") from None


def parse_client_message(text: str) -> _Event:
    """Parse and validate one text frame; raise `ProtocolError` with a readable reason.

    The JSON is parsed with limits (size, nesting, digits of a number) and every string is
    checked for what PostgreSQL cannot store, before anything reaches the session."""
    if len(text) > MAX_FRAME_CHARS:
        raise ProtocolError("frame_too_large", f"a text frame is {len(text)} characters; the "
                                               f"limit is {MAX_FRAME_CHARS}")
    try:
        envelope = json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except ProtocolError:
        raise
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "the frame is not valid JSON") from None
    _check_values(envelope)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
        raise ProtocolError("invalid_message", 'a frame must be {"type": "...", "data": {...}}')
    message_type = envelope["type"]
    model = CLIENT_MESSAGES.get(message_type)
    if model is None:
        known = ", ".join(sorted(CLIENT_MESSAGES))
        raise ProtocolError("unknown_type", f"unknown message type {message_type!r}; "
                                            f"expected one of {known}")
    if envelope.get("data") is None:
        envelope = {**envelope, "data": {}}
    try:
        return model.model_validate(envelope)
    except (ValidationError, ValueError) as error:
        if not isinstance(error, ValidationError):
            raise ProtocolError("invalid_message", str(error)[:200],
                                message_type=message_type) from None
        raise ProtocolError("invalid_message", describe(error),
                            message_type=message_type) from None


def describe(error: ValidationError) -> str:
    """One readable sentence for the first problem, naming the field and the bad value."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"] if p != "data"]
    field = ".".join(loc) or "data"
    value = first.get("input")
    if field == "emotion" and first["type"] == "literal_error":
        from scenarios.emotions import EMOTIONS

        return f"unknown emotion {value!r}; expected one of {', '.join(EMOTIONS)} or null"
    if first["type"] == "missing":
        return f"field {field!r} is required"
    return f"field {field!r}: {first['msg']} (got {str(value)[:50]!r})"


# ---------------------------------------------------------------- schema / docs

_BEGIN = "<!-- BEGIN GENERATED SCHEMA (python -m gateway.protocol --write docs/protocol.md) -->"
_END = "<!-- END GENERATED SCHEMA -->"


def json_schemas() -> dict[str, Any]:
    """The JSON Schema of every client and server message."""
    return {
        "client_to_gateway": TypeAdapter(ClientMessage).json_schema(),
        "gateway_to_client": TypeAdapter(ServerMessage).json_schema(),
    }


def render_schema_block() -> str:
    body = json.dumps(json_schemas(), indent=2, ensure_ascii=False, sort_keys=True)
    return f"{_BEGIN}\n```json\n{body}\n```\n{_END}"


def write_docs(path: Path) -> None:
    """Replace the generated block of `path` with the schema of the current models."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(_BEGIN)
    _, _, tail = rest.partition(_END)
    path.write_text(head + render_schema_block() + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="update the schema block of this Markdown file")
    args = parser.parse_args(argv)
    if args.write:
        write_docs(args.write)
    else:
        sys.stdout.write(render_schema_block() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
