"""The counterpart of a session: its scenario, where the conversation stands, its rapport.

For each turn it resolves the scenario live (operators' edits apply from the next turn;
while the database cannot be reached, the last version it read), picks the next beat,
composes the layered prompt, and afterwards moves rapport by the model's own tag, putting
the session on hold when rapport reaches 0. It holds state in memory only: the session's
owner writes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gateway.catalog import LiveCatalog
from gateway.session.journal import is_unreachable
from gateway.storage import SessionRecord, Store
from scenarios import rapport as rapport_
from scenarios.beats import BeatPosition, NextBeat, next_beat
from scenarios.models import Persona, Scenario
from scenarios.prompts import PromptContext, compose_prompt

log = logging.getLogger(__name__)
CATALOG_TIMEOUT_S = 3.0


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
    def __init__(self, record: SessionRecord, store: Store,
                 last_read: tuple[Scenario, Persona] | None = None) -> None:
        self.session_id = record.id
        self.scenario_id = record.scenario
        self.language = record.language
        self.rapport = record.rapport
        self.position = BeatPosition(record.beat_index, record.beat_followed_up)
        self.status = record.status
        self.catalog = LiveCatalog(store)
        self._last_read = last_read

    @property
    def on_hold(self) -> bool:
        return self.status == "on_hold"

    async def scenario(self) -> tuple[Scenario, Persona]:
        """The session's scenario as the catalog has it now; the last version read while the
        database is unreachable."""
        try:
            async with asyncio.timeout(CATALOG_TIMEOUT_S):
                self._last_read = await self.catalog.scenario(self.scenario_id)
        except Exception as error:
            if self._last_read is None or not is_unreachable(error):
                raise
            log.warning("session %s: catalog unreachable (%s); using the scenario as last read",
                        self.session_id, type(error).__name__)
        return self._last_read

    def plan(self, scenario_and_persona: tuple[Scenario, Persona], message: str,
             emotion: str) -> TurnPlan:
        """The next beat and the composed prompt for this turn, with the scenario as read."""
        scenario, persona = scenario_and_persona
        upcoming = next_beat(scenario, self.position, message)
        prompt = compose_prompt(PromptContext(
            scenario=scenario, persona=persona, language=self.language, emotion=emotion,
            rapport=self.rapport if scenario.rapport else None, beat=upcoming.beat,
            follow_up=upcoming.follow_up))
        return TurnPlan(scenario, persona, upcoming, prompt)

    def opening_line(self, scenario: Scenario) -> str:
        return scenario.opening_line.in_(self.language)

    def conclude(self, plan: TurnPlan, tag_delta: float | None) -> RapportChange | None:
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
        return change
