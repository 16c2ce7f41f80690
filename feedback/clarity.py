"""Clarity: ASR confidence, repetitions and restarts, hedges, very long sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedback.types import Turn, normalize

LOW_CONFIDENCE = 0.5
LONG_SENTENCE = {"en": 35, "ko": 25}  # words / 어절
HEDGES = {
    "en": re.compile(r"\b(i guess|kind of|kinda|maybe|sort of|sorta|i suppose|probably|perhaps)\b",
                     re.IGNORECASE),
    "ko": re.compile(r"(ㄹ|을|는|은|ㄴ)?\s*것\s*같(아|습|네|다|은데)|\b좀\b|약간|아마"),
}
_SENTENCE = re.compile(r"(?<=[.!?。？！])\s+")


@dataclass(frozen=True)
class ClarityReport:
    mean_probability: float | None
    low_confidence_share: float | None
    low_confidence_words: tuple[int, ...]
    repetitions: tuple[int, ...]   # index of the repeated word
    restarts: tuple[int, ...]      # index of the abandoned word ("went-")
    hedges: tuple[str, ...]
    hedges_per_100: float
    long_sentences: int


def measure_clarity(turn: Turn) -> ClarityReport:
    words = turn.words
    norm = [normalize(w.text) for w in words]
    probabilities = [w.probability for w in words if w.probability is not None]
    low = tuple(i for i, w in enumerate(words)
                if w.probability is not None and w.probability < LOW_CONFIDENCE)
    repetitions = tuple(i for i in range(1, len(norm)) if norm[i] and norm[i] == norm[i - 1])
    restarts = tuple(i for i, w in enumerate(words) if re.search(r"\w[-–—]$", w.text))
    hedges = tuple(m.group(0) for m in HEDGES[turn.language].finditer(turn.text))
    count = sum(1 for w in norm if w)
    limit = LONG_SENTENCE[turn.language]
    long_sentences = sum(1 for s in _SENTENCE.split(turn.text) if len(s.split()) > limit)
    return ClarityReport(
        mean_probability=round(sum(probabilities) / len(probabilities), 3) if probabilities else None,
        low_confidence_share=round(len(low) / len(probabilities), 3) if probabilities else None,
        low_confidence_words=low, repetitions=repetitions, restarts=restarts, hedges=hedges,
        hedges_per_100=round(len(hedges) / count * 100, 2) if count else 0.0,
        long_sentences=long_sentences,
    )
