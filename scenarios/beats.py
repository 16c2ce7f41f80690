"""Which beat comes next: walk the scenario's beats, asking a follow-up once on a vague answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scenarios.models import Beat, Scenario

_VAGUE = re.compile(r"\b(i\s+don'?t\s+know|not\s+sure|maybe|i\s+guess|whatever|nothing)\b|"
                    r"잘\s*모르|글쎄|모르겠|그냥요?$|별로", re.IGNORECASE)


def is_vague(answer: str) -> bool:
    """Too short to be specific, or a non-answer."""
    words = answer.split()
    return len(words) < 5 or bool(_VAGUE.search(answer.strip()))


@dataclass(frozen=True)
class BeatPosition:
    """The beat whose answer is awaited, and whether its follow-up was already asked."""

    index: int = 0
    followed_up: bool = False


@dataclass(frozen=True)
class NextBeat:
    beat: Beat | None          # None once every beat has been covered
    follow_up: bool
    position: BeatPosition     # where the conversation stands after this turn


def next_beat(scenario: Scenario, position: BeatPosition, answer: str) -> NextBeat:
    beats = scenario.beats
    if scenario.kind == "counseling":  # reflective questions, round and round
        index = position.index % len(beats)
        return NextBeat(beats[index], False, BeatPosition(position.index + 1))
    current = beats[position.index] if position.index < len(beats) else None
    if current is not None and current.follow_up and not position.followed_up and is_vague(answer):
        return NextBeat(current, True, BeatPosition(position.index, followed_up=True))
    upcoming = position.index + 1
    beat = beats[upcoming] if upcoming < len(beats) else None
    return NextBeat(beat, False, BeatPosition(min(upcoming, len(beats))))
