"""The model's reply to one accepted turn, as a stage.

It composes the layered prompt from the counterpart's plan and the history the owner
handed it (held in memory: the model never waits on the database mid-turn), streams the
model, strips rapport tags, and puts `ReplyText` events into the owner's inbox, then
`ReplyDone` when the provider said it finished, or `ReplyFailed`. It never sends on the
socket and never writes the record: the owner does both, with what was really sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from gateway.counterpart import Counterpart, TurnPlan
from gateway.llm import LLM, ChatMessage, LLMError, LLMRequest, with_idle_timeout
from gateway.session.events import Message, ReplyDone, ReplyFailed, ReplyText
from scenarios.models import Persona, Scenario
from scenarios.rapport import TagStripper

log = logging.getLogger(__name__)


def compose_request(plan: TurnPlan, counterpart: Counterpart, history: Sequence[tuple[str, str]],
                    first_turn: bool, message: str, emotion: str) -> LLMRequest:
    """The layered prompt, then the most recent finished turns, then the new message."""
    messages: list[ChatMessage] = []
    if plan.scenario.kind == "rehearsal" and first_turn:
        messages.append(ChatMessage("assistant", counterpart.opening_line(plan.scenario)))
    for user_message, ai_reply in history:
        messages.append(ChatMessage("user", user_message))
        if ai_reply:
            messages.append(ChatMessage("assistant", ai_reply))
    messages.append(ChatMessage("user", message))
    return LLMRequest(system=plan.system_prompt, messages=messages, language=counterpart.language,
                      emotion=emotion, scenario=plan.scenario.id,
                      extras={"plan": plan, "rapport": counterpart.rapport})


class Replying:
    """Generates the reply to turn `seq`; `task` runs it, cancelling it stops the model."""

    def __init__(self, seq: int, post: Callable[[Message], Awaitable[None]]) -> None:
        self.seq = seq
        self._post = post
        self.task: asyncio.Task[None] | None = None

    def start_model(self, llm: LLM, counterpart: Counterpart,
                    scenario: Awaitable[tuple[Scenario, Persona]],
                    history: Sequence[tuple[str, str]], first_turn: bool, message: str,
                    emotion: str, timeout_s: float) -> None:
        self.task = asyncio.create_task(
            self._model(llm, counterpart, scenario, tuple(history), first_turn, message, emotion,
                        timeout_s), name=f"reply-{self.seq}")

    def start_scripted(self, text: str) -> None:
        """A reply that needs no model (the safety reply)."""
        self.task = asyncio.create_task(self._scripted(text), name=f"reply-{self.seq}")

    async def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _scripted(self, text: str) -> None:
        await self._post(ReplyText(self.seq, text))
        await self._post(ReplyDone(self.seq, None, None))

    async def _model(self, llm: LLM, counterpart: Counterpart,
                     scenario: Awaitable[tuple[Scenario, Persona]],
                     history: Sequence[tuple[str, str]], first_turn: bool, message: str,
                     emotion: str, timeout_s: float) -> None:
        try:
            plan = counterpart.plan(await scenario, message, emotion)
        except Exception as error:
            log.exception("turn %d: the prompt could not be composed", self.seq)
            await self._post(ReplyFailed(self.seq, "internal_error",
                                         f"the reply could not be prepared ({type(error).__name__})"))
            return
        request = compose_request(plan, counterpart, history, first_turn, message, emotion)
        tags = TagStripper() if plan.tracks_rapport else None
        try:
            async for delta in with_idle_timeout(llm.stream(request), timeout_s):
                text = tags.push(delta) if tags else delta
                if text:
                    await self._post(ReplyText(self.seq, text))
            if tags is not None and (tail := tags.flush()):
                await self._post(ReplyText(self.seq, tail))
        except LLMError as error:
            await self._post(ReplyFailed(self.seq, error.code, str(error)))
            return
        await self._post(ReplyDone(self.seq, plan, tags.delta if tags else None))
