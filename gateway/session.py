"""One connected session: turns in, streamed replies out, everything stored.

The WebSocket handler only parses frames and hands them here. A reply runs as its own
task so the socket keeps being read while it streams (for barge-in and emotion
updates); a new turn, an interrupt, barge-in or a disconnect cancels it, and the reply
is stored cut to what the user actually received.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway import protocol as p
from gateway.auth import Principal
from gateway.catalog import CatalogError
from gateway.counterpart import Counterpart, RapportChange, TurnPlan
from gateway.llm import ChatMessage, LLMError, LLMRequest, with_idle_timeout
from gateway.outbox import Outbox
from gateway.privacy import preview
from gateway.reports import generate_report, speech_record, turn_feedback
from gateway.services import Services
from gateway.speech import ReplySpeaker
from gateway.storage import SessionRecord, TurnRecord
from gateway.storage.store import TurnSource, TurnStatus
from gateway.voice import AudioRejected, VoiceInput, VoiceTurn
from scenarios.models import Scenario
from scenarios.rapport import TagStripper
from scenarios.rapport import stage as rapport_stage
from scenarios.safety import RiskAssessment, assess_risk, safety_reply

log = logging.getLogger(__name__)


@dataclass
class TurnInput:
    """A user turn as accepted: typed text, or a final voice transcript."""

    message: str
    emotion: str
    source: TurnSource
    client_timestamp: datetime | None = None
    voice: VoiceTurn | None = None
    risk: RiskAssessment | None = None
    accepted_at: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Reply:
    """A reply in progress: its stored turn, the text sent so far, its voice."""

    storing: asyncio.Task[TurnRecord]
    parts: list[str] = field(default_factory=list)
    speaker: ReplySpeaker | None = None
    feedback: asyncio.Task[p.FeedbackEvent | None] | None = None
    delivered: bool = False  # all text sent and all speech played out

    @property
    def text(self) -> str:
        return "".join(self.parts)


class TurnRejected(Exception):
    """A turn that cannot be accepted, with the code and reason the client is told."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Conversation:
    """The state and behaviour of one session on one socket."""

    def __init__(
        self, record: SessionRecord, principal: Principal, services: Services, outbox: Outbox
    ) -> None:
        self.record = record
        self.principal = principal
        self.services = services
        self.outbox = outbox
        self.emotion = record.emotion
        self.counterpart = Counterpart(record, services.store)
        self.speak_replies = False  # only clients that send audio get audio back
        self._voice: VoiceInput | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._cancel_reason = "cancelled"
        self._background: set[asyncio.Task[None]] = set()

    @property
    def session_id(self) -> str:
        return self.record.id

    # ------------------------------------------------------------ frames

    async def handle_text_frame(self, text: str) -> None:
        try:
            message = p.parse_client_message(text)
        except p.ProtocolError as error:
            if error.message_type == "request_ai_response":
                await self._turn_error(error.code, error.reason)
            else:
                await self.outbox.error(error.code, error.reason)
            return
        await self.handle_message(message)

    async def handle_message(self, message: p._Event) -> None:
        if isinstance(message, p.RequestAIResponse):
            await self._on_request(message.data)
        elif isinstance(message, p.EmotionUpdate):
            self.emotion = message.data.emotion
            await self.services.store.set_session_emotion(self.session_id, self.emotion)
        elif isinstance(message, p.Interrupt):
            await self.interrupt("interrupted")
        elif isinstance(message, p.SessionStart):
            await self._on_session_start(message.data)
        elif isinstance(message, p.SessionEnd):
            await self.end()
        elif isinstance(message, p.AudioConfig):
            try:
                self._voice_input().configure(message.data.sample_rate)
            except AudioRejected as rejected:
                await self.outbox.error(rejected.code, rejected.reason)
                return
            self.speak_replies = message.data.speak_replies
        # vad_metrics: the browser's own figures; accepted and ignored.

    async def _on_session_start(self, data: p.SessionStartData) -> None:
        try:
            scenario, _ = await self.counterpart.catalog.scenario(data.scenario)
        except CatalogError as error:
            await self.outbox.error("unknown_scenario", f"{error}; see GET /scenarios")
            return
        if not await self.services.store.start_session(self.session_id, data.scenario,
                                                       data.language):
            await self.outbox.error("session_already_started",
                                    "the scenario and language are chosen before the first turn")
            return
        record = await self.services.store.get_session(self.session_id)
        assert record is not None
        self.record = record
        self.counterpart = Counterpart(record, self.services.store)
        if self._voice is not None:
            self._voice.language = record.language
        rapport = (p.RapportData(value=record.rapport, stage=rapport_stage(record.rapport))
                   if scenario.rapport else None)
        await self.outbox.send(p.SessionStarted(data=p.SessionStartedData(
            session_id=self.session_id, scenario=scenario.id, language=record.language,
            opening_line=self.counterpart.opening_line(scenario), rapport=rapport)))

    async def end(self) -> None:
        """Close and score the session; the report goes to the client and is stored."""
        await self.interrupt("session_end")
        await self._settle_background()
        record = await self.services.store.get_session(self.session_id)
        assert record is not None
        report = await generate_report(self.services, record)
        self.counterpart.status = "ended"
        await self.outbox.send(p.SessionReportEvent(data=report))

    async def _settle_background(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def handle_binary_frame(self, data: bytes) -> None:
        try:
            first_audio = self._voice is None
            voice = self._voice_input()
            if first_audio:
                self.speak_replies = True
            await voice.push(data)
        except AudioRejected as rejected:
            await self.outbox.error(rejected.code, rejected.reason)

    def _voice_input(self) -> VoiceInput:
        if self._voice is None:
            self._voice = VoiceInput(
                self.services.settings, self.services.speech, self.outbox, self.record.language,
                on_turn=self._on_voice_turn, on_speech_started=self._on_speech_started)
        return self._voice

    # ------------------------------------------------------------ turns

    async def _on_request(self, data: p.RequestAIResponseData) -> None:
        client_ts = (datetime.fromtimestamp(data.timestamp / 1000, UTC)
                     if data.timestamp is not None else None)
        try:
            self.check_message(data.message)
            await self.start_turn(TurnInput(data.message, data.emotion or self.emotion, "text",
                                            client_ts))
        except TurnRejected as rejected:
            await self._turn_error(rejected.code, rejected.reason)

    async def _on_voice_turn(self, voice: VoiceTurn) -> None:
        text = voice.transcript.text
        try:
            self.check_message(text)
            await self.start_turn(TurnInput(text, self.emotion, "voice", voice=voice,
                                            accepted_at=voice.transcript_at))
        except TurnRejected as rejected:
            await self._turn_error(rejected.code, rejected.reason)

    async def _on_speech_started(self) -> None:
        await self.interrupt("barge_in")

    async def _turn_error(self, code: str, reason: str) -> None:
        await self.outbox.send(p.AIStreamError(data=p.ErrorData(error=reason, code=code)))

    def check_message(self, message: str) -> None:
        """Refuse empty and over-long messages, turns in a session on hold (unless they signal
        risk: a safety reply is never refused), and requests over the rate limit."""
        limit = self.services.settings.max_message_chars
        if not message.strip():
            raise TurnRejected("empty_message", "the message is empty")
        if len(message) > limit:
            raise TurnRejected("message_too_long",
                               f"the message is {len(message)} characters long; "
                               f"the limit is {limit}")
        if self.counterpart.status == "ended":
            raise TurnRejected("session_ended", "this session has ended; start a new one")
        if self.counterpart.on_hold and assess_risk(message) is None:
            raise TurnRejected("session_on_hold",
                               "the counterpart ended this conversation when rapport reached 0; "
                               "start a new session to practise again")
        wait_s = self.services.limiter.acquire(self.session_id)
        if wait_s is not None:
            per_minute = self.services.settings.max_ai_requests_per_minute
            raise TurnRejected("rate_limited",
                               f"too many requests: at most {per_minute} AI requests per minute "
                               f"in a session; try again in {wait_s:.0f} s")

    async def start_turn(self, turn: TurnInput) -> None:
        """Cut short any reply in progress, then store the turn and stream its reply."""
        turn.risk = assess_risk(turn.message)
        await self.interrupt("superseded")
        self._cancel_reason = "cancelled"
        self._reply_task = asyncio.create_task(self._reply(turn),
                                               name=f"reply-{self.session_id}")

    async def interrupt(self, reason: str) -> bool:
        """Cancel the reply in progress, if any; it is stored as cut short with `reason`."""
        task = self._reply_task
        if task is None or task.done():
            return False
        self._cancel_reason = reason
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def aclose(self) -> None:
        if self._voice is not None:
            await self._voice.aclose()
        await self.interrupt("disconnected")
        await self._settle_background()

    # ------------------------------------------------------------ the reply

    async def compose_request(self, turn: TurnInput) -> tuple[LLMRequest, TurnPlan]:
        """The layered prompt, then the `HISTORY_TURNS` most recent finished turns, then the
        new message."""
        settings = self.services.settings
        started = time.perf_counter()
        history, plan = await asyncio.gather(
            self.services.store.recent_turns(self.session_id, settings.history_turns),
            self.counterpart.plan(turn.message, turn.emotion))
        turn.timings["history_ms"] = _ms(time.perf_counter() - started)
        messages: list[ChatMessage] = []
        if plan.scenario.kind == "rehearsal" and (not history or history[0].seq == 1):
            messages.append(ChatMessage("assistant", self.counterpart.opening_line(plan.scenario)))
        for past in history:
            messages.append(ChatMessage("user", past.user_message))
            if past.ai_reply:
                messages.append(ChatMessage("assistant", past.ai_reply))
        messages.append(ChatMessage("user", turn.message))
        request = LLMRequest(
            system=plan.system_prompt, messages=messages, language=self.record.language,
            emotion=turn.emotion, scenario=plan.scenario.id,
            extras={"plan": plan, "rapport": self.counterpart.rapport},
        )
        return request, plan

    async def _store_turn(self, turn: TurnInput) -> TurnRecord:
        record = await self.services.store.add_turn(
            self.session_id, turn.message, emotion=turn.emotion, source=turn.source,
            client_timestamp=turn.client_timestamp,
        )
        log.info("session %s turn %d (%s, %s): %s", self.session_id, record.seq, turn.source,
                 turn.emotion, preview(turn.message))
        return record

    def _speaker_for(self, record: TurnRecord) -> ReplySpeaker | None:
        if not self.speak_replies:
            return None
        tts = self.services.speech.tts_for(self.record.language)
        if tts is None:
            return None
        return ReplySpeaker(tts, self.outbox, utterance_id=f"{self.session_id}-{record.seq}",
                            turn=record.seq, lead_ms=self.services.settings.tts_lead_ms)

    async def _reply(self, turn: TurnInput) -> None:
        # The turn is written while the history is read: the commit is off the path to the
        # first token, and awaited before the reply starts.
        reply = _Reply(asyncio.create_task(self._store_turn(turn)))
        try:
            await self._generate(turn, reply)
        except asyncio.CancelledError:
            await self._on_cancelled(turn, reply)
            raise
        except Exception:
            log.exception("session %s: the turn failed inside the gateway", self.session_id)
            reply.storing.cancel()
            if reply.feedback is not None:
                reply.feedback.cancel()
            if reply.speaker is not None:
                await reply.speaker.cancel()
            await self._turn_error("internal_error",
                                   "the gateway could not process this turn; please try again")

    async def _generate(self, turn: TurnInput, reply: _Reply) -> None:
        if turn.risk is not None:
            await self._safety_reply(turn, reply, turn.risk)
            return
        request, plan = await self.compose_request(turn)
        record = await reply.storing
        reply.speaker = self._speaker_for(record)
        await self.outbox.send(p.AIStreamBegin(data=p.TurnRef(turn=record.seq)))
        tags = TagStripper() if plan.tracks_rapport else None
        try:
            stream = self.services.llm.stream(request)
            async for delta in with_idle_timeout(stream, self.services.settings.llm_timeout_s):
                first = turn.first_token_at is None
                if first:
                    turn.first_token_at = time.perf_counter()
                    turn.timings["first_chunk_ms"] = _ms(turn.first_token_at - turn.accepted_at)
                await self._emit(reply, tags.push(delta) if tags else delta)
                if first:  # off the path to the first token; sent after the reply
                    self._start_feedback(turn, reply, plan.scenario)
            if tags is not None:
                await self._emit(reply, tags.flush())
        except LLMError as error:
            log.warning("session %s turn %d failed: %s", self.session_id, record.seq, error)
            if reply.speaker is not None:
                await reply.speaker.cancel()
            await self._finish(record, turn, reply.text, "llm_error")
            await self._turn_error("llm_error", str(error))
            await self._send_feedback(self._start_feedback(turn, reply, plan.scenario))
            return
        change = await self.counterpart.conclude(plan, tags.delta if tags else None)
        if change is not None and change.closing_line:
            await self._emit(reply, ("\n" if reply.text else "") + change.closing_line)
        await self._deliver(record, turn, reply, change)

    async def _emit(self, reply: _Reply, text: str) -> None:
        """Send visible reply text as a chunk, and to the voice."""
        if not text:
            return
        reply.parts.append(text)
        await self.outbox.send(p.AIStreamChunk(data=p.ChunkData(chunk=text)))
        if reply.speaker is not None:
            reply.speaker.feed(text)

    async def _deliver(self, record: TurnRecord, turn: TurnInput, reply: _Reply,
                       change: RapportChange | None) -> None:
        """The text is complete: store it, close the stream, let the voice finish."""
        await self._finish(record, turn, reply.text, None)
        if change is not None:
            await self.outbox.send(p.RapportEvent(data=p.RapportData(
                value=change.value, stage=change.stage, change=change.change,
                on_hold=change.on_hold)))
        await self.outbox.send(p.AIStreamComplete(data=p.TurnRef(turn=record.seq)))
        # The turn's feedback follows its ai_stream_complete.
        await self._send_feedback(self._start_feedback(turn, reply, None))
        if reply.speaker is not None:
            await reply.speaker.finish()
        reply.delivered = True
        await self._report_metrics(record, turn, reply.speaker)

    async def _safety_reply(self, turn: TurnInput, reply: _Reply, risk: RiskAssessment) -> None:
        """A risk signal: the scripted safety reply at once, and a human is told."""
        record = await reply.storing
        log.warning("session %s turn %d: %s; safety reply sent, flagged for a human counselor",
                    self.session_id, record.seq, risk.reason)
        await self.services.store.flag_for_human(self.session_id, risk.reason)
        await self.outbox.send(p.Escalation(data=p.EscalationData(reason=risk.reason,
                                                                 priority=risk.priority)))
        reply.speaker = self._speaker_for(record)
        await self.outbox.send(p.AIStreamBegin(data=p.TurnRef(turn=record.seq)))
        turn.first_token_at = time.perf_counter()
        await self._emit(reply, safety_reply(self.record.language))
        await self._deliver(record, turn, reply, None)

    async def _send_feedback(self, task: asyncio.Task[p.FeedbackEvent | None] | None) -> None:
        """Send a turn's feedback once it is ready (a cancellation of ours does not stop it)."""
        if task is not None and (event := await asyncio.shield(task)) is not None:
            await self.outbox.send(event)

    def _start_feedback(self, turn: TurnInput, reply: _Reply,
                        scenario: Scenario | None) -> asyncio.Task[p.FeedbackEvent | None]:
        """The turn's feedback task, started once (with the plan's scenario when known)."""
        if reply.feedback is None:
            reply.feedback = asyncio.create_task(self._feedback(turn, reply.storing, scenario))
        return reply.feedback

    async def _feedback(self, turn: TurnInput, storing: asyncio.Task[TurnRecord],
                        scenario: Scenario | None) -> p.FeedbackEvent | None:
        """How the user's turn came across, stored with the turn; sent after the reply."""
        speech = None
        if turn.voice is not None:
            transcript = turn.voice.transcript
            speech = speech_record(
                [{"word": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
                  "probability": w.probability} for w in transcript.words],
                list(turn.voice.voiced), transcript.language)
        try:
            if scenario is None:
                scenario, _ = await self.counterpart.catalog.scenario(self.counterpart.scenario_id)
            result = await turn_feedback(scenario, turn.message, self.record.language, speech)
            record = await asyncio.shield(storing)
        except (asyncio.CancelledError, CatalogError):
            return None
        except Exception:
            log.exception("session %s: feedback failed", self.session_id)
            return None
        await self.services.store.save_feedback(record.id, speech=speech, feedback=result)
        return p.FeedbackEvent(data=p.FeedbackData(turn=record.seq, **result))

    async def _on_cancelled(self, turn: TurnInput, reply: _Reply) -> None:
        """Store the reply cut to what the user got: the text sent, or the speech heard."""
        if not reply.delivered:
            later = asyncio.create_task(
                self._send_feedback(self._start_feedback(turn, reply, None)))
            self._background.add(later)
            later.add_done_callback(self._background.discard)
        if reply.delivered:
            return
        text = reply.text
        if reply.speaker is not None:
            await reply.speaker.cancel()
            text = text[: reply.speaker.heard_chars]
        storing = reply.storing
        if storing.done() and not storing.cancelled() and storing.exception() is None:
            record = storing.result()
            await self._finish(record, turn, text, self._cancel_reason)
            if reply.speaker is not None:
                await self._report_metrics(record, turn, reply.speaker)
        else:
            storing.cancel()

    async def _finish(self, record: TurnRecord, turn: TurnInput, reply: str,
                      cut_reason: str | None) -> None:
        """Store the reply as received; shielded so a cancelled reply is still recorded."""
        turn.timings["complete_ms"] = _ms(time.perf_counter() - turn.accepted_at)
        status: TurnStatus = "complete" if cut_reason is None else "cut_short"
        log.info("session %s turn %d %s after %.0f ms: %s", self.session_id, record.seq,
                 status if cut_reason is None else f"cut short ({cut_reason})",
                 turn.timings["complete_ms"], preview(reply))
        await asyncio.shield(self.services.store.finish_turn(
            record.id, ai_reply=reply, status=status, end_reason=cut_reason,
            timings=turn.timings,
        ))

    async def _report_metrics(self, record: TurnRecord, turn: TurnInput,
                              speaker: ReplySpeaker | None) -> None:
        """Per-stage latency: sent as `turn_metrics` for voice turns, stored, exported."""
        figures: dict[str, float | None] = {
            "request_to_first_chunk_ms": turn.timings.get("first_chunk_ms")}
        voice = turn.voice
        if voice is not None:
            first_audio = speaker.first_audio_at if speaker else None
            figures = {
                "speech_end_to_transcript_ms": _ms_between(voice.speech_end_at,
                                                           voice.transcript_at),
                "endpoint_to_transcript_ms": _ms_between(voice.endpoint_at, voice.transcript_at),
                "transcript_to_first_token_ms": _ms_between(voice.transcript_at,
                                                            turn.first_token_at),
                "first_token_to_first_audio_ms": _ms_between(turn.first_token_at, first_audio),
                "voice_to_voice_ms": _ms_between(voice.speech_end_at, first_audio),
                "stt_ms": voice.transcript.stt_ms,
            }
            await self.outbox.send(p.TurnMetrics(data=p.TurnMetricsData(
                turn=record.seq, speculative_hit=voice.speculative_hit, **figures)))
        self.services.metrics.observe_ms(figures)
        stored = {k: v for k, v in figures.items() if v is not None}
        await asyncio.shield(self.services.store.merge_turn_timings(record.id, stored))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _ms_between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else _ms(end - start)
