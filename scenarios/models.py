"""The scenario and persona catalog as validated data (built-in YAML, or operators' edits)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Language = Literal["ko", "en"]

# The shared trait list: a persona combines several.
Trait = Literal[
    "warm", "empathetic", "patient", "supportive", "friendly", "curious", "humorous",
    "formal", "reserved", "analytical", "direct", "blunt", "demanding", "impatient",
    "skeptical", "detail_oriented", "defensive", "anxious", "frustrated", "sensitive",
]
TRAITS: tuple[str, ...] = Trait.__args__  # type: ignore[attr-defined]

# Korean speech levels, by the sentence ending (issue 5 scores against these).
SpeechLevel = Literal["hasipsio", "haeyo", "hae", "haera"]
SPEECH_LEVEL_NAMES = {"hasipsio": "하십시오체", "haeyo": "해요체", "hae": "해체", "haera": "해라체"}

BeatKind = Literal[
    "opening", "motivation", "strengths_weaknesses", "conflict", "failure", "situational",
    "salary_availability", "questions_for_us", "report", "bad_news", "numbers", "next_steps",
    "apology", "boundary", "disagreement", "complaint", "resolution", "closing", "reflection",
]


def storable_text(value: Any) -> Any:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates), in strings and lists."""
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str):
            if "\x00" in text:
                raise ValueError("contains a NUL character")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("contains a lone surrogate (not valid Unicode text)") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _storable = field_validator("*", mode="after")(classmethod(
        lambda cls, value: storable_text(value)))


class Localized(_Strict):
    """The same text in Korean and English."""

    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def in_(self, language: str) -> str:
        return self.en if language == "en" else self.ko


class Persona(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: Localized
    role: Localized
    traits: list[Trait] = Field(min_length=1, max_length=6)
    description: Localized | None = None


class Beat(_Strict):
    """A question the counterpart asks, or a turn the conversation should take."""

    kind: BeatKind
    text: Localized
    follow_up: Localized | None = Field(None, description="Asked when the answer is vague")


class Register(_Strict):
    """The politeness the user is expected to use."""

    ko: list[SpeechLevel] = Field(min_length=1)
    en: Literal["formal", "neutral", "casual"]


class FeedbackWeights(_Strict):
    """How the feedback engine weighs each metric in this scenario (relative weights)."""

    fillers: float = Field(1.0, ge=0)
    pace: float = Field(1.0, ge=0)
    pauses: float = Field(1.0, ge=0)
    clarity: float = Field(1.0, ge=0)
    politeness: float = Field(1.0, ge=0)
    penalize_pauses: bool = True
    penalize_hedges: bool = Field(False, description="Hedges count against clarity "
                                                     "(interviews, reports)")

    @model_validator(mode="after")
    def _some_weight(self) -> FeedbackWeights:
        if not any((self.fillers, self.pace, self.pauses, self.clarity, self.politeness)):
            raise ValueError("at least one feedback weight must be above 0")
        return self


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    kind: Literal["counseling", "rehearsal"]
    title: Localized
    goal: Localized
    persona: str = Field(description="A persona id")
    situation: Localized = Field(description="What the counterpart knows and wants")
    opening_line: Localized
    closing_line: Localized = Field(description="Said when rapport reaches 0")
    beats: list[Beat] = Field(min_length=1)
    expected_register: Register
    feedback_weights: FeedbackWeights = Field(default_factory=FeedbackWeights)
    rapport: bool = Field(True, description="Whether the counterpart's rapport moves")
    informal_from_stage: int | None = Field(
        None, ge=3, le=5, description="Rapport stage from which the counterpart may use 반말")


class Catalog(_Strict):
    """Scenarios and the personas they name."""

    personas: dict[str, Persona]
    scenarios: dict[str, Scenario]

    @model_validator(mode="after")
    def _personas_exist(self) -> Catalog:
        for scenario in self.scenarios.values():
            if scenario.persona not in self.personas:
                raise ValueError(f"scenario {scenario.id!r} names unknown persona "
                                 f"{scenario.persona!r}")
        return self
