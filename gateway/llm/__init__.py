"""Language-model providers behind one interface (`LLM.stream`)."""

from __future__ import annotations

from gateway.config import Settings
from gateway.llm.base import LLM, ChatMessage, LLMError, LLMRequest, with_idle_timeout

__all__ = ["LLM", "ChatMessage", "LLMError", "LLMRequest", "create_llm", "with_idle_timeout"]


def create_llm(settings: Settings) -> LLM:
    """The provider the settings name (see `Settings.resolved_llm_provider`)."""
    provider = settings.resolved_llm_provider
    model = settings.resolved_llm_model
    if provider == "openai":
        from gateway.llm.openai_llm import OpenAILLM

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAILLM(api_key=key, base_url=settings.openai_base_url, model=model,
                         timeout_s=settings.llm_timeout_s)
    if provider == "gemini":
        from gateway.llm.gemini_llm import GeminiLLM

        assert settings.gemini_api_key is not None
        return GeminiLLM(api_key=settings.gemini_api_key.get_secret_value(),
                         base_url=settings.gemini_base_url, model=model,
                         timeout_s=settings.llm_timeout_s)
    from gateway.llm.scripted import ScriptedLLM

    return ScriptedLLM()
