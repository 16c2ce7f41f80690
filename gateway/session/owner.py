"""The owner of one live session: one task with an inbox, the only one that acts.

Connections put frames into its inbox, HTTP handlers put requests, and the stages it runs
(listening, the model's reply, speaking, feedback, the report) put the events they yield.
The owner alone changes the session's state, sends on its socket and writes its record,
through a journal that applies writes in order and holds them through a database outage,
fenced by the owner's lease. So what is stored is what happened: a reply is complete only
when the provider finished it and it was all sent (and, when spoken, all played out); a
cut reply stores what the user received; each turn gets one `feedback`; an ended session
refuses every turn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from audio.vad import SpeechStarted, SpeechStopped, VADEvent
from gateway import protocol as p
from gateway.counterpart import Counterpart, RapportChange
from gateway.privacy import preview
from gateway.scoring import generate_report, speech_record, turn_feedback
from gateway.services import Services
from gateway.session import events as ev
from gateway.session.connection import Connection
from gateway.session.journal import Journal
from gateway.session.listening import AudioRejected, Listening
from gateway.session.replying import Replying
from gateway.session.speaking import Speaking
from gateway.session.turn import Turn
from gateway.storage import SessionRecord, TurnRecord
from gateway.storage.store import OwnerWrites, TurnSource, TurnStatus
from scenarios.models import Persona, Scenario
from scenarios.rapport import stage as rapport_stage
from scenarios.safety import assess_risk, safety_reply

if TYPE_CHECKING:
    from gateway.session.hub import SessionHub

log = logging.getLogger(__name__)

INBOX_SIZE = 256
PROGRESS_EVERY_S = 0.25  # how often a reply in flight is recorded (for the next owner)
CLOSE_REPLACED = 4409
CLOSE_MOVED = 4423


class TurnRejected(Exception):
    """A turn that cannot be accepted, with the code and reason the client is told."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SessionOwner:
    """One live session in this process."""

    def __init__(self, record: SessionRecord, history: list[TurnRecord],
                 scenario: tuple[Scenario, Persona], services: Services, hub: SessionHub,
                 token: str) -> None:
        self.record = record
        self.services = services
        self.hub = hub
        self.token = token
        self.inbox: asyncio.Queue[ev.Message] = asyncio.Queue(INBOX_SIZE)
        self.counterpart = Counterpart(record, services.store, scenario)
        self.emotion = record.emotion
        self.turn_count = record.turn_count
        self.history: deque[tuple[str, str]] = deque(
            ((t.user_message, t.ai_reply) for t in history), maxlen=services.settings.history_turns)
        self.writes = OwnerWrites(services.store.pool, record.id, token)
        self.journal = Journal(record.id, on_refused=self._refused)
        self.connection: Connection | None = None
        self.listening: Listening | None = None
        self.speak_replies = False  # only clients that send audio get audio back
        self.current: Turn | None = None
        self._awaiting_feedback: dict[int, Turn] = {}
        self._reports: list[asyncio.Future[dict[str, Any]]] = []
        self._reporting = False
        self._generation = 0  # moves on every attach and request, so a stale Idle is ignored
        self._state_queued = False
        self._progress_queued = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._feedback_tasks: set[asyncio.Task[Any]] = set()
        self.retiring = False
        self.lost = False
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def session_id(self) -> str:
        return self.record.id

    @property
    def busy(self) -> bool:
        """A reply is in flight (being generated or spoken)."""
        return self.current is not None and not self.current.stored

    @property
    def ended(self) -> bool:
        return self.counterpart.status == "ended"

    async def post(self, message: ev.Message) -> None:
        await self.inbox.put(message)

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        try:
            while True:
                message = await self.inbox.get()
                try:
                    if await self._handle(message):
                        break
                except Exception:
                    log.exception("session %s: %s failed", self.session_id, type(message).__name__)
                    if isinstance(message, ev.TextFrame | ev.AudioFrame):
                        await self._error("internal_error",
                                          "the gateway could not process this frame")
        finally:
            await self._stop()

    async def _handle(self, message: ev.Message) -> bool:
        """Act on one message; True when the owner is done."""
        match message:
            case ev.Attach(connection):
                await self._attach(connection)
            case ev.Detach(connection):
                if connection is self.connection:
                    await self._detach()
            case ev.TextFrame(connection, text):
                if connection is self.connection:
                    await self._text_frame(text)
            case ev.AudioFrame(connection, data):
                if connection is self.connection:
                    await self._audio_frame(data)
            case ev.TranscriptReady(voice):
                await self._transcript(voice)
            case ev.ListeningFailed(code, reason):
                await self._error(code, reason)
            case ev.ReplyText() | ev.ReplyDone() | ev.ReplyFailed():
                await self._reply_event(message)
            case ev.SpeechAudio() | ev.SpeechDone() | ev.SpeechFailed():
                await self._speech_event(message)
            case ev.FeedbackReady(seq, result):
                await self._feedback_ready(seq, result)
            case ev.EndRequested(answer):
                self._generation += 1
                self._reports.append(answer)
                await self._end()
            case ev.ReportReady(report, error):
                await self._report_ready(report, error)
            case ev.LeaseLost():
                return await self._lease_lost()
            case ev.Shutdown(code, reason):
                await self._cut("shutdown")
                if self.connection is not None:
                    await self.connection.close(code, reason)
                await self._detach()
            case ev.Idle(generation):
                if generation == self._generation and await self.hub.retire(self):
                    return True
        return False

    async def _stop(self) -> None:
        if self.listening is not None:
            await self.listening.aclose()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not self.lost:
            self.journal.put("lease release", lambda: self._release())
        await self.journal.aclose()
        for answer in self._reports:
            if not answer.done():
                answer.set_exception(RuntimeError("the session closed before its report"))
        self.hub.forget(self)
        self.done.set()
        while not self.inbox.empty():  # frees a reader blocked on a full inbox; it then sees
            self.inbox.get_nowait()    # its connection closed

    async def _release(self) -> bool:
        await self.services.store.release_lease(self.session_id, self.token)
        return True

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=f"{name}-{self.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._feedback_tasks.discard)
        return task

    # ------------------------------------------------------------ connections

    async def _attach(self, connection: Connection) -> None:
        self._generation += 1
        previous, self.connection = self.connection, connection
        if previous is not None:
            log.info("session %s: a newer connection takes the session over", self.session_id)
            await self._cut("replaced")
            await previous.close(CLOSE_REPLACED, "this session was opened on another connection")
            await self._close_listening()
        self.speak_replies = False

    async def _detach(self) -> None:
        self.connection = None
        await self._cut("disconnected")
        await self._close_listening()
        self._linger()

    async def _close_listening(self) -> None:
        if self.listening is not None:
            await self.listening.aclose()
            self.listening = None

    def _linger(self) -> None:
        """With nothing connected, retire once everything is written."""
        if self.connection is None and not self._reporting:
            self._spawn(self._idle_after_writes(self._generation), "linger")

    async def _idle_after_writes(self, generation: int) -> None:
        await asyncio.gather(*self._feedback_tasks, return_exceptions=True)
        await self.journal.flush()
        await self.inbox.put(ev.Idle(generation))

    def _refused(self, what: str) -> None:
        if self.lost:
            return
        log.warning("session %s: %s was refused: the lease is held elsewhere", self.session_id, what)
        self.lost = True
        self._spawn(self.inbox.put(ev.LeaseLost()), "lease-lost")

    async def _lease_lost(self) -> bool:
        self.lost = True
        self.journal.abandon()
        if self.current is not None:
            await self.current.replying.cancel()
            if self.current.speaking is not None:
                await self.current.speaking.cancel()
        if self.connection is not None:
            await self.connection.close(CLOSE_MOVED, "this session moved to another gateway "
                                                     "process; reconnect to continue")
        self.hub.retire_lost(self)
        return True

    async def _send(self, event: p._Event) -> None:
        if self.connection is not None:
            await self.connection.send(event)

    async def _error(self, code: str, reason: str) -> None:
        await self._send(p.ErrorEvent(data=p.ErrorData(error=reason, code=code)))

    async def _turn_error(self, code: str, reason: str) -> None:
        await self._send(p.AIStreamError(data=p.ErrorData(error=reason, code=code)))

    # ------------------------------------------------------------ frames

    async def _text_frame(self, text: str) -> None:
        try:
            message = p.parse_client_message(text)
        except p.ProtocolError as error:
            if error.message_type == "request_ai_response":
                await self._turn_error(error.code, error.reason)
            else:
                await self._error(error.code, error.reason)
            return
        await self._message(message)

    async def _message(self, message: p._Event) -> None:
        if isinstance(message, p.RequestAIResponse):
            data = message.data
            client_ts = (datetime.fromtimestamp(data.timestamp / 1000, UTC)
                         if data.timestamp is not None else None)
            await self._accept(data.message, data.emotion or self.emotion, "text", client_ts)
        elif isinstance(message, p.EmotionUpdate):
            self.emotion = message.data.emotion
            self._save_state()
        elif isinstance(message, p.Interrupt):
            await self._cut("interrupted")
        elif isinstance(message, p.SessionStart):
            await self._session_start(message.data)
        elif isinstance(message, p.SessionEnd):
            self._generation += 1
            await self._end()
        elif isinstance(message, p.AudioConfig):
            try:
                self._listening().configure(message.data.sample_rate)
            except AudioRejected as rejected:
                await self._error(rejected.code, rejected.reason)
                return
            self.speak_replies = message.data.speak_replies
        # vad_metrics: the browser's own figures; accepted and ignored.

    async def _audio_frame(self, data: bytes) -> None:
        first_audio = self.listening is None
        try:
            vad_events = await self._listening().push(data)
        except AudioRejected as rejected:
            await self._error(rejected.code, rejected.reason)
            return
        if first_audio:
            self.speak_replies = True
        for event in vad_events:
            await self._vad_event(event)

    def _listening(self) -> Listening:
        if self.listening is None:
            speech = self.services.speech
            self.listening = Listening(self.services.settings, speech.stt,
                                       speech.problems.get("stt"), self.record.language, self.post)
        return self.listening

    async def _vad_event(self, event: VADEvent) -> None:
        if isinstance(event, SpeechStarted):
            await self._send(p.SpeechStartedEvent(data=p.StreamTime(stream_ms=event.stream_ms)))
            await self._cut("barge_in")
        elif isinstance(event, SpeechStopped):
            await self._send(p.SpeechStoppedEvent(data=p.SpeechStoppedData(
                stream_ms=event.stream_ms, start_ms=event.start_ms, end_ms=event.end_ms,
                reason=event.reason)))

    async def _transcript(self, voice: ev.VoiceTurn) -> None:
        transcript = voice.transcript
        await self._send(p.TranscriptEvent(data=p.TranscriptData(
            text=transcript.text, start_ms=transcript.start_ms, end_ms=transcript.end_ms,
            words=[p.WordData(word=w.text, start_ms=w.start_ms, end_ms=w.end_ms,
                              probability=w.probability) for w in transcript.words],
            language=transcript.language, stt_ms=transcript.stt_ms,
            speculative=voice.speculative_hit)))
        await self._accept(transcript.text, self.emotion, "voice", None, voice)

    # ------------------------------------------------------------ session state

    def _save_state(self) -> None:
        """Write the live state once the journal gets to it (one queued write at most: it
        writes the state as it is then)."""
        if self._state_queued:
            return
        self._state_queued = True

        async def write() -> bool:
            self._state_queued = False
            c = self.counterpart
            return await self.writes.save_state(
                scenario=self.record.scenario, language=self.record.language,
                emotion=self.emotion, rapport=c.rapport, beat_index=c.position.index,
                beat_followed_up=c.position.followed_up, status=c.status)

        self.journal.put("session state", write)

    async def _session_start(self, data: p.SessionStartData) -> None:
        try:
            async with asyncio.timeout(3.0):
                scenario, persona = await self.counterpart.catalog.scenario(data.scenario)
        except LookupError as error:
            await self._error("unknown_scenario", f"{error}; see GET /scenarios")
            return
        except Exception as error:
            await self._error("database_unavailable", "the scenario could not be looked up "
                              f"({type(error).__name__}); try again shortly")
            return
        if self.turn_count > 0 or self.ended:
            await self._error("session_already_started",
                              "the scenario and language are chosen before the first turn")
            return
        self.record = dataclasses.replace(self.record, scenario=data.scenario,
                                          language=data.language)
        status, emotion = self.counterpart.status, self.emotion
        self.counterpart = Counterpart(self.record, self.services.store, (scenario, persona))
        self.counterpart.status = status
        self.emotion = emotion
        if self.listening is not None:
            self.listening.language = data.language
        self._save_state()
        rapport = (p.RapportData(value=self.counterpart.rapport,
                                 stage=rapport_stage(self.counterpart.rapport))
                   if scenario.rapport else None)
        await self._send(p.SessionStarted(data=p.SessionStartedData(
            session_id=self.session_id, scenario=scenario.id, language=data.language,
            opening_line=self.counterpart.opening_line(scenario), rapport=rapport)))

    async def _end(self) -> None:
        """Close and score the session; the report goes to the client and is stored."""
        await self._cut("session_end")
        self.counterpart.status = "ended"
        self._save_state()
        if not self._reporting:
            self._reporting = True
            self._spawn(self._build_report(), "report")

    async def _build_report(self) -> None:
        try:
            await self.journal.flush()
            record = dataclasses.replace(self.record, status="ended")
            report = await generate_report(self.services, record)
        except Exception as error:
            log.warning("session %s: report failed: %s", self.session_id, type(error).__name__)
            await self.inbox.put(ev.ReportReady(None, "the report could not be built "
                                                      f"({type(error).__name__}); it can be "
                                                      "fetched later from GET /sessions/{id}/report"))
            return
        await self.inbox.put(ev.ReportReady(report))

    async def _report_ready(self, report: dict[str, Any] | None, error: str | None) -> None:
        self._reporting = False
        if report is not None:
            await self._send(p.SessionReportEvent(data=report))
        else:
            await self._error("report_failed", error or "the report could not be built")
        for answer in self._reports:
            if not answer.done():
                if report is not None:
                    answer.set_result(report)
                else:
                    answer.set_exception(RuntimeError(error))
        self._reports.clear()
        self._linger()

    # ------------------------------------------------------------ turns

    async def _check(self, message: str) -> None:
        """Refuse empty and over-long messages, turns in an ended session or one on hold
        (unless they signal risk: a safety reply is never refused), and requests over the
        rate limit."""
        limit = self.services.settings.max_message_chars
        if not message.strip():
            raise TurnRejected("empty_message", "the message is empty")
        if len(message) > limit:
            raise TurnRejected("message_too_long", f"the message is {len(message)} characters "
                                                   f"long; the limit is {limit}")
        if self.ended:
            raise TurnRejected("session_ended", "this session has ended; start a new one")
        if self.counterpart.on_hold and assess_risk(message) is None:
            raise TurnRejected("session_on_hold",
                               "the counterpart ended this conversation when rapport reached 0; "
                               "start a new session to practise again")
        refusal = await self.services.limits.ai_request(self.record.owner, self.session_id)
        if refusal is not None:
            raise TurnRejected(refusal.code, refusal.reason)

    async def _accept(self, message: str, emotion: str, source: TurnSource,
                      client_timestamp: datetime | None, voice: ev.VoiceTurn | None = None) -> None:
        """Take a user turn: cut any reply in progress, record the turn, start its reply."""
        # The scenario is read while the limits are checked: both are off the model's path.
        scenario = asyncio.create_task(self.counterpart.scenario())
        try:
            await self._check(message)
        except TurnRejected as rejected:
            _drop(scenario)
            await self._turn_error(rejected.code, rejected.reason)
            return
        await self._cut("superseded")
        self.turn_count += 1
        seq = self.turn_count
        turn = Turn(seq, message, emotion, source, Replying(seq, self.post),
                    client_timestamp=client_timestamp, voice=voice,
                    accepted_at=voice.transcript_at if voice else time.perf_counter())
        speech = speech_record(voice.transcript, voice.voiced) if voice else None
        self.journal.put(f"turn {seq}", lambda: self.writes.insert_turn(
            seq, message, emotion=emotion, source=source, client_timestamp=client_timestamp,
            speech=speech))
        log.info("session %s turn %d (%s, %s): %s", self.session_id, seq, source, emotion,
                 preview(message))
        self.current = turn
        self._awaiting_feedback[seq] = turn
        turn.speech = speech
        risk = assess_risk(message)
        if risk is not None:
            log.warning("session %s turn %d: %s; safety reply sent, flagged for a human counselor",
                        self.session_id, seq, risk.reason)
            self.journal.put("flag", lambda: self.writes.flag_for_human(risk.reason))
            await self._send(p.Escalation(data=p.EscalationData(reason=risk.reason,
                                                               priority=risk.priority)))
        await self._send(p.AIStreamBegin(data=p.TurnRef(turn=seq)))
        turn.speaking = self._speaking_for(seq)
        if risk is not None:
            _drop(scenario)
            turn.replying.start_scripted(safety_reply(self.record.language))
        else:
            turn.replying.start_model(
                self.services.llm, self.counterpart, scenario, list(self.history),
                seq - len(self.history) <= 1, message, emotion,
                self.services.settings.llm_timeout_s)

    def _speaking_for(self, seq: int) -> Speaking | None:
        """A voice for the reply, when this client takes audio and a voice is available."""
        if not self.speak_replies:
            return None
        tts = self.services.speech.tts_for(self.record.language)
        if tts is None:
            return None
        return Speaking(tts, seq, self.post, lead_ms=self.services.settings.tts_lead_ms)

    def _live(self, seq: int) -> Turn | None:
        """The current turn if it is `seq` and its reply is still going."""
        turn = self.current
        return turn if turn is not None and turn.seq == seq and not turn.stored else None

    async def _reply_event(self, event: ev.ReplyText | ev.ReplyDone | ev.ReplyFailed) -> None:
        turn = self._live(event.seq)
        if turn is None or turn.text_complete:
            return  # a reply that was cut: nothing more of it goes out
        if isinstance(event, ev.ReplyText):
            await self._emit(turn, event.text)
        elif isinstance(event, ev.ReplyDone):
            change = (self.counterpart.conclude(event.plan, event.rapport_delta)
                      if event.plan is not None else None)
            if event.plan is not None:
                self._save_state()
            if change is not None and change.closing_line:
                await self._emit(turn, ("\n" if turn.text else "") + change.closing_line)
            await self._complete_text(turn, change)
        else:
            log.warning("session %s turn %d failed: %s", self.session_id, turn.seq, event.reason)
            if turn.speaking is not None:
                await turn.speaking.cancel()
                await self._tts_end(turn, interrupted=True)
            await self._store(turn, "cut_short", event.code)
            await self._turn_error(event.code, event.reason)
            await self._send_feedback(turn)

    def _start_feedback(self, turn: Turn) -> None:
        """Feedback runs in a worker thread: started once the first token is out (or the
        reply ended without one), so it never competes with the path to the first token."""
        if not turn.feedback_started:
            turn.feedback_started = True
            self._feedback_tasks.add(self._spawn(self._feedback(turn, turn.speech), "feedback"))

    async def _emit(self, turn: Turn, text: str) -> None:
        if turn.first_token_at is None:
            turn.first_token_at = time.perf_counter()
            turn.timings["first_chunk_ms"] = _ms(turn.first_token_at - turn.accepted_at)
            self._start_feedback(turn)
        turn.parts.append(text)
        await self._send(p.AIStreamChunk(data=p.ChunkData(chunk=text)))
        if turn.speaking is not None:
            turn.speaking.feed(text)
        else:
            self._save_progress(turn)

    def _save_progress(self, turn: Turn) -> None:
        """Record what the user has received so far, PROGRESS_EVERY_S after it starts
        arriving (one pending write at most: it writes what has been received by then). A
        reply that is over sooner needs none: its final state is written instead."""
        if self._progress_queued:
            return
        self._progress_queued = True

        async def write() -> bool:
            self._progress_queued = False
            if turn.stored:
                return True
            return await self.writes.save_progress(turn.seq, turn.received)

        asyncio.get_running_loop().call_later(
            PROGRESS_EVERY_S, lambda: self.journal.put(f"progress {turn.seq}", write))

    async def _complete_text(self, turn: Turn, change: RapportChange | None) -> None:
        turn.text_complete = True
        if change is not None:
            await self._send(p.RapportEvent(data=p.RapportData(
                value=change.value, stage=change.stage, change=change.change,
                on_hold=change.on_hold)))
        await self._send(p.AIStreamComplete(data=p.TurnRef(turn=turn.seq)))
        if turn.speaking is None:
            await self._store(turn, "complete", None)
        else:
            turn.speaking.finish()  # complete once the last of it has been played out
        await self._send_feedback(turn)

    async def _speech_event(self, event: ev.SpeechAudio | ev.SpeechDone | ev.SpeechFailed) -> None:
        turn = self._live(event.seq)
        if turn is None:
            return
        if isinstance(event, ev.SpeechAudio):
            if turn.first_audio_at is None:
                turn.sample_rate = event.sample_rate
                await self._send(p.TTSBegin(data=p.TTSBeginData(
                    utterance_id=turn.utterance_id, turn=turn.seq, sample_rate=event.sample_rate)))
                turn.first_audio_at = time.perf_counter()
            if event.heard_chars != turn.heard_chars:
                turn.heard_chars = event.heard_chars
                self._save_progress(turn)
            if self.connection is not None:
                await self.connection.send_bytes(event.data)
            turn.audio_ms += len(event.data) / 2 / event.sample_rate * 1000
        elif isinstance(event, ev.SpeechFailed):
            await self._error("tts_failed", event.reason)
        elif turn.text_complete:
            await self._tts_end(turn, interrupted=False)
            turn.heard_chars = len(turn.text)
            await self._store(turn, "complete", None)

    async def _tts_end(self, turn: Turn, *, interrupted: bool) -> None:
        if turn.first_audio_at is not None:
            await self._send(p.TTSEnd(data=p.TTSEndData(
                utterance_id=turn.utterance_id, interrupted=interrupted,
                audio_ms=round(turn.audio_ms))))

    async def _cut(self, reason: str) -> None:
        """Stop the reply in progress, if any; store it cut to what the user received."""
        turn = self.current
        if turn is None or turn.stored:
            return
        await turn.replying.cancel()
        if turn.speaking is not None:
            await turn.speaking.cancel()
            await self._tts_end(turn, interrupted=True)
        await self._store(turn, "cut_short", reason)
        await self._send_feedback(turn)

    async def _store(self, turn: Turn, status: TurnStatus, reason: str | None) -> None:
        """Write the turn's final state, once: the reply as the user received it."""
        turn.stored = True
        reply = turn.text if status == "complete" else turn.received
        turn.timings["complete_ms"] = _ms(time.perf_counter() - turn.accepted_at)
        log.info("session %s turn %d %s after %.0f ms: %s", self.session_id, turn.seq,
                 status if reason is None else f"cut short ({reason})",
                 turn.timings["complete_ms"], preview(reply))
        timings = {**turn.timings, **await self._report_metrics(turn)}
        self.journal.put(f"reply {turn.seq}", lambda: self.writes.finish_turn(
            turn.seq, ai_reply=reply, status=status, end_reason=reason, timings=timings))
        self.history.append((turn.message, reply))

    # ------------------------------------------------------------ feedback and figures

    async def _feedback(self, turn: Turn, speech: dict[str, Any] | None) -> None:
        """How the user's turn came across; computed while the reply streams."""
        result: dict[str, Any] | None = None
        try:
            scenario, _ = await self.counterpart.scenario()
            result = await turn_feedback(scenario, turn.message, self.record.language, speech)
        except Exception as error:
            log.warning("session %s: feedback failed (%s)", self.session_id, type(error).__name__)
        await self.inbox.put(ev.FeedbackReady(turn.seq, result))

    async def _feedback_ready(self, seq: int, result: dict[str, Any] | None) -> None:
        turn = self._awaiting_feedback.get(seq)
        if turn is None:
            return
        turn.feedback, turn.feedback_ready = result, True
        if result is not None:
            self.journal.put(f"feedback {seq}", lambda: self.writes.save_feedback(seq, result))
        if turn.stored or turn.text_complete:
            await self._send_feedback(turn)

    async def _send_feedback(self, turn: Turn) -> None:
        """A turn's one `feedback` event, after its reply ended or its text completed."""
        self._start_feedback(turn)
        if not turn.feedback_ready or turn.feedback_sent:
            return
        turn.feedback_sent = True
        self._awaiting_feedback.pop(turn.seq, None)
        if turn.feedback is not None:
            await self._send(p.FeedbackEvent(data=p.FeedbackData(turn=turn.seq, **turn.feedback)))

    async def _report_metrics(self, turn: Turn) -> dict[str, float]:
        """Per-stage latency: sent as `turn_metrics` for voice turns, exported; returned to be
        stored with the turn."""
        figures: dict[str, float | None] = {
            "request_to_first_chunk_ms": turn.timings.get("first_chunk_ms")}
        voice = turn.voice
        if voice is not None:
            figures = {
                "speech_end_to_transcript_ms": _ms_between(voice.speech_end_at, voice.transcript_at),
                "endpoint_to_transcript_ms": _ms_between(voice.endpoint_at, voice.transcript_at),
                "transcript_to_first_token_ms": _ms_between(voice.transcript_at,
                                                            turn.first_token_at),
                "first_token_to_first_audio_ms": _ms_between(turn.first_token_at,
                                                             turn.first_audio_at),
                "voice_to_voice_ms": _ms_between(voice.speech_end_at, turn.first_audio_at),
                "stt_ms": voice.transcript.stt_ms,
            }
            await self._send(p.TurnMetrics(data=p.TurnMetricsData(
                turn=turn.seq, speculative_hit=voice.speculative_hit, **figures)))
        self.services.metrics.observe_ms(figures)
        return {k: v for k, v in figures.items() if v is not None}


def _drop(task: asyncio.Task[Any]) -> None:
    """Cancel a task whose result is no longer wanted, retrieving whatever it ends with."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _ms_between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else _ms(end - start)
