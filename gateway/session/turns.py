"""The turns of a live session, as its owner handles them.

A user turn is checked and accepted, its reply streams (and is spoken) as the stages report
it, and it ends complete, cut short or failed; then it is stored once, with what the user
received, and scored once. These are methods of `SessionOwner` (a mixin, so the owner's
state has one home); they run only inside the owner's task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from audio import recording
from gateway import protocol as p
from gateway.counterpart import RapportChange
from gateway.privacy import preview
from gateway.scoring import speech_record, turn_feedback
from gateway.session import events as ev
from gateway.session.replying import Replying
from gateway.session.speaking import BrowserSpeaking, Speaker, Speaking
from gateway.session.tasks import abandon
from gateway.session.turn import Preemption, Turn
from gateway.session.utterance import Utterance
from gateway.storage.store import RecordedAudio, TurnSource, TurnStatus
from scenarios.safety import RiskAssessment, assess_risk, safety_reply

if TYPE_CHECKING:
    from collections import deque

    from gateway.counterpart import Counterpart
    from gateway.engines import VoiceChoice
    from gateway.services import Services
    from gateway.session.connection import Connection
    from gateway.session.journal import Journal
    from gateway.storage import SessionRecord
    from gateway.storage.store import OwnerWrites

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # how often a reply in flight is recorded (for the next owner)


class TurnRejected(Exception):
    """A turn that cannot be accepted, with the code and reason the client is told."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TurnHandling:
    """Accepting a turn, following its reply, storing and scoring it (see the module)."""

    if TYPE_CHECKING:  # what these methods use of the owner
        services: Services
        record: SessionRecord
        counterpart: Counterpart
        emotion: str
        turn_count: int
        history: deque[tuple[str, str]]
        journal: Journal
        writes: OwnerWrites
        current: Turn | None
        connection: Connection | None
        speak_replies: bool
        browser_voices: tuple[str, ...]
        record_audio: bool
        opening: Speaker | None
        opening_spoken: bool
        opening_said: Utterance
        interjection: bool
        preemption: Preemption | None
        preemption_keys: int
        preemptions_discarded: int
        staged_aliases: dict[int, int]
        speech_truths: deque[int]
        inbox: asyncio.Queue[ev.Message]
        _awaiting_feedback: dict[int, Turn]
        _feedback_tasks: set[asyncio.Task[Any]]
        _progress_queued: bool

        @property
        def session_id(self) -> str: ...
        @property
        def ended(self) -> bool: ...
        @property
        def busy(self) -> bool: ...
        async def post(self, message: ev.Message) -> None: ...
        async def _send(self, event: p._Event) -> None: ...
        async def _error(self, code: str, reason: str) -> None: ...
        async def _turn_error(self, code: str, reason: str) -> None: ...
        def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]: ...
        def _save_state(self) -> None: ...

    async def _check(self, message: str, risk: RiskAssessment | None) -> None:
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
        if self.counterpart.on_hold and risk is None:
            raise TurnRejected("session_on_hold",
                               "the counterpart ended this conversation when rapport reached 0; "
                               "start a new session to practise again")
        refusal = await self.services.limits.ai_request(self.record.owner, self.session_id)
        if refusal is not None:
            raise TurnRejected(refusal.code, refusal.reason)

    async def _accept(self, message: str, emotion: str, source: TurnSource,
                      client_timestamp: datetime | None, voice: ev.VoiceTurn | None = None) -> None:
        """Take a user turn: cut any reply in progress, record the turn, start its reply (or
        adopt the one started on the same words before the end of turn was confirmed)."""
        preemption, self.preemption = self.preemption, None
        if preemption is not None and (voice is None or preemption.text != message
                                       or preemption.emotion != emotion):
            await self._discard(preemption)
            preemption = None
        risk = assess_risk(message)
        # The scenario is read while the limits are checked: both are off the model's path.
        scenario = asyncio.create_task(self.counterpart.scenario())
        try:
            await self._check(message, risk)
        except TurnRejected as rejected:
            abandon(scenario)
            if preemption is not None:
                await self._discard(preemption)
            await self._turn_error(rejected.code, rejected.reason)
            return
        await self._cut("superseded")
        self.turn_count += 1
        seq = self.turn_count
        # What the turn's feedback is computed from; made in a worker, off the reply's path.
        speech = asyncio.create_task(speech_record(
            voice.transcript, voice.voiced, voice.audio, voice.audio_start_ms,
            self.record.language, self.services.speech.evidence)) if voice else None
        turn = Turn(seq, message, emotion, source,
                    preemption.replying if preemption else Replying(seq, self.post),
                    client_timestamp=client_timestamp, voice=voice, speech=speech,
                    accepted_at=voice.transcript_at if voice else time.perf_counter(),
                    preemptive=preemption is not None,
                    preemptive_discarded=self.preemptions_discarded)
        self.preemptions_discarded = 0
        async def insert() -> bool:
            return await self.writes.insert_turn(
                seq, message, emotion=emotion, source=source, client_timestamp=client_timestamp,
                speech=await speech if speech else None)

        self.journal.put(f"turn {seq}", insert)
        if voice is not None and voice.audio is not None and self.record_audio:
            self._record(seq, voice)
        log.info("session %s turn %d (%s, %s): %s", self.session_id, seq, source, emotion,
                 preview(message))
        self.current = turn
        self._awaiting_feedback[seq] = turn
        if risk is not None:
            log.warning("session %s turn %d: %s; safety reply sent, flagged for a human counselor",
                        self.session_id, seq, risk.reason)
            self.journal.put("flag", lambda: self.writes.flag_for_human(risk.reason))
            await self._send(p.Escalation(data=p.EscalationData(reason=risk.reason,
                                                               priority=risk.priority)))
        await self._send(p.AIStreamBegin(data=p.TurnRef(turn=seq)))
        if preemption is not None:
            abandon(scenario)
            await self._adopt(turn, preemption)
            return
        turn.speaking = self._speaking_for(seq)
        if risk is not None:
            abandon(scenario)
            turn.replying.start_scripted(safety_reply(self.record.language))
        else:
            turn.replying.start_model(
                self.services.llm, self.counterpart, scenario, list(self.history),
                seq - len(self.history) <= 1, message, emotion,
                self.services.settings.llm_timeout_s)

    def _voice(self) -> VoiceChoice:
        return self.services.speech.voice_for(self.record.language, self.browser_voices)

    # ------------------------------------------------------------ preemptive replies

    async def _preempt(self, transcript: ev.Transcript) -> None:
        """The utterance may be over: start the reply on its speculative transcript, held
        back (not sent, stored, counted or heard) until the end of turn confirms it."""
        settings = self.services.settings
        text = transcript.text
        if (not settings.preemptive_replies or self.interjection or self.busy or self.ended
                or self.counterpart.on_hold or self.preemptions_discarded
                >= settings.preemptive_max_attempts or not text.strip()
                or len(text) > settings.max_message_chars or assess_risk(text) is not None):
            return
        if self.preemption is not None:
            if self.preemption.text == text:
                return
            await self._discard(self.preemption)
        self.preemption_keys -= 1
        key = self.preemption_keys
        replying = Replying(key, self.post)
        self.preemption = Preemption(key, text, self.emotion, replying,
                                     self._speaking_for(key, held=True))
        self.services.metrics.count("preemptive_replies")
        replying.start_model(self.services.llm, self.counterpart,
                             asyncio.create_task(self.counterpart.scenario()),
                             list(self.history), self.turn_count + 1 - len(self.history) <= 1,
                             text, self.emotion, settings.llm_timeout_s)

    async def _discard(self, preemption: Preemption | None = None) -> None:
        """Throw a preemptive reply away (the user went on, or said something else)."""
        preemption = preemption or self.preemption
        if preemption is None:
            return
        if preemption is self.preemption:
            self.preemption = None
        await preemption.replying.cancel()
        if preemption.speaking is not None:
            await preemption.speaking.cancel()
        self.preemptions_discarded += 1
        self.services.metrics.count("preemptive_discarded")

    async def _adopt(self, turn: Turn, preemption: Preemption) -> None:
        """The end of turn confirmed the words the reply was started on: send what it has
        so far, let its voice go, and follow it as the turn's reply from here."""
        self.staged_aliases[preemption.key] = turn.seq
        turn.speaking = preemption.speaking
        for part in preemption.parts:
            await self._emit(turn, part, feed=False)
        if turn.speaking is not None:
            turn.speaking.resume()
        if preemption.outcome is not None:
            await self._reply_event(dataclasses.replace(preemption.outcome, seq=turn.seq))

    async def _staged(self, event: ev.ReplyText | ev.ReplyDone | ev.ReplyFailed | ev.SpeechAudio
                      | ev.SpeechSentence | ev.SpeechDone | ev.SpeechFailed) -> None:
        """An event from a preemptive reply's stages: held while it is preemptive, the
        turn's once adopted, dropped once discarded."""
        if (seq := self.staged_aliases.get(event.seq)) is not None:
            event = dataclasses.replace(event, seq=seq)
            if isinstance(event, ev.ReplyText | ev.ReplyDone | ev.ReplyFailed):
                await self._reply_event(event)
            else:
                await self._speech_event(event)
            return
        preemption = self.preemption
        if preemption is None or preemption.key != event.seq:
            return
        if isinstance(event, ev.ReplyText):
            preemption.parts.append(event.text)
            if preemption.speaking is not None:
                preemption.speaking.feed(event.text)  # the first sentence is voiced, held
        elif isinstance(event, ev.ReplyDone | ev.ReplyFailed):
            preemption.outcome = event

    def _speaking_for(self, seq: int, *, held: bool = False) -> Speaker | None:
        """A voice for the reply, when this client takes audio and a voice is available: the
        gateway's, or the page's where the gateway's is a last resort (`voice_selected`)."""
        if not self.speak_replies:
            return None
        voice = self._voice()
        if voice.mode == "browser":
            return BrowserSpeaking(seq, self.post, held=held)
        tts = self.services.speech.tts_for(self.record.language)
        if voice.mode == "none" or tts is None:
            return None
        return Speaking(tts, seq, self.post, lead_ms=self.services.settings.tts_lead_ms,
                        held=held)

    async def _announce_voice(self) -> None:
        voice = self._voice()
        await self._send(p.VoiceSelected(data=p.VoiceSelectedData(
            mode=voice.mode, language=voice.language, engine=voice.engine,
            natural=voice.natural, reason=voice.reason)))

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
            self._feedback_tasks.add(self._spawn(self._feedback(turn), "feedback"))

    async def _emit(self, turn: Turn, text: str, *, feed: bool = True) -> None:
        if turn.first_token_at is None:
            turn.first_token_at = time.perf_counter()
            turn.timings["first_chunk_ms"] = _ms(turn.first_token_at - turn.accepted_at)
            self._start_feedback(turn)
        turn.parts.append(text)
        await self._send(p.AIStreamChunk(data=p.ChunkData(chunk=text)))
        if turn.speaking is not None:
            if feed:
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

    async def _speech_event(self, event: ev.SpeechAudio | ev.SpeechSentence | ev.SpeechDone
                            | ev.SpeechFailed) -> None:
        if event.seq == 0:
            await self._opening_event(event)
            return
        turn = self._live(event.seq)
        if turn is None:
            return
        if isinstance(event, ev.SpeechSentence):
            turn.sentence_ends.append(event.heard_chars)
            await self._send(turn.spoken.sentence(event, self.record.language))
        elif isinstance(event, ev.SpeechDone) and turn.speaking is not None \
                and turn.speaking.mode == "browser":
            turn.sentences_done = True
            await self._spoken_out(turn)
        elif isinstance(event, ev.SpeechAudio):
            if (begin := turn.spoken.audio(event)) is not None:
                await self._send(begin)
            if event.heard_chars != turn.heard_chars:
                turn.heard_chars = event.heard_chars
                self._save_progress(turn)
            if self.connection is not None:
                await self.connection.send_bytes(event.data)
        elif isinstance(event, ev.SpeechFailed):
            await self._error("tts_failed", event.reason)
        elif turn.text_complete:
            await self._tts_end(turn, interrupted=False)
            turn.heard_chars = len(turn.text)
            await self._store(turn, "complete", None)

    async def _tts_spoken(self, data: p.TTSSpokenData) -> None:
        """The page started or finished speaking a sentence (browser speech)."""
        turn = self._live(data.turn)
        if turn is None or turn.speaking is None or turn.speaking.mode != "browser":
            return  # an earlier reply's, or the opening's: nothing to record
        if data.sentence >= len(turn.sentence_ends):
            await self._error("invalid_message", f"tts_spoken names sentence {data.sentence} of "
                              f"turn {turn.seq}; {len(turn.sentence_ends)} were sent")
            return
        turn.spoken_started = max(turn.spoken_started, data.sentence)
        if data.state == "ended":
            turn.spoken_ended = max(turn.spoken_ended, data.sentence)
        heard = turn.sentence_ends[turn.spoken_started]
        if heard != turn.heard_chars:
            turn.heard_chars = heard
            self._save_progress(turn)
        await self._spoken_out(turn)

    async def _spoken_out(self, turn: Turn) -> None:
        """Browser speech: the reply is complete once its text is and the page has finished
        speaking its last sentence."""
        if (turn.text_complete and turn.sentences_done
                and turn.spoken_ended == len(turn.sentence_ends) - 1):
            await self._tts_end(turn, interrupted=False)
            turn.heard_chars = len(turn.text)
            await self._store(turn, "complete", None)

    async def _tts_end(self, turn: Turn, *, interrupted: bool) -> None:
        if turn.spoken.begun:
            mode = turn.speaking.mode if turn.speaking is not None else "server"
            await self._send(turn.spoken.end(interrupted=interrupted, mode=mode))

    # ------------------------------------------------------------ recorded answers

    async def _consent_to_recording(self, wanted: bool) -> None:
        """`audio_config.record_audio`: keep the user's voice for each answer from now on,
        for playback in the report. Never in counseling; answered by `recording`."""
        if not wanted:
            if self.record_audio:
                self.record_audio = False
                await self._send(p.Recording(data=p.RecordingData(
                    enabled=False, reason="recording stopped at the user's request")))
            return
        scenario, _ = await self.counterpart.scenario()
        if scenario.kind == "counseling":
            self.record_audio = False
            await self._send(p.Recording(data=p.RecordingData(
                enabled=False, reason="counseling sessions are never recorded")))
            return
        self.record_audio = True
        await self._send(p.Recording(data=p.RecordingData(
            enabled=True, reason="each answer's audio is kept for the report and deleted "
                                 "with the session")))

    def _record(self, seq: int, voice: ev.VoiceTurn) -> None:
        """Keep turn `seq`'s audio (Ogg Opus, encoded once in a worker; a retried write does
        not encode again), unless the scenario turns out to be counseling (checked again
        here: it may have changed since the consent)."""
        audio, start_ms = voice.audio, voice.audio_start_ms
        assert audio is not None
        encoded = asyncio.create_task(asyncio.to_thread(recording.encode, audio))
        where = RecordedAudio(recording.CODEC, recording.RATE, start_ms,
                              round(len(audio) * 1000 / recording.RATE))

        async def write() -> bool:
            current, _ = await self.counterpart.scenario()
            if current.kind == "counseling":
                return True
            return await self.writes.save_audio(seq, where, await encoded)

        self.journal.put(f"audio {seq}", write)

    # ------------------------------------------------------------ the opening line

    async def _speak_opening(self) -> None:
        """Say the counterpart's opening line aloud, once, before the first turn (it is in
        the log already, and the model's history; it is not a turn of its own)."""
        if self.turn_count > 0 or self.opening_spoken or self.ended:
            return
        scenario, _ = await self.counterpart.scenario()
        speaking = self._speaking_for(0)
        if speaking is None:
            return
        self.opening_spoken = True
        self.opening = speaking
        self.opening_said = Utterance("opening", 0)
        speaking.feed(self.counterpart.opening_line(scenario))
        speaking.finish()

    async def _opening_event(self, event: ev.SpeechAudio | ev.SpeechSentence | ev.SpeechDone
                             | ev.SpeechFailed) -> None:
        if self.opening is None:
            return  # stopped
        said = self.opening_said
        if isinstance(event, ev.SpeechAudio):
            if (begin := said.audio(event)) is not None:
                await self._send(begin)
            if self.connection is not None:
                await self.connection.send_bytes(event.data)
        elif isinstance(event, ev.SpeechSentence):
            await self._send(said.sentence(event, self.record.language))
        elif isinstance(event, ev.SpeechFailed):
            await self._error("tts_failed", event.reason)
        else:
            await self._stop_opening(interrupted=False)

    async def _stop_opening(self, *, interrupted: bool = True) -> None:
        speaking, self.opening = self.opening, None
        if speaking is None:
            return
        await speaking.cancel()
        if interrupted or speaking.mode == "server":
            await self._send(self.opening_said.end(interrupted=interrupted, mode=speaking.mode))

    # ------------------------------------------------------------ talking over a reply

    def _sounding(self) -> list[tuple[Speaker, Utterance]]:
        """The voices speaking now, and what the client was told of each."""
        voices = []
        if self.opening is not None:
            voices.append((self.opening, self.opening_said))
        turn = self.current
        if turn is not None and not turn.stored and turn.speaking is not None:
            voices.append((turn.speaking, turn.spoken))
        return voices

    async def _pause_speech(self) -> None:
        """The user started speaking over the reply: pause it until we know whether this is
        a turn (then the reply is cut) or a backchannel, a cough (then it resumes)."""
        replying = self.current is not None and not self.current.stored
        if self.interjection or not (replying or self.opening is not None):
            return
        self.interjection = True
        for speaker, said in self._sounding():
            speaker.pause()
            await self._send(said.pause())

    async def _resume_speech(self) -> None:
        """A false interruption: the reply goes on (server audio from the start of the
        sentence it stopped in: the client dropped what it had queued)."""
        if not self.interjection:
            return
        self.interjection = False
        for speaker, said in self._sounding():
            speaker.resume(rewind=True)
            await self._send(said.resume())
        self.services.metrics.count("false_interruptions")

    async def _cut(self, reason: str) -> None:
        """Stop the reply in progress, if any; store it cut to what the user received."""
        self.interjection = False
        await self._discard()
        await self._stop_opening()
        turn = self.current
        if turn is None or turn.stored:
            return
        if reason == "barge_in":
            self.services.metrics.count("barge_ins")
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

    async def _feedback(self, turn: Turn) -> None:
        """How the user's turn came across; computed while the reply streams."""
        result: dict[str, Any] | None = None
        try:
            scenario, _ = await self.counterpart.scenario()
            speech = await turn.speech if turn.speech else None
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

    def _speech_end_late(self, voice: ev.VoiceTurn) -> float | None:
        """Detected end of speech minus the client's truth inside this utterance, if any."""
        truths = [t for t in self.speech_truths if voice.start_ms <= t <= voice.end_ms + 3000]
        return float(voice.end_ms - truths[-1]) if truths else None

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
                                                             turn.spoken.first_audio_at),
                "voice_to_voice_ms": _ms_between(voice.speech_end_at, turn.spoken.first_audio_at),
                "stt_ms": voice.transcript.stt_ms,
                "speech_end_late_ms": self._speech_end_late(voice),
            }
            await self._send(p.TurnMetrics(data=p.TurnMetricsData(
                turn=turn.seq, speculative_hit=voice.speculative_hit,
                turn_end=voice.turn_end, preemptive=turn.preemptive,
                preemptive_discarded=turn.preemptive_discarded, **figures)))
        self.services.metrics.observe_ms(figures)
        return {k: v for k, v in figures.items() if v is not None}



def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _ms_between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else _ms(end - start)
