"""Silent pauses (200 ms or more) and long pauses (1.2 s or more) inside an answer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from feedback.types import Span, Turn

PAUSE_MS = 200
LONG_PAUSE_MS = 1200


@dataclass(frozen=True)
class PauseReport:
    pauses: tuple[Span, ...]
    long_pauses: tuple[Span, ...]
    longest_ms: int
    after_word: tuple[int, ...]  # index of the word each long pause follows (-1 if unknown)


def find_pauses(turn: Turn) -> PauseReport | None:
    """Gaps between voiced stretches (VAD) or, without them, between words."""
    if not turn.timed:
        return None
    if len(turn.voiced) >= 1:
        stretches = sorted(turn.voiced, key=lambda s: s.start_ms)
    else:
        stretches = [Span(w.start_ms or 0, w.end_ms or 0) for w in turn.words]
    gaps = [Span(a.end_ms, b.start_ms) for a, b in itertools.pairwise(stretches)
            if b.start_ms - a.end_ms >= PAUSE_MS]
    long = tuple(g for g in gaps if g.ms >= LONG_PAUSE_MS)
    after = tuple(_word_before(turn, g.start_ms) for g in long)
    return PauseReport(tuple(gaps), long, max((g.ms for g in gaps), default=0), after)


def _word_before(turn: Turn, ms: int) -> int:
    index = -1
    for i, word in enumerate(turn.words):
        if (word.end_ms or 0) <= ms + 100:
            index = i
    return index
