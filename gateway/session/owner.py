"""The owner of one live session: one task with an inbox, the only one that acts.

Connections put frames into its inbox, HTTP handlers put requests, and the stages it runs
(listening, the model's reply, speaking, feedback, the report) put the events they yield.
The owner alone changes the session's state, sends on its socket and writes its record,
through a journal that applies writes in order and holds them through a database outage,
fenced by the owner's lease. So what is stored is what happened: a reply is complete only
when the provider finished it and it was all sent (and, when spoken, all played out); a
cut reply stores what the user received; each turn gets one `feedback`; an ended session
refuses every turn. How a turn is accepted, followed, stored and scored is in turns.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from audio.turn_end import is_backchannel
from audio.vad import SpeechConfirmed, SpeechResumed, SpeechStarted, SpeechStopped, VADEvent
from gateway import protocol as p
from gateway.counterpart import Counterpart
from gateway.scoring import generate_report
from gateway.services import Services
from gateway.session import events as ev
from gateway.session.connection import Connection
from gateway.session.journal import Journal
from gateway.session.listening import AudioRejected, Listening
from gateway.session.speaking import Speaker
from gateway.session.turn import Preemption, Turn
from gateway.session.turns import TurnHandling
from gateway.session.utterance import Utterance
from gateway.storage import SessionRecord, TurnRecord
from gateway.storage.store import OwnerWrites
from scenarios.models import Persona, Scenario
from scenarios.rapport import stage as rapport_stage

if TYPE_CHECKING:
    from gateway.session.hub import SessionHub

log = logging.getLogger(__name__)

INBOX_SIZE = 256
CLOSE_REPLACED = 4409
CLOSE_MOVED = 4423


class SessionOwner(TurnHandling):
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
        self.browser_voices: tuple[str, ...] = ()  # languages the page can speak itself
        self.record_audio = False  # the user consented to keeping their answers' audio
        self.opening: Speaker | None = None
        self.opening_spoken = False
        self.opening_said = Utterance("opening", 0)
        self.interjection = False  # the user is talking over a reply, which is paused
        self.speech_truths: deque[int] = deque(maxlen=64)  # speech_end_truth, stream ms
        self.preemption: Preemption | None = None  # a reply started before the end of turn
        self.preemption_keys = 0       # preemptions are keyed -1, -2, ... (turns: 1, 2, ...)
        self.preemptions_discarded = 0  # since the last turn
        self.staged_aliases: dict[int, int] = {}  # adopted preemption key -> turn seq
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
                await self._discard()
                await self._error(code, reason)
                await self._resume_speech()
            case ev.UtteranceIgnored():
                await self._discard()
                await self._resume_speech()
            case (ev.ReplyText() | ev.ReplyDone() | ev.ReplyFailed() | ev.SpeechAudio()
                  | ev.SpeechSentence() | ev.SpeechDone() | ev.SpeechFailed()) if message.seq < 0:
                await self._staged(message)
            case ev.ReplyText() | ev.ReplyDone() | ev.ReplyFailed():
                await self._reply_event(message)
            case ev.SpeechAudio() | ev.SpeechSentence() | ev.SpeechDone() | ev.SpeechFailed():
                await self._speech_event(message)
            case ev.TranscriptSpeculated(transcript):
                await self._preempt(transcript)
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
        self.browser_voices = ()
        self.record_audio = False  # each connection asks again

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
            self.browser_voices = tuple(message.data.browser_voices)
            await self._consent_to_recording(message.data.record_audio)
            if self.speak_replies:
                await self._announce_voice()
                if message.data.speak_opening:
                    await self._speak_opening()
        elif isinstance(message, p.TTSSpoken):
            await self._tts_spoken(message.data)
        elif isinstance(message, p.SpeechEndTruth):
            self.speech_truths.append(message.data.stream_ms)
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
            if self.services.settings.barge_in_confirm_ms == 0:
                await self._cut("barge_in")
            else:
                await self._pause_speech()  # until it is clear whether this is a turn
        elif isinstance(event, SpeechResumed):
            await self._discard()  # they went on speaking
        elif isinstance(event, SpeechConfirmed):
            if self.interjection:
                await self._cut("barge_in")  # more than a backchannel
        elif isinstance(event, SpeechStopped):
            await self._send(p.SpeechStoppedEvent(data=p.SpeechStoppedData(
                stream_ms=event.stream_ms, start_ms=event.start_ms, end_ms=event.end_ms,
                reason=event.reason)))

    async def _transcript(self, voice: ev.VoiceTurn) -> None:
        transcript = voice.transcript
        if self.interjection:
            speech_ms = sum(end - start for start, end in voice.voiced)
            if is_backchannel(transcript.text, speech_ms):
                log.info("session %s: a backchannel over the reply; it goes on", self.session_id)
                await self._resume_speech()
                return
            await self._cut("barge_in")
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
        if self.speak_replies:
            await self._announce_voice()  # the language decides the voice

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
