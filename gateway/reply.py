"""One reply, from an accepted user turn to the stored answer.

The turn is written while the history is read; the counterpart's plan gives the prompt;
the model's deltas go out as text (rapport tags stripped) and to the voice; then the
reply is stored as the user received it, its feedback and latency figures follow. A
cancellation (new turn, interrupt, barge-in, disconnect, session end) stores the reply
cut to what was actually sent or heard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from gateway import protocol as p
from gateway.catalog import CatalogError
from gateway.counterpart import RapportChange, TurnPlan
from gateway.llm import ChatMessage, LLMError, LLMRequest, with_idle_timeout
from gateway.outbox import Outbox
from gateway.privacy import preview
from gateway.reports import speech_record, turn_feedback
from gateway.services import Services
from gateway.speech import ReplySpeaker
from gateway.storage import TurnRecord
from gateway.storage.store import TurnSource, TurnStatus
from gateway.voice import VoiceTurn
from scenarios.models import Scenario
from scenarios.rapport import TagStripper
from scenarios.safety import RiskAssessment, safety_reply

if TYPE_CHECKING:
    from gateway.session import Conversation

log = logging.getLogger(__name__)

FeedbackTask = asyncio.Task[p.FeedbackEvent | None]


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


class Reply:
    """The reply to one turn; `run()` is its task, `cancel_reason` says why it was cut."""

    def __init__(self, conversation: Conversation, turn: TurnInput) -> None:
        self.conversation = conversation
        self.turn = turn
        self.cancel_reason = "cancelled"
        self.parts: list[str] = []
        self.speaker: ReplySpeaker | None = None
        self.feedback: FeedbackTask | None = None
        self.delivered = False  # all text sent and all speech played out
        self.storing: asyncio.Task[TurnRecord] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def services(self) -> Services:
        return self.conversation.services

    @property
    def outbox(self) -> Outbox:
        return self.conversation.outbox

    @property
    def session_id(self) -> str:
        return self.conversation.session_id

    async def run(self) -> None:
        # The turn is written while the history is read: the commit is off the path to the
        # first token, and awaited before the reply starts.
        self.storing = asyncio.create_task(self._store_turn())
        try:
            await self._generate()
        except asyncio.CancelledError:
            await self._on_cancelled()
            raise
        except Exception:
            log.exception("session %s: the turn failed inside the gateway", self.session_id)
            self.storing.cancel()
            if self.feedback is not None:
                self.feedback.cancel()
            if self.speaker is not None:
                await self.speaker.cancel()
            await self.conversation.turn_error(
                "internal_error", "the gateway could not process this turn; please try again")

    # ------------------------------------------------------------ generation

    async def compose_request(self) -> tuple[LLMRequest, TurnPlan]:
        """The layered prompt, then the `HISTORY_TURNS` most recent finished turns, then the
        new message."""
        turn, counterpart = self.turn, self.conversation.counterpart
        started = time.perf_counter()
        history, plan = await asyncio.gather(
            self.services.store.recent_turns(self.session_id, self.services.settings.history_turns),
            counterpart.plan(turn.message, turn.emotion))
        turn.timings["history_ms"] = _ms(time.perf_counter() - started)
        messages: list[ChatMessage] = []
        if plan.scenario.kind == "rehearsal" and (not history or history[0].seq == 1):
            messages.append(ChatMessage("assistant", counterpart.opening_line(plan.scenario)))
        for past in history:
            messages.append(ChatMessage("user", past.user_message))
            if past.ai_reply:
                messages.append(ChatMessage("assistant", past.ai_reply))
        messages.append(ChatMessage("user", turn.message))
        language = self.conversation.record.language
        request = LLMRequest(system=plan.system_prompt, messages=messages, language=language,
                             emotion=turn.emotion, scenario=plan.scenario.id,
                             extras={"plan": plan, "rapport": counterpart.rapport})
        return request, plan

    async def _store_turn(self) -> TurnRecord:
        turn = self.turn
        record = await self.services.store.add_turn(
            self.session_id, turn.message, emotion=turn.emotion, source=turn.source,
            client_timestamp=turn.client_timestamp)
        log.info("session %s turn %d (%s, %s): %s", self.session_id, record.seq, turn.source,
                 turn.emotion, preview(turn.message))
        return record

    async def _generate(self) -> None:
        assert self.storing is not None
        if self.turn.risk is not None:
            await self._safety_reply(self.turn.risk)
            return
        request, plan = await self.compose_request()
        record = await self.storing
        self.speaker = self.conversation.speaker_for(record)
        await self.outbox.send(p.AIStreamBegin(data=p.TurnRef(turn=record.seq)))
        tags = TagStripper() if plan.tracks_rapport else None
        try:
            stream = self.services.llm.stream(request)
            async for delta in with_idle_timeout(stream, self.services.settings.llm_timeout_s):
                first = self.turn.first_token_at is None
                if first:
                    self.turn.first_token_at = time.perf_counter()
                    self.turn.timings["first_chunk_ms"] = _ms(
                        self.turn.first_token_at - self.turn.accepted_at)
                await self._emit(tags.push(delta) if tags else delta)
                if first:  # off the path to the first token; sent after the reply
                    self._start_feedback(plan.scenario)
            if tags is not None:
                await self._emit(tags.flush())
        except LLMError as error:
            log.warning("session %s turn %d failed: %s", self.session_id, record.seq, error)
            if self.speaker is not None:
                await self.speaker.cancel()
            await self._finish(record, "llm_error")
            await self.conversation.turn_error("llm_error", str(error))
            await self._send_feedback(self._start_feedback(plan.scenario))
            return
        change = await self.conversation.counterpart.conclude(plan, tags.delta if tags else None)
        if change is not None and change.closing_line:
            await self._emit(("\n" if self.text else "") + change.closing_line)
        await self._deliver(record, change)

    async def _safety_reply(self, risk: RiskAssessment) -> None:
        """A risk signal: the scripted safety reply at once, and a human is told."""
        assert self.storing is not None
        record = await self.storing
        log.warning("session %s turn %d: %s; safety reply sent, flagged for a human counselor",
                    self.session_id, record.seq, risk.reason)
        await self.services.store.flag_for_human(self.session_id, risk.reason)
        await self.outbox.send(p.Escalation(data=p.EscalationData(reason=risk.reason,
                                                                 priority=risk.priority)))
        self.speaker = self.conversation.speaker_for(record)
        await self.outbox.send(p.AIStreamBegin(data=p.TurnRef(turn=record.seq)))
        self.turn.first_token_at = time.perf_counter()
        await self._emit(safety_reply(self.conversation.record.language))
        await self._deliver(record, None)

    async def _emit(self, text: str) -> None:
        """Send visible reply text as a chunk, and to the voice."""
        if not text:
            return
        self.parts.append(text)
        await self.outbox.send(p.AIStreamChunk(data=p.ChunkData(chunk=text)))
        if self.speaker is not None:
            self.speaker.feed(text)

    async def _deliver(self, record: TurnRecord, change: RapportChange | None) -> None:
        """The text is complete: store it, close the stream, let the voice finish."""
        await self._finish(record, None)
        if change is not None:
            await self.outbox.send(p.RapportEvent(data=p.RapportData(
                value=change.value, stage=change.stage, change=change.change,
                on_hold=change.on_hold)))
        await self.outbox.send(p.AIStreamComplete(data=p.TurnRef(turn=record.seq)))
        # The turn's feedback follows its ai_stream_complete.
        await self._send_feedback(self._start_feedback(None))
        if self.speaker is not None:
            await self.speaker.finish()
        self.delivered = True
        await self._report_metrics(record)

    # ------------------------------------------------------------ endings

    async def _on_cancelled(self) -> None:
        """Store the reply cut to what the user got: the text sent, or the speech heard."""
        if self.delivered:
            return
        self.conversation.track(asyncio.create_task(self._send_feedback(self._start_feedback(None))))
        text = self.text
        if self.speaker is not None:
            await self.speaker.cancel()
            text = text[: self.speaker.heard_chars]
        storing = self.storing
        assert storing is not None
        if storing.done() and not storing.cancelled() and storing.exception() is None:
            record = storing.result()
            await self._finish(record, self.cancel_reason, text)
            if self.speaker is not None:
                await self._report_metrics(record)
        else:
            storing.cancel()

    async def _finish(self, record: TurnRecord, cut_reason: str | None,
                      text: str | None = None) -> None:
        """Store the reply as received; shielded so a cancelled reply is still recorded."""
        reply = self.text if text is None else text
        timings = self.turn.timings
        timings["complete_ms"] = _ms(time.perf_counter() - self.turn.accepted_at)
        status: TurnStatus = "complete" if cut_reason is None else "cut_short"
        log.info("session %s turn %d %s after %.0f ms: %s", self.session_id, record.seq,
                 status if cut_reason is None else f"cut short ({cut_reason})",
                 timings["complete_ms"], preview(reply))
        await asyncio.shield(self.services.store.finish_turn(
            record.id, ai_reply=reply, status=status, end_reason=cut_reason, timings=timings))

    # ------------------------------------------------------------ feedback and figures

    def _start_feedback(self, scenario: Scenario | None) -> FeedbackTask:
        """The turn's feedback task, started once (with the plan's scenario when known)."""
        if self.feedback is None:
            self.feedback = asyncio.create_task(self._feedback(scenario))
        return self.feedback

    async def _send_feedback(self, task: FeedbackTask) -> None:
        """Send a turn's feedback once it is ready (a cancellation of ours does not stop it)."""
        if (event := await asyncio.shield(task)) is not None:
            await self.outbox.send(event)

    async def _feedback(self, scenario: Scenario | None) -> p.FeedbackEvent | None:
        """How the user's turn came across, stored with the turn; sent after the reply."""
        turn, counterpart = self.turn, self.conversation.counterpart
        speech = (speech_record(turn.voice.transcript, turn.voice.voiced)
                  if turn.voice is not None else None)
        assert self.storing is not None
        try:
            if scenario is None:
                scenario, _ = await counterpart.catalog.scenario(counterpart.scenario_id)
            result = await turn_feedback(scenario, turn.message,
                                         self.conversation.record.language, speech)
            record = await asyncio.shield(self.storing)
        except (asyncio.CancelledError, CatalogError):
            return None
        except Exception:
            log.exception("session %s: feedback failed", self.session_id)
            return None
        await self.services.store.save_feedback(record.id, speech=speech, feedback=result)
        return p.FeedbackEvent(data=p.FeedbackData(turn=record.seq, **result))

    async def _report_metrics(self, record: TurnRecord) -> None:
        """Per-stage latency: sent as `turn_metrics` for voice turns, stored, exported."""
        turn = self.turn
        figures: dict[str, float | None] = {
            "request_to_first_chunk_ms": turn.timings.get("first_chunk_ms")}
        voice = turn.voice
        if voice is not None:
            first_audio = self.speaker.first_audio_at if self.speaker else None
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
