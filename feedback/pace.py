"""Pace: English words per minute, Korean syllables per second; speech rate (pauses
included) and articulation rate (voiced time only), overall and in 20 s windows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedback.fillers import filled_pause
from feedback.numbers import NUMERAL, say
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
    speech_ms: int             # first sound -> last (first word -> last, without the sound)
    voiced_ms: int
    speech_rate: float | None  # over speech_ms
    articulation_rate: float | None  # over voiced_ms
    windows: tuple[PaceWindow, ...]
    norm: float
    norm_sd: float


def units_in(text: str, language: str) -> float:
    """Words (English, filled pauses excluded) or Hangul syllables (Korean). Numerals count
    as they are said: Whisper writes "twenty percent" as "20%" (or "20 %"), "이십 퍼센트" as
    "20%"."""
    text = _SPACED_PERCENT.sub(r"\1%", text)
    if language == "ko":
        return float(len(_HANGUL.findall(text))
                     + sum(_spoken_number(m, "ko") for m in _NUMERAL.findall(text)))
    count = 0
    for token in text.split():
        numerals = _NUMERAL.findall(token)
        if numerals:
            count += sum(_spoken_number(m, "en") for m in numerals)
        elif (word := normalize(token)) and not filled_pause(word, "en"):
            count += 1
    return float(count)


_SPACED_PERCENT = re.compile(r"(\d)\s+%")
_NUMERAL = re.compile(rf"[$₩]?{NUMERAL.pattern}%?")
_KO_DIGIT_POSITIONS = (0, 1, 1, 1)  # 일/십/백/천: a position word after all but the ones


def _spoken_number(numeral: str, language: str) -> int:
    """Words (en) or syllables (ko) a numeral is read with: "20%" is "twenty percent"
    (2 words) or "이십 퍼센트" (5 syllables); "2021" is "twenty twenty-one" or "이천이십일"."""
    extra = 0
    if numeral.endswith("%"):
        extra += 1 if language == "en" else 3  # percent / 퍼센트
        numeral = numeral[:-1]
    if numeral[:1] in "$₩":
        extra += 1 if language == "en" else 1 if numeral[0] == "₩" else 2  # dollars / 원 / 달러
        numeral = numeral[1:]
    if language == "en":
        return len(say(numeral)) + extra
    numeral = re.sub(r"(st|nd|rd|th)$", "", numeral).replace(",", "")
    whole, _, decimals = numeral.partition(".")
    spoken = _ko_syllables(int(whole) if whole.isdigit() else 0)
    if decimals:
        spoken += 1 + len(decimals)  # 점, then digit by digit
    return spoken + extra


def _ko_syllables(value: int) -> int:
    """Syllables of a Sino-Korean number: 이천이십일 = 5; 일 is dropped before 십/백/천."""
    if value == 0:
        return 1  # 영
    syllables = 0
    group_index = 0
    while value:
        group, value = value % 10_000, value // 10_000
        if group == 1 and group_index == 1:
            syllables += 1  # 만, not 일만
        elif group:
            digits = [int(d) for d in str(group)[::-1]]
            for position, digit in enumerate(digits):
                if digit:
                    syllables += _KO_DIGIT_POSITIONS[position] + (
                        0 if digit == 1 and position > 0 else 1)
            syllables += 1 if group_index else 0  # 만, 억
        group_index += 1
    return syllables


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
    if turn.voiced:
        # From the first sound to the last: Whisper starts the first word where the audio
        # it was given starts, pre-roll and all (~340 ms early on every answer of
        # bench/pace_truth.py), which put the speech rate 5.6 % off at the median.
        start = min(s.start_ms for s in turn.voiced)
        end = max(s.end_ms for s in turn.voiced)
    else:
        start = min(w.start_ms or 0 for w in turn.words)
        end = max(w.end_ms or 0 for w in turn.words)
    voiced = sum(s.ms for s in turn.voiced) or sum(
        (w.end_ms or 0) - (w.start_ms or 0) for w in turn.words)
    windows: dict[int, float] = {}
    last = max(0, end - start - 1)
    for word in turn.words:  # a word timed outside the sound counts in the nearest window
        index = min(max(0, (word.start_ms or 0) - start), last) // WINDOW_MS
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
