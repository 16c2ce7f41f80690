"""The session report: every turn's metrics aggregated with the same formulas, plus the
evidence a person needs (pace over time, filler counts by word, an annotated transcript).

A pure function of the stored turns: regenerating a report gives the same numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from feedback import scores as s
from feedback.analyze import TurnFeedback, analyze_turn
from feedback.clarity import ClarityReport
from feedback.fillers import FillerReport, filler_report
from feedback.pace import NORMS, PaceReport, PaceWindow
from feedback.pauses import PauseReport
from feedback.politeness import EnglishPoliteness, KoreanPoliteness
from feedback.types import Expectations, Turn


@dataclass(frozen=True)
class Recording:
    """Where a turn's recorded voice lies in the session's audio stream."""

    start_ms: int
    duration_ms: int


@dataclass(frozen=True)
class ReportTurn:
    seq: int
    turn: Turn
    reply: str
    recording: Recording | None = None  # the user's voice, kept with their consent


def build_report(turns: list[ReportTurn], expect: Expectations, language: str) -> dict[str, Any]:
    analysed = [(t, analyze_turn(t.turn, expect)) for t in turns]
    feedbacks = [f for _, f in analysed]
    fillers = _fillers(feedbacks)
    pace = _pace(feedbacks, language)
    pauses = _pauses(feedbacks)
    clarity = _clarity(feedbacks)
    if language == "ko":
        kp = _korean(feedbacks, expect)
        politeness_score = s.korean_politeness_score(kp) if kp else None
        politeness: dict[str, Any] = {
            "sentences": len(kp.sentences) if kp else 0,
            "levels": dict(Counter(x.level or "unknown" for x in kp.sentences)) if kp else {},
            "expected": list(expect.register_ko),
            "matching_share": kp.matching_share if kp else None,
            "switches": kp.switches if kp else 0,
            "honorific_markers": len(kp.honorific_markers) if kp else 0}
    else:
        ep = EnglishPoliteness(tuple(x for f in feedbacks if isinstance(f.politeness, EnglishPoliteness)
                                     for x in f.politeness.strategies))
        politeness_score = s.english_politeness_score(ep) if feedbacks else None
        politeness = {"polite": dict(Counter(x.name for x in ep.strategies if x.polite)),
                      "impolite": dict(Counter(x.name for x in ep.strategies if not x.polite))}
    scores: dict[str, int | None] = {
        "fillers": s.filler_score(fillers) if fillers.words else None,
        "pace": s.pace_score(pace) if pace else None,
        "pauses": s.pause_score(pauses, expect.penalize_pauses) if pauses else None,
        "clarity": s.clarity_score(clarity, expect.hedges_matter) if feedbacks else None,
        "politeness": politeness_score,
    }
    z = s.pace_z(pace) if pace else None
    details = {"pace": "fast" if z is not None and z > 0 else "slow",
               "pauses": "work" if expect.penalize_pauses else "never"}
    tips = {name: s.tip(name, score, language, detail=details.get(name, "work"))
            for name, score in scores.items() if score is not None}
    return {
        "language": language,
        "turns": len(turns),
        "scores": scores,
        "overall": s.overall(scores, expect.weights),
        "weights": expect.weights,
        "tips": tips,
        "fillers": {"count": sum(fillers.by_word.values()), "per_100": fillers.per_100,
                    "probable_unrecognised": sum(1 for f in fillers.fillers if f.kind == "acoustic"),
                    "by_word": fillers.by_word, "clusters": len(fillers.clusters),
                    "unit": "words" if language == "en" else "어절"},
        "pace": None if pace is None else {
            "unit": pace.unit, "articulation_rate": pace.articulation_rate,
            "speech_rate": pace.speech_rate, "norm": pace.norm, "norm_sd": pace.norm_sd,
            "windows": [{"start_ms": w.start_ms, "rate": w.rate} for w in pace.windows]},
        "pauses": None if pauses is None else {
            "count": len(pauses.pauses), "long": len(pauses.long_pauses),
            "longest_ms": pauses.longest_ms, "penalized": expect.penalize_pauses},
        "clarity": {"mean_probability": clarity.mean_probability,
                    "low_confidence_share": clarity.low_confidence_share,
                    "repetitions": len(clarity.repetitions), "restarts": len(clarity.restarts),
                    "hedges_per_100": clarity.hedges_per_100,
                    "long_sentences": clarity.long_sentences},
        "politeness": politeness,
        "transcript": [_transcript_turn(t, f) for t, f in analysed],
    }


def _fillers(feedbacks: list[TurnFeedback]) -> FillerReport:
    return filler_report(tuple(x for f in feedbacks for x in f.fillers.fillers),
                         sum(f.fillers.words for f in feedbacks))


def _pace(feedbacks: list[TurnFeedback], language: str) -> PaceReport | None:
    paces = [f.pace for f in feedbacks if f.pace is not None]
    if not paces:
        return None
    norm, sd, unit = NORMS["en" if language == "en" else "ko"]
    units = sum(p.units for p in paces)
    speech_ms = sum(p.speech_ms for p in paces)
    voiced_ms = sum(p.voiced_ms for p in paces)
    factor = 60 if language == "en" else 1

    def rate(ms: int) -> float | None:
        return round(units / (ms / 1000) * factor, 2) if ms > 0 and units > 0 else None

    windows: tuple[PaceWindow, ...] = tuple(w for p in paces for w in p.windows)
    return PaceReport(unit, units, speech_ms, voiced_ms, rate(speech_ms), rate(voiced_ms),
                      windows, norm, sd)


def _pauses(feedbacks: list[TurnFeedback]) -> PauseReport | None:
    reports = [f.pauses for f in feedbacks if f.pauses is not None]
    if not reports:
        return None
    return PauseReport(tuple(p for r in reports for p in r.pauses),
                       tuple(p for r in reports for p in r.long_pauses),
                       max(r.longest_ms for r in reports),
                       tuple(i for r in reports for i in r.after_word))


def _clarity(feedbacks: list[TurnFeedback]) -> ClarityReport:
    probabilities = [f.clarity.mean_probability for f in feedbacks
                     if f.clarity.mean_probability is not None]
    shares = [f.clarity.low_confidence_share for f in feedbacks
              if f.clarity.low_confidence_share is not None]
    words = sum(f.fillers.words for f in feedbacks)
    hedges = tuple(h for f in feedbacks for h in f.clarity.hedges)
    return ClarityReport(
        mean_probability=round(sum(probabilities) / len(probabilities), 3) if probabilities else None,
        low_confidence_share=round(sum(shares) / len(shares), 3) if shares else None,
        low_confidence_words=(), hedges=hedges,
        repetitions=tuple(i for f in feedbacks for i in f.clarity.repetitions),
        restarts=tuple(i for f in feedbacks for i in f.clarity.restarts),
        hedges_per_100=round(len(hedges) / words * 100, 2) if words else 0.0,
        long_sentences=sum(f.clarity.long_sentences for f in feedbacks),
    )


def _korean(feedbacks: list[TurnFeedback], expect: Expectations) -> KoreanPoliteness | None:
    parts = [f.politeness for f in feedbacks if isinstance(f.politeness, KoreanPoliteness)]
    if not parts:
        return None
    sentences = tuple(x for p in parts for x in p.sentences)
    levels = [x.level for x in sentences if x.level]
    matching = sum(1 for level in levels if level in expect.register_ko)
    return KoreanPoliteness(sentences, tuple(m for p in parts for m in p.honorific_markers),
                            expect.register_ko,
                            round(matching / len(levels), 3) if levels else None,
                            sum(p.switches for p in parts))


def _transcript_turn(turn: ReportTurn, feedback: TurnFeedback) -> dict[str, Any]:
    filler_words: set[int] = set()
    for filler in feedback.fillers.fillers:
        if filler.word_index is not None:
            span = len(filler.text.split())
            filler_words.update(range(filler.word_index, filler.word_index + span))
    pauses_after = set(feedback.pauses.after_word) if feedback.pauses else set()
    low = set(feedback.clarity.low_confidence_words)
    result: dict[str, Any] = {
        "seq": turn.seq, "source": turn.turn.source, "reply": turn.reply,
        "overall": feedback.overall,
        "words": [{"text": w.text, "filler": i in filler_words, "low_confidence": i in low,
                   "long_pause_after": i in pauses_after, "start_ms": w.start_ms}
                  for i, w in enumerate(turn.turn.words)],
    }
    if turn.recording is not None:
        result["recording"] = {"start_ms": turn.recording.start_ms,
                               "duration_ms": turn.recording.duration_ms,
                               "markers": markers(feedback, turn.recording)}
    return result


def markers(feedback: TurnFeedback, recording: Recording) -> list[dict[str, Any]]:
    """The moments to hear again in a recorded answer, in clip time (ms from its start):
    each filler, each long pause, and the pace of each stretch of speech, in time order."""
    def clip(ms: int) -> int:
        return max(0, min(recording.duration_ms, ms - recording.start_ms))

    found: list[dict[str, Any]] = []
    for filler in feedback.fillers.fillers:
        if filler.start_ms is not None and filler.end_ms is not None:
            found.append({"kind": "filler", "at_ms": clip(filler.start_ms),
                          "end_ms": clip(filler.end_ms), "label": filler.text,
                          "confidence": filler.confidence})
    for pause in feedback.pauses.long_pauses if feedback.pauses else ():
        found.append({"kind": "long_pause", "at_ms": clip(pause.start_ms),
                      "end_ms": clip(pause.end_ms), "label": f"{pause.ms / 1000:.1f} s"})
    pace = feedback.pace
    if pace is not None:
        speech_end = pace.windows[0].start_ms + pace.speech_ms if pace.windows else 0
        for index, window in enumerate(pace.windows):
            following = pace.windows[index + 1].start_ms if index + 1 < len(pace.windows) else None
            z = (window.rate - pace.norm) / pace.norm_sd
            found.append({"kind": "pace", "at_ms": clip(window.start_ms),
                          "end_ms": clip(following if following is not None else speech_end),
                          "label": f"{window.rate:g} {pace.unit}",
                          "tone": "fast" if z > 1 else "slow" if z < -1 else "steady"})
    return sorted(found, key=lambda m: (m["at_ms"], m["kind"]))
