"""What every connection shares: settings, storage, the LLM, limits and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config import Settings
from gateway.engines import SpeechEngines
from gateway.llm import LLM
from gateway.metrics import Metrics
from gateway.ratelimit import SlidingWindowLimiter
from gateway.storage import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    llm: LLM
    limiter: SlidingWindowLimiter
    speech: SpeechEngines = field(default_factory=SpeechEngines)
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def jwt_secret(self) -> str | None:
        key = self.settings.jwt_secret_key
        return key.get_secret_value() if key else None
