"""One small interface for every language model: a cancellable stream of text deltas."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class LLMRequest:
    """What a reply is generated from: the composed system prompt and the conversation.

    `messages` ends with the new user message. The remaining fields describe the
    situation for engines that do not read prompts (the offline scripted counterpart).
    """

    system: str
    messages: Sequence[ChatMessage]
    language: str = "ko"
    emotion: str = "neutral"
    scenario: str = "counseling"
    extras: dict[str, object] = field(default_factory=dict)


class LLMError(Exception):
    """A provider failure, with a reason fit to show the user and a stable code."""

    def __init__(self, reason: str, code: str = "llm_error") -> None:
        super().__init__(reason)
        self.code = code


def incomplete() -> LLMError:
    """The stream ended without the provider saying the reply was finished."""
    return LLMError("the language model's reply broke off before it was finished",
                    code="llm_incomplete")


class LLM(ABC):
    """A language model (or a stand-in) that streams a reply as text deltas."""

    provider: str
    model: str
    is_language_model: bool = True

    @abstractmethod
    def stream(self, request: LLMRequest) -> AsyncIterator[str]:
        """Yield the reply's text deltas; raise `LLMError` on failure, including a stream that
        ends without the provider's own end-of-reply signal (`incomplete()`): only a reply
        the provider finished may be stored as complete."""

    async def aclose(self) -> None:  # noqa: B027 (optional hook)
        """Release network clients."""


async def with_idle_timeout(stream: AsyncIterator[str], timeout_s: float) -> AsyncIterator[str]:
    """Re-yield `stream`, failing with `LLMError` when it stays silent for `timeout_s`."""
    iterator = aiter(stream)
    try:
        while True:
            try:
                async with asyncio.timeout(timeout_s):
                    delta = await anext(iterator)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise LLMError(f"the language model did not answer within {timeout_s:g} s") from None
            yield delta
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
