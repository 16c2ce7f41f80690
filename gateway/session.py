"""One connected session: turns in, streamed replies out, everything stored.

The WebSocket handler only parses frames and hands them here. A reply runs as its own
task so the socket keeps being read while it streams (for barge-in and emotion
updates); a new turn, an interrupt or a disconnect cancels it, and the reply is
stored cut to what the user actually received.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway import protocol as p
from gateway.auth import Principal
from gateway.llm import ChatMessage, LLMError, LLMRequest, with_idle_timeout
from gateway.outbox import Outbox
from gateway.privacy import preview
from gateway.services import Services
from gateway.storage import SessionRecord, TurnRecord
from gateway.storage.store import TurnSource, TurnStatus
from scenarios.counseling import counseling_prompt

log = logging.getLogger(__name__)


@dataclass
class TurnInput:
    """A user turn as accepted: typed text, or a final voice transcript."""

    message: str
    emotion: str
    source: TurnSource
    client_timestamp: datetime | None = None
    accepted_at: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)


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
        self._reply_task: asyncio.Task[None] | None = None
        self._cancel_reason = "cancelled"

    @property
    def session_id(self) -> str:
        return self.record.id

    # ------------------------------------------------------------ frames

    async def handle_text_frame(self, text: str) -> None:
        try:
            message = p.parse_client_message(text)
        except p.ProtocolError as error:
            if error.message_type == "request_ai_response":
                await self.outbox.send(p.AIStreamError(data=p.ErrorData(error=error.reason,
                                                                        code=error.code)))
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
        elif isinstance(message, p.VadMetrics | p.AudioConfig):
            pass  # VAD metrics are the browser's own; audio arrives in a later layer

    async def handle_binary_frame(self, data: bytes) -> None:
        await self.outbox.error("audio_unsupported", "this session does not accept audio")

    # ------------------------------------------------------------ turns

    async def _on_request(self, data: p.RequestAIResponseData) -> None:
        client_ts = (datetime.fromtimestamp(data.timestamp / 1000, UTC)
                     if data.timestamp is not None else None)
        try:
            self.check_message(data.message)
            turn = TurnInput(data.message, data.emotion or self.emotion, "text", client_ts)
            await self.start_turn(turn)
        except TurnRejected as rejected:
            await self.outbox.send(p.AIStreamError(data=p.ErrorData(error=rejected.reason,
                                                                    code=rejected.code)))

    def check_message(self, message: str) -> None:
        """Refuse empty and over-long messages, and requests over the rate limit."""
        limit = self.services.settings.max_message_chars
        if not message.strip():
            raise TurnRejected("empty_message", "the message is empty")
        if len(message) > limit:
            raise TurnRejected("message_too_long",
                               f"the message is {len(message)} characters long; "
                               f"the limit is {limit}")
        wait_s = self.services.limiter.acquire(self.session_id)
        if wait_s is not None:
            per_minute = self.services.settings.max_ai_requests_per_minute
            raise TurnRejected("rate_limited",
                               f"too many requests: at most {per_minute} AI requests per minute "
                               f"in a session; try again in {wait_s:.0f} s")

    async def start_turn(self, turn: TurnInput) -> None:
        """Cut short any reply in progress, then store the turn and stream its reply."""
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

    async def wait_idle(self) -> None:
        """Wait for the reply in progress to finish (for tests and benchmarks)."""
        if self._reply_task is not None:
            await asyncio.gather(self._reply_task, return_exceptions=True)

    async def aclose(self) -> None:
        await self.interrupt("disconnected")

    # ------------------------------------------------------------ the reply

    async def compose_request(self, turn: TurnInput) -> LLMRequest:
        """The prompt and the `HISTORY_TURNS` most recent finished turns, then the new one."""
        settings = self.services.settings
        started = time.perf_counter()
        history = await self.services.store.recent_turns(self.session_id, settings.history_turns)
        turn.timings["history_ms"] = _ms_since(started)
        messages: list[ChatMessage] = []
        for past in history:
            messages.append(ChatMessage("user", past.user_message))
            if past.ai_reply:
                messages.append(ChatMessage("assistant", past.ai_reply))
        messages.append(ChatMessage("user", turn.message))
        return LLMRequest(
            system=counseling_prompt(self.record.language, turn.emotion),
            messages=messages,
            language=self.record.language,
            emotion=turn.emotion,
            scenario=self.record.scenario,
        )

    async def _store_turn(self, turn: TurnInput) -> TurnRecord:
        record = await self.services.store.add_turn(
            self.session_id, turn.message, emotion=turn.emotion, source=turn.source,
            client_timestamp=turn.client_timestamp,
        )
        log.info("session %s turn %d (%s, %s): %s", self.session_id, record.seq, turn.source,
                 turn.emotion, preview(turn.message))
        return record

    async def _reply(self, turn: TurnInput) -> None:
        # The turn is written while the history is read and the model starts: the commit
        # is off the path to the first token, and awaited before the turn can end.
        storing = asyncio.create_task(self._store_turn(turn))
        sent: list[str] = []
        failure: str | None = None
        try:
            request = await self.compose_request(turn)
            record = await storing
            await self.outbox.send(p.AIStreamBegin(data=p.TurnRef(turn=record.seq)))
            stream = self.services.llm.stream(request)
            async for delta in with_idle_timeout(stream, self.services.settings.llm_timeout_s):
                if not sent:
                    turn.timings["first_chunk_ms"] = _ms_since(turn.accepted_at)
                sent.append(delta)
                await self.outbox.send(p.AIStreamChunk(data=p.ChunkData(chunk=delta)))
        except LLMError as error:
            failure = str(error)
        except Exception:
            log.exception("session %s: the turn failed inside the gateway", self.session_id)
            storing.cancel()
            await self.outbox.send(p.AIStreamError(data=p.ErrorData(
                error="the gateway could not process this turn; please try again",
                code="internal_error")))
            return
        except asyncio.CancelledError:
            if storing.done() and not storing.cancelled() and storing.exception() is None:
                await self._finish(storing.result(), turn, "".join(sent), self._cancel_reason)
            else:
                storing.cancel()
            raise
        reply = "".join(sent)
        if failure is None:
            await self._finish(record, turn, reply, None)
            await self.outbox.send(p.AIStreamComplete(data=p.TurnRef(turn=record.seq)))
        else:
            record = await storing
            log.warning("session %s turn %d failed: %s", self.session_id, record.seq, failure)
            await self._finish(record, turn, reply, "llm_error")
            await self.outbox.send(p.AIStreamError(data=p.ErrorData(error=failure,
                                                                    code="llm_error")))

    async def _finish(self, record: TurnRecord, turn: TurnInput, reply: str,
                      cut_reason: str | None) -> None:
        """Store the reply as received; shielded so a cancelled reply is still recorded."""
        turn.timings["complete_ms"] = _ms_since(turn.accepted_at)
        status: TurnStatus = "complete" if cut_reason is None else "cut_short"
        log.info("session %s turn %d %s after %.0f ms: %s", self.session_id, record.seq,
                 status if cut_reason is None else f"cut short ({cut_reason})",
                 turn.timings["complete_ms"], preview(reply))
        await asyncio.shield(self.services.store.finish_turn(
            record.id, ai_reply=reply, status=status, end_reason=cut_reason,
            timings=turn.timings,
        ))


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
