"""Gemini through `google-genai` (the maintained successor of `google-generativeai`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google import genai
from google.genai import errors, types

from gateway.llm.base import LLM, LLMError, LLMRequest, incomplete


class GeminiLLM(LLM):
    provider = "gemini"

    def __init__(self, *, api_key: str, base_url: str | None, model: str, timeout_s: float) -> None:
        self.model = model
        options = types.HttpOptions(timeout=int(timeout_s * 1000), base_url=base_url)
        self._client = genai.Client(api_key=api_key, http_options=options)

    async def stream(self, request: LLMRequest) -> AsyncIterator[str]:
        contents = [
            types.Content(role="model" if m.role == "assistant" else "user",
                          parts=[types.Part(text=m.content)])
            for m in request.messages
        ]
        config = types.GenerateContentConfig(system_instruction=request.system)
        try:
            stream = await self._client.aio.models.generate_content_stream(
                model=self.model, contents=contents, config=config  # type: ignore[arg-type]
            )
            finished = False
            async for chunk in stream:
                if chunk.text:
                    yield chunk.text
                finished = finished or any(c.finish_reason for c in chunk.candidates or ())
            if not finished:
                raise incomplete()
        except LLMError:
            raise
        except errors.APIError as error:
            raise LLMError(f"the language model refused the request (HTTP {error.code})") from None
        except Exception as error:  # the SDK raises httpx/httpx2/aiohttp errors as they come
            if "Timeout" in type(error).__name__:
                raise LLMError("the language model timed out") from None
            raise LLMError(f"the language model stream broke off ({type(error).__name__})") from None

    async def aclose(self) -> None:
        await self._client.aio.aclose()
