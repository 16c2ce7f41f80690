"""What the feedback functions read and return: plain values, each metric with its evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Language = Literal["ko", "en"]


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: int | None = None  # None for typed text
    end_ms: int | None = None
    probability: float | None = None


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Hesitation:
    """A voiced stretch no recognised word claims, with what its sound says about it:
    the probability that it is a filled pause, and the features that probability came from
    (see `feedback.acoustic`)."""

    start_ms: int
    end_ms: int
    probability: float
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Expectations:
    """What the scenario expects, from its catalog entry (kept free of scenario imports)."""

    register_ko: tuple[str, ...] = ("hasipsio", "haeyo")
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("fillers", "pace", "pauses", "clarity", "politeness"), 1.0))
    penalize_pauses: bool = True
    hedges_matter: bool = False  # interview and report scenarios


@dataclass(frozen=True)
class Turn:
    """One user turn: words (with times for voice), VAD voiced stretches, language."""

    words: tuple[Word, ...]
    language: Language
    voiced: tuple[Span, ...] = ()
    source: Literal["voice", "text"] = "text"
    # Stretches of voice no word claims, from the audio; None where it was not analysed.
    hesitations: tuple[Hesitation, ...] | None = None

    @property
    def timed(self) -> bool:
        return self.source == "voice" and all(w.start_ms is not None for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @classmethod
    def from_text(cls, text: str, language: Language) -> Turn:
        return cls(tuple(Word(t) for t in text.split()), language)


def normalize(token: str) -> str:
    """Lower case, without surrounding punctuation."""
    return re.sub(r"^[^\w가-힣]+|[^\w가-힣]+$", "", token.lower())


def jsonable(value: Any) -> Any:
    """Dataclasses (and tuples of them) as JSON-ready dicts/lists."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value
