"""Rapport: 0.0-1.0 in five stages, moved by the counterpart's own judgement after each turn.

The model appends a machine-readable tag such as `[[rapport:+0.2]]` to its reply; the
gateway strips it from the stream (even when it is split across chunks) so it never
reaches the user's text or audio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

START = 0.5
MIN_DELTA, MAX_DELTA = -0.1, 0.3
TAG = re.compile(r"\[\[\s*rapport\s*:\s*([+-]?\d+(?:\.\d+)?)\s*\]\]")
_TAG_PREFIX = "[[rapport:"
_MAX_TAG_CHARS = 32

STAGE_STYLE = {
    1: {"en": "Stage 1 of 5: formal and distant. Keep it short and businesslike.",
        "ko": "5단계 중 1단계: 격식 있고 거리감 있게. 짧고 사무적으로 말한다."},
    2: {"en": "Stage 2 of 5: polite and a little more personal.",
        "ko": "5단계 중 2단계: 공손하지만 조금 더 개인적으로."},
    3: {"en": "Stage 3 of 5: warm and familiar.",
        "ko": "5단계 중 3단계: 따뜻하고 친근하게."},
    4: {"en": "Stage 4 of 5: close; you trust the user.",
        "ko": "5단계 중 4단계: 가깝게. 사용자를 신뢰한다."},
    5: {"en": "Stage 5 of 5: as warm as you get.",
        "ko": "5단계 중 5단계: 가장 따뜻하게."},
}


def stage(value: float) -> int:
    """1 (0.0-0.2) ... 5 (0.8-1.0)."""
    return min(5, int(value * 5) + 1)


def clamp_delta(delta: float) -> float:
    return max(MIN_DELTA, min(MAX_DELTA, delta))


def apply(value: float, delta: float) -> float:
    return round(max(0.0, min(1.0, value + clamp_delta(delta))), 3)


@dataclass
class TagStripper:
    """Removes rapport tags from a text stream; keeps back only what could be a tag's start."""

    held: str = ""
    delta: float | None = None

    def push(self, chunk: str) -> str:
        text = self._take_tags(self.held + chunk)
        self.held = ""
        for start in range(max(0, len(text) - _MAX_TAG_CHARS), len(text)):
            if text[start] == "[" and _could_be_tag(text[start:]):
                self.held, text = text[start:], text[:start]
                break
        return text

    def flush(self) -> str:
        text, self.held = self._take_tags(self.held), ""
        return text

    def _take_tags(self, text: str) -> str:
        for match in TAG.finditer(text):
            self.delta = clamp_delta(float(match.group(1)))
        return TAG.sub("", text)


def _could_be_tag(tail: str) -> bool:
    """Whether `tail` (starting with '[') may still grow into a complete tag."""
    squashed = tail.replace(" ", "")
    if len(squashed) <= len(_TAG_PREFIX):
        return _TAG_PREFIX.startswith(squashed)
    return squashed.startswith(_TAG_PREFIX) and "]]" not in squashed and len(tail) < _MAX_TAG_CHARS
