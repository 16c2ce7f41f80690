"""One connected session: turns in, streamed replies out, everything stored.

The WebSocket handler only parses frames and hands them here. A reply (gateway/reply.py)
runs as its own task so the socket keeps being read while it streams (for barge-in and
emotion updates); a new turn, an interrupt, barge-in or a disconnect cancels it, and the
reply is stored cut to what the user actually received.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from gateway import protocol as p
from gateway.auth import Principal
from gateway.catalog import CatalogError
from gateway.counterpart import Counterpart
from gateway.outbox import Outbox
from gateway.reply import Reply, TurnInput
from gateway.reports import generate_report
from gateway.services import Services
from gateway.speech import ReplySpeaker
from gateway.storage import SessionRecord, TurnRecord
from gateway.voice import AudioRejected, VoiceInput, VoiceTurn
from scenarios.rapport import stage as rapport_stage
from scenarios.safety import assess_risk

log = logging.getLogger(__name__)


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
        self._reply: Reply | None = None
        self._reply_task: asyncio.Task[None] | None = None
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
                await self.turn_error(error.code, error.reason)
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
            await self.turn_error(rejected.code, rejected.reason)

    async def _on_voice_turn(self, voice: VoiceTurn) -> None:
        text = voice.transcript.text
        try:
            self.check_message(text)
            await self.start_turn(TurnInput(text, self.emotion, "voice", voice=voice,
                                            accepted_at=voice.transcript_at))
        except TurnRejected as rejected:
            await self.turn_error(rejected.code, rejected.reason)

    async def _on_speech_started(self) -> None:
        await self.interrupt("barge_in")

    async def turn_error(self, code: str, reason: str) -> None:
        await self.outbox.send(p.AIStreamError(data=p.ErrorData(error=reason, code=code)))

    def speaker_for(self, record: TurnRecord) -> ReplySpeaker | None:
        """The voice for a reply, when this client takes audio and a voice is available."""
        if not self.speak_replies:
            return None
        tts = self.services.speech.tts_for(self.record.language)
        if tts is None:
            return None
        return ReplySpeaker(tts, self.outbox, utterance_id=f"{self.session_id}-{record.seq}",
                            turn=record.seq, lead_ms=self.services.settings.tts_lead_ms)

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep a side task alive until the session closes."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
        self._reply = Reply(self, turn)
        self._reply_task = asyncio.create_task(self._reply.run(), name=f"reply-{self.session_id}")

    async def interrupt(self, reason: str) -> bool:
        """Cancel the reply in progress, if any; it is stored as cut short with `reason`."""
        task = self._reply_task
        if task is None or task.done() or self._reply is None:
            return False
        self._reply.cancel_reason = reason
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def aclose(self) -> None:
        if self._voice is not None:
            await self._voice.aclose()
        await self.interrupt("disconnected")
        await self._settle_background()

    # ------------------------------------------------------------ the reply
