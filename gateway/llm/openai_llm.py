"""OpenAI chat completions (or any OpenAI-compatible server) with streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletionChunk

from gateway.llm.base import LLM, LLMError, LLMRequest, incomplete


def _note_done(stream: AsyncStream[ChatCompletionChunk]) -> list[bool]:
    """Watch the SDK's raw events for the `[DONE]` sentinel, which the SDK swallows; the
    returned flag turns true when it arrives. (A subclass of the stream would do the same,
    but costs the SDK ~0.4 ms per chunk in its type handling.)"""
    seen = [False]
    events = stream._iter_events

    async def noting() -> Any:
        async for event in events():
            if event.data.startswith("[DONE]"):
                seen[0] = True
            yield event

    stream._iter_events = noting  # type: ignore[method-assign]
    return seen


class OpenAILLM(LLM):
    provider = "openai"

    def __init__(
        self, *, api_key: str | None, base_url: str | None, model: str, timeout_s: float
    ) -> None:
        self.model = model
        # A local server (vLLM, Ollama, llama.cpp) needs no key, but the SDK insists on one.
        self._client = AsyncOpenAI(
            api_key=api_key or "unused", base_url=base_url, timeout=timeout_s, max_retries=1
        )

    async def stream(self, request: LLMRequest) -> AsyncIterator[str]:
        messages = [{"role": "system", "content": request.system}]
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        body = {"model": self.model, "messages": messages, "stream": True}
        try:
            # `chat.completions.create` runs a type-driven transform over every message that
            # costs ~4 ms for a 20-message history on a 2-core CPU, on the path to the first
            # token. Our body is already in wire form, so post it through the same client
            # (same HTTP stack, SSE decoding, error mapping and retries) without that pass.
            response = await self._client.post(
                "/chat/completions", body=body, cast_to=ChatCompletionChunk, stream=True,
                stream_cls=AsyncStream[ChatCompletionChunk],
            )
            done = _note_done(response)
            finished = False
            async with response:
                async for chunk in response:
                    for choice in chunk.choices:
                        if choice.delta and choice.delta.content:
                            yield choice.delta.content
                        finished = finished or choice.finish_reason is not None
            if not (finished or done[0]):
                raise incomplete()
        except LLMError:
            raise
        except openai.APIStatusError as error:
            raise LLMError(f"the language model refused the request (HTTP {error.status_code})") from None
        except openai.APITimeoutError:
            raise LLMError("the language model timed out") from None
        except Exception as error:  # httpx errors escape the SDK when a stream breaks mid-way
            raise LLMError(f"the language model stream broke off ({type(error).__name__})") from None

    async def aclose(self) -> None:
        await self._client.close()
