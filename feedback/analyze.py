"""One turn in, its feedback out: metrics with evidence, scores, overall, tips, highlights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feedback import scores as s
from feedback.clarity import ClarityReport, measure_clarity
from feedback.fillers import FillerReport, detect_fillers
from feedback.pace import PaceReport, measure_pace
from feedback.pauses import PauseReport, find_pauses
from feedback.politeness import (
    EnglishPoliteness,
    KoreanPoliteness,
    english_politeness,
    korean_politeness,
)
from feedback.types import Expectations, Turn, jsonable


@dataclass(frozen=True)
class TurnFeedback:
    fillers: FillerReport
    pace: PaceReport | None
    pauses: PauseReport | None
    clarity: ClarityReport
    politeness: KoreanPoliteness | EnglishPoliteness
    scores: dict[str, int | None]
    overall: int | None
    tips: dict[str, str]

    def highlights(self) -> dict[str, Any]:
        """Where to look in the transcript: word indexes and stream times."""
        return {
            "fillers": [{"text": f.text, "word_index": f.word_index, "start_ms": f.start_ms,
                         "end_ms": f.end_ms, "kind": f.kind, "confidence": f.confidence}
                        for f in self.fillers.fillers],
            "long_pauses": [{"start_ms": p.start_ms, "end_ms": p.end_ms, "after_word": w}
                            for p, w in zip(self.pauses.long_pauses, self.pauses.after_word,
                                            strict=True)] if self.pauses else [],
            "low_confidence_words": list(self.clarity.low_confidence_words),
            "repetitions": list(self.clarity.repetitions),
            "restarts": list(self.clarity.restarts),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "metrics": jsonable({"fillers": self.fillers, "pace": self.pace,
                                 "pauses": self.pauses, "clarity": self.clarity,
                                 "politeness": self.politeness}),
            "scores": self.scores, "overall": self.overall, "tips": self.tips,
            "highlights": self.highlights(),
        }


def analyze_turn(turn: Turn, expect: Expectations) -> TurnFeedback:
    fillers = detect_fillers(turn)
    pace = measure_pace(turn)
    pauses = find_pauses(turn)
    clarity = measure_clarity(turn)
    politeness: KoreanPoliteness | EnglishPoliteness
    if turn.language == "ko":
        politeness = korean_politeness(turn.text, expect.register_ko)
        polite_score = s.korean_politeness_score(politeness)
    else:
        politeness = english_politeness(turn.text)
        polite_score = s.english_politeness_score(politeness)
    if not expect.weights.get("politeness", 1.0):
        polite_score = None  # a scenario that does not weigh politeness (counseling) never grades it
    scores: dict[str, int | None] = {
        "fillers": s.filler_score(fillers),
        "pace": s.pace_score(pace) if pace else None,
        "pauses": s.pause_score(pauses, expect.penalize_pauses) if pauses else None,
        "clarity": s.clarity_score(clarity, expect.hedges_matter),
        "politeness": polite_score,
    }
    tips = {
        "fillers": s.tip("fillers", scores["fillers"], turn.language),
        "clarity": s.tip("clarity", scores["clarity"], turn.language),
    }
    if polite_score is not None:
        tips["politeness"] = s.tip("politeness", polite_score, turn.language)
    if pace is not None:
        z = s.pace_z(pace)
        tips["pace"] = s.tip("pace", scores["pace"], turn.language,
                             detail="fast" if z is not None and z > 0 else "slow")
    if pauses is not None:
        tips["pauses"] = s.tip("pauses", scores["pauses"], turn.language,
                               detail="work" if expect.penalize_pauses else "never")
    return TurnFeedback(fillers, pace, pauses, clarity, politeness, scores,
                        s.overall(scores, expect.weights), tips)
