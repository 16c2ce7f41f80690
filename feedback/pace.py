"""Pace: English words per minute, Korean syllables per second; speech rate (pauses
included) and articulation rate (voiced time only), overall and in 20 s windows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedback.fillers import FILLED_PAUSES
from feedback.types import Turn, normalize

WINDOW_MS = 20_000
# Norms: English conversational speech ~150 wpm (130-175); Korean 4.2 +/- 0.7 syllables/s.
NORMS = {"en": (150.0, 22.5, "wpm"), "ko": (4.2, 0.7, "syllables/s")}
_HANGUL = re.compile(r"[가-힣]")


@dataclass(frozen=True)
class PaceWindow:
    start_ms: int
    rate: float


@dataclass(frozen=True)
class PaceReport:
    unit: str
    units: float               # words (en) or syllables (ko)
    speech_ms: int             # first word start -> last word end
    voiced_ms: int
    speech_rate: float | None  # over speech_ms
    articulation_rate: float | None  # over voiced_ms
    windows: tuple[PaceWindow, ...]
    norm: float
    norm_sd: float


def units_in(text: str, language: str) -> float:
    """Words (English, filled pauses excluded) or Hangul syllables (Korean)."""
    if language == "ko":
        return float(len(_HANGUL.findall(text)))
    return float(sum(1 for t in text.split() if normalize(t) and normalize(t) not in
                     FILLED_PAUSES["en"]))


def _rate(units: float, ms: int, language: str) -> float | None:
    if ms <= 0 or units <= 0:
        return None
    per_second = units / (ms / 1000)
    return round(per_second * 60 if language == "en" else per_second, 2)


def measure_pace(turn: Turn) -> PaceReport | None:
    """None for typed text: pace needs time."""
    if not turn.timed or not turn.words:
        return None
    norm, sd, unit = NORMS[turn.language]
    units = units_in(turn.text, turn.language)
    start = min(w.start_ms or 0 for w in turn.words)
    end = max(w.end_ms or 0 for w in turn.words)
    voiced = sum(s.ms for s in turn.voiced) or sum(
        (w.end_ms or 0) - (w.start_ms or 0) for w in turn.words)
    windows: dict[int, float] = {}
    for word in turn.words:
        index = ((word.start_ms or 0) - start) // WINDOW_MS
        windows[index] = windows.get(index, 0.0) + units_in(word.text, turn.language)
    series = []
    for index in sorted(windows):
        window_start = start + index * WINDOW_MS
        length = min(WINDOW_MS, end - window_start)
        rate = _rate(windows[index], length, turn.language)
        if rate is not None:
            series.append(PaceWindow(window_start, rate))
    return PaceReport(unit, units, end - start, voiced, _rate(units, end - start, turn.language),
                      _rate(units, voiced, turn.language), tuple(series), norm, sd)
