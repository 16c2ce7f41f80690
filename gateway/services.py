"""What every connection shares: settings, storage, the LLM, limits and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.auth import TokenRules
from gateway.config import Settings
from gateway.engines import SpeechEngines
from gateway.limits import Limits
from gateway.llm import LLM
from gateway.metrics import Metrics
from gateway.storage import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    llm: LLM
    limits: Limits
    speech: SpeechEngines = field(default_factory=SpeechEngines)
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def jwt_secret(self) -> str | None:
        key = self.settings.jwt_secret_key
        return key.get_secret_value() if key else None

    @property
    def token_rules(self) -> TokenRules | None:
        """None in development mode (no secret: loopback only)."""
        secret = self.jwt_secret
        if secret is None:
            return None
        return TokenRules(secret, self.settings.jwt_audience, self.settings.jwt_issuer)
