"""Feedback in the gateway: live after each turn, and the report when a session ends.

The feedback library is pure; here its inputs are built from stored turns (words with
times and VAD stretches for voice, plain text otherwise) and its work runs in a worker
thread. A report is a function of what is stored, so regenerating it gives the same numbers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from audio.align import word_spans
from audio.stt import Transcript
from audio.types import Int16Array
from feedback.acoustic import hesitations, refine_voiced
from feedback.analyze import analyze_turn
from feedback.progress import ScoredSession, scored, since_last_time
from feedback.report import Recording, ReportTurn, build_report
from feedback.report_html import render_counseling_html, render_html
from feedback.types import Expectations, Hesitation, Language, Span, Turn, Word
from gateway.catalog import CatalogError, LiveCatalog
from gateway.llm import ChatMessage, LLMRequest, with_idle_timeout
from gateway.services import Services
from gateway.storage import SessionRecord, TurnRecord
from scenarios.models import Scenario

log = logging.getLogger(__name__)

SUMMARY_TIMEOUT_S = 20.0


def expectations(scenario: Scenario) -> Expectations:
    weights = scenario.feedback_weights
    return Expectations(
        register_ko=tuple(scenario.expected_register.ko),
        weights={"fillers": weights.fillers, "pace": weights.pace, "pauses": weights.pauses,
                 "clarity": weights.clarity, "politeness": weights.politeness},
        penalize_pauses=weights.penalize_pauses,
        hedges_matter=weights.penalize_hedges,
    )


async def speech_record(transcript: Transcript, voiced: tuple[tuple[int, int], ...],
                        audio: Int16Array | None, audio_start_ms: int,
                        session_language: str, workers: Executor) -> dict[str, Any]:
    """What a voice turn's feedback is computed from, as stored with the turn: the words,
    the VAD's voiced stretches, and the stretches of voice no word claims with how much
    each sounds like a filled pause (`feedback.acoustic`, from the turn's audio; English
    words are first aligned to the sound, `audio.align`); the voiced stretches are tightened
    to the sound, so pauses are measured where they are. The analysis runs on `workers`,
    the speech engines' `evidence` pool."""
    words = [{"word": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms,
              "probability": w.probability} for w in transcript.words]
    record: dict[str, Any] = {"words": words, "voiced": [list(v) for v in voiced],
                              "language": transcript.language}
    if audio is None or not len(audio):
        return record
    heard = tuple(Word(w.text, w.start_ms, w.end_ms, w.probability) for w in transcript.words)
    language = feedback_language(session_language, record)

    def analyse() -> tuple[tuple[tuple[int, int], ...], tuple[Hesitation, ...]]:
        return (refine_voiced(audio, voiced, offset_ms=audio_start_ms),
                unclaimed_stretches(audio, heard, language, offset_ms=audio_start_ms))

    try:
        refined, found = await asyncio.get_running_loop().run_in_executor(workers, analyse)
    except Exception as error:  # the turn is stored with what the VAD and STT gave
        log.warning("acoustic evidence failed (%s): the turn keeps the VAD's stretches",
                    type(error).__name__)
        return record
    # Pauses and pace from where the sound is, not where the VAD's frames say (see
    # bench/pace_truth.py); the VAD's own stretches are kept beside them.
    record["vad_voiced"] = record["voiced"]
    record["voiced"] = [list(v) for v in refined]
    record["hesitations"] = [dataclasses.asdict(h) for h in found]
    return record


def unclaimed_stretches(audio: Int16Array, words: Sequence[Word], language: str, *,
                        offset_ms: int = 0) -> tuple[Hesitation, ...]:
    """The stretches of voice no recognised word claims (`feedback.acoustic.hesitations`),
    English words first placed on their sound (`audio.align`), or where that fails, at
    Whisper's own times. Blocking (alignment and the features): for a worker thread. The
    benchmarks measure the fillers through this too (`bench/filler_set.heard`)."""
    try:
        aligned = word_spans(audio, [w.text for w in words], language, offset_ms=offset_ms)
    except Exception as error:  # Whisper's own word times, then
        log.warning("forced alignment failed (%s): Whisper's word times are used",
                    type(error).__name__)
        aligned = None
    return hesitations(audio, words, language, offset_ms=offset_ms, aligned=aligned)


def feedback_language(session_language: str, speech: dict[str, Any] | None) -> Language:
    """The session's language; for `auto`, the one the recogniser heard."""
    if session_language in ("ko", "en"):
        return "en" if session_language == "en" else "ko"
    heard = str((speech or {}).get("language") or "")
    return "en" if heard.startswith("en") else "ko"


def feedback_turn(message: str, language: str, speech: dict[str, Any] | None) -> Turn:
    lang = feedback_language(language, speech)
    if not speech or not speech.get("words"):
        return Turn.from_text(message, lang)
    words = tuple(Word(w["word"], w["start_ms"], w["end_ms"], w.get("probability"))
                  for w in speech["words"])
    voiced = tuple(Span(a, b) for a, b in speech.get("voiced", ()))
    stretches = speech.get("hesitations")
    heard = None if stretches is None else tuple(Hesitation(**h) for h in stretches)
    return Turn(words, lang, voiced, "voice", hesitations=heard)


def session_language(record: SessionRecord, turns: list[TurnRecord]) -> Language:
    spoken = [t.speech for t in turns if t.speech]
    return feedback_language(record.language, spoken[-1] if spoken else None)


async def turn_feedback(scenario: Scenario, message: str, language: str,
                        speech: dict[str, Any] | None) -> dict[str, Any]:
    turn = feedback_turn(message, language, speech)
    result = await asyncio.to_thread(analyze_turn, turn, expectations(scenario))
    return result.as_json()


async def generate_report(services: Services, record: SessionRecord) -> dict[str, Any]:
    """Build the report of an ended session from what is stored (and a summary from a real
    model); store it. The owner calls this once its journal has written everything."""
    turns = [t for t in await services.store.all_turns(record.id) if t.user_message]
    catalog = LiveCatalog(services.store)
    try:
        scenario, _ = await catalog.scenario(record.scenario)
    except CatalogError:
        scenario, _ = await catalog.scenario("counseling")
    language = session_language(record, turns)
    recorded = await services.store.recordings(record.id)
    inputs = [ReportTurn(t.seq, feedback_turn(t.user_message, language, t.speech), t.ai_reply,
                         Recording(recorded[t.seq].start_ms, recorded[t.seq].duration_ms)
                         if t.seq in recorded else None)
              for t in turns]
    report = await asyncio.to_thread(build_report, inputs, expectations(scenario), language)
    report.update(session_id=record.id, scenario=scenario.id,
                  scenario_title=scenario.title.in_(language))
    summary = await _summary(services, report, language)
    if summary:
        report["summary"] = summary
    report["kind"] = scenario.kind
    report["emotions"] = [{"turn": t.seq, "emotion": t.emotion} for t in turns]
    if scored(report):
        earlier = [s for s in await scored_sessions(services, record.owner)
                   if s.scenario == scenario.id and s.session_id != record.id
                   and s.created_at < record.created_at]
        if earlier:
            current = ScoredSession.from_report(record.id, record.created_at, report)
            report["since_last_time"] = since_last_time(earlier[-1], current)
    # Counseling ends with a gentle summary, not a score card.
    render = render_counseling_html if scenario.kind == "counseling" else render_html
    html = await asyncio.to_thread(render, report, report["scenario_title"])
    await services.store.save_report(record.id, report, html)
    log.info("session %s ended: %d turns, overall %s", record.id, len(turns), report["overall"])
    return report


async def scored_sessions(services: Services, owner: str) -> list[ScoredSession]:
    """The owner's ended practice sessions with a score card, oldest first."""
    return [ScoredSession.from_report(session_id, created_at, report)
            for session_id, created_at, report in await services.store.reports_of(owner)
            if scored(report)]


async def _summary(services: Services, report: dict[str, Any], language: str) -> str | None:
    """A short written summary, only from a real language model."""
    if not services.llm.is_language_model or not report["turns"]:
        return None
    figures = {k: report[k] for k in ("scores", "overall", "fillers", "pace", "pauses")}
    instruction = (
        "You are a supportive speaking coach. In 2-3 sentences, summarise how the user came "
        "across in this practice session, using only the figures given. Name one strength "
        "and one concrete thing to try next. Never judge the person. Plain text, no lists. "
        f"Write in {'English' if language == 'en' else 'Korean'}.")
    request = LLMRequest(system=instruction, messages=[ChatMessage("user", str(figures))],
                         language=language)
    parts: list[str] = []
    try:
        async with asyncio.timeout(SUMMARY_TIMEOUT_S):
            async for delta in with_idle_timeout(services.llm.stream(request), SUMMARY_TIMEOUT_S):
                parts.append(delta)
    except Exception as error:  # a report never fails for want of a summary
        log.warning("report summary skipped: %s", type(error).__name__)
        return None
    return "".join(parts).strip() or None
