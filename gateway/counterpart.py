"""The counterpart of a session: its scenario, where the conversation stands, its rapport.

For each turn it resolves the scenario live (operators' edits apply from the next turn),
picks the next beat, composes the layered prompt, and afterwards moves rapport by the
model's own tag, putting the session on hold when rapport reaches 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog import LiveCatalog
from gateway.storage import SessionRecord, Store
from scenarios import rapport as rapport_
from scenarios.beats import BeatPosition, NextBeat, next_beat
from scenarios.models import Persona, Scenario
from scenarios.prompts import PromptContext, compose_prompt


@dataclass(frozen=True)
class TurnPlan:
    """What the counterpart will do this turn."""

    scenario: Scenario
    persona: Persona
    next: NextBeat
    system_prompt: str

    @property
    def tracks_rapport(self) -> bool:
        return self.scenario.rapport


@dataclass(frozen=True)
class RapportChange:
    value: float
    stage: int
    change: float
    on_hold: bool
    closing_line: str | None


class Counterpart:
    def __init__(self, record: SessionRecord, store: Store) -> None:
        self.session_id = record.id
        self.scenario_id = record.scenario
        self.language = record.language
        self.rapport = record.rapport
        self.position = BeatPosition(record.beat_index, record.beat_followed_up)
        self.status = record.status
        self.store = store
        self.catalog = LiveCatalog(store)

    @property
    def on_hold(self) -> bool:
        return self.status == "on_hold"

    async def plan(self, message: str, emotion: str) -> TurnPlan:
        scenario, persona = await self.catalog.scenario(self.scenario_id)
        upcoming = next_beat(scenario, self.position, message)
        prompt = compose_prompt(PromptContext(
            scenario=scenario, persona=persona, language=self.language, emotion=emotion,
            rapport=self.rapport if scenario.rapport else None, beat=upcoming.beat,
            follow_up=upcoming.follow_up))
        return TurnPlan(scenario, persona, upcoming, prompt)

    def opening_line(self, scenario: Scenario) -> str:
        return scenario.opening_line.in_(self.language)

    async def conclude(self, plan: TurnPlan, tag_delta: float | None) -> RapportChange | None:
        """After a reply: advance the beat, move rapport by the model's tag, maybe hold."""
        self.position = plan.next.position
        change: RapportChange | None = None
        if plan.tracks_rapport:
            delta = tag_delta if tag_delta is not None else 0.0
            previous = self.rapport
            self.rapport = rapport_.apply(previous, delta)
            closing = None
            if self.rapport <= 0.0:
                self.status = "on_hold"
                closing = plan.scenario.closing_line.in_(self.language)
            change = RapportChange(self.rapport, rapport_.stage(self.rapport),
                                   round(self.rapport - previous, 3), self.on_hold, closing)
        await self.store.save_scenario_state(
            self.session_id, rapport=self.rapport, beat_index=self.position.index,
            beat_followed_up=self.position.followed_up, status=self.status)
        return change
