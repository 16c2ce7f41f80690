"""One pydantic-settings `Settings`, read from the environment or a `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LLMProviderName = Literal["openai", "gemini", "scripted"]
STTProviderName = Literal["whisper", "openai", "none"]
TTSProviderName = Literal["local", "openai", "none"]

DEFAULT_MODELS: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "gemini": "gemini-2.5-flash",
    "scripted": "scripted",
}


class Settings(BaseSettings):
    """Every knob of the gateway; the env names are the field names in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", case_sensitive=False
    )

    database_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    jwt_secret_key: SecretStr | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    allowed_origins: str = ""  # comma-separated; empty: the gateway's own origin only
    max_ai_requests_per_minute_per_user: int = Field(30, ge=1)
    max_new_sessions_per_user_per_hour: int = Field(30, ge=1)
    retention_days: int = Field(180, ge=0)  # sessions older than this are deleted; 0 keeps them
    max_ai_requests_per_minute: int = Field(10, ge=1)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    llm_provider: LLMProviderName | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(30.0, gt=0)
    max_message_chars: int = Field(2000, ge=1)
    history_turns: int = Field(10, ge=0)
    parley_data_dir: Path = Path(".parley")
    parley_models_dir: Path | None = None  # assembled model files; default PARLEY_DATA_DIR/models
    parley_host: str = "127.0.0.1"
    parley_port: int = Field(8000, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    drain_s: float = Field(20.0, ge=0, le=600)  # on SIGTERM: how long replies in flight may finish
    session_lease_s: float = Field(10.0, ge=1, le=300)  # a dead process's sessions free up after this

    # Voice loop
    vad_silence_ms: int = Field(500, ge=60, le=5000)
    # Silence after which Whisper starts on the utterance (0: only at the end of turn). It is
    # also the silence kept after the last voiced frame: 60 ms was 40 ms faster but cut the
    # weak end of words before a pause (jfk's "Americans" heard as "America").
    vad_speculative_ms: int = Field(100, ge=0, le=5000)
    # Semantic end of turn (audio/turn_end.py): the silence that ends a turn whose speculative
    # transcript sounds finished / unfinished ("and", "um", "그래서"); VAD_SILENCE_MS when it
    # cannot tell (or with SEMANTIC_TURN_END off).
    semantic_turn_end: bool = True
    eot_complete_ms: int = Field(200, ge=20, le=5000)
    eot_incomplete_ms: int = Field(2500, ge=60, le=10_000)
    # Barge-in: speech over a reply pauses it at once; this much speech makes it a real
    # interruption (shorter: a backchannel such as "네", "mm-hm" or a cough, and the reply
    # resumes). A two-part "아, 네." holds 540-580 ms of speech: 600 cut it now and then.
    barge_in_confirm_ms: int = Field(800, ge=0, le=5000)
    vad_silero: bool = True  # Silero VAD decides where speech ends (webrtcvad alone: off)
    # Start the reply on the speculative transcript, held back until the end of turn is
    # confirmed; at most this many attempts are thrown away per turn.
    preemptive_replies: bool = True
    preemptive_max_attempts: int = Field(3, ge=0, le=10)
    vad_aggressiveness: int = Field(2, ge=0, le=3)
    vad_max_turn_s: float = Field(30.0, gt=1)
    stt_provider: STTProviderName = "whisper"
    stt_model: str | None = None
    # One thread decodes faster than two on a 2-core machine: Whisper's small matrices
    # spend more on synchronising threads than they gain (tiny.en on 5.4 s of speech:
    # 288 ms with one thread, 419 ms with two; base on Korean 441 vs 558 ms), and the
    # other core stays free for Piper and the event loop.
    stt_threads: int = Field(1, ge=1)
    # Transcribe a long utterance sentence by sentence: after a pause that ends a finished
    # sentence, later transcriptions decode only the audio after it (gateway/session/listening.py).
    stt_by_sentence: bool = True
    stt_workers: int = Field(1, ge=1, le=16)  # Whisper jobs in parallel (each with STT_THREADS)
    stt_queue_max_wait_s: float = Field(3.0, gt=0)  # refuse an utterance that would wait longer
    stt_base_url: str | None = None  # an OpenAI-compatible transcription server
    stt_api_key: SecretStr | None = None
    stt_max_seconds: float = Field(6.0, gt=0)
    stt_filler_prompt: bool = True  # a disfluent initial prompt keeps more "um"/"uh"/"음"/"어"
    stt_short_window: bool = True  # encode only the utterance (+1 s), not Whisper's 30 s window
    stt_budget_ratio: float = Field(0.5, gt=0)  # recognition seconds a session may use per audio second
    stt_preload: str = "ko,en"  # languages whose Whisper model loads at start-up; others on first use
    tts_provider: TTSProviderName = "local"
    tts_lead_ms: int = Field(500, ge=0, le=60_000)  # how far speech may run ahead of playback
    # Who speaks a reply: "auto" lets the page speak (Web Speech API) where the gateway's only
    # voice for the language is a last resort (espeak-ng); "always" whenever the page has a
    # voice; "never" keeps speech on the server.
    browser_speech: Literal["auto", "always", "never"] = "auto"
    openai_tts_voice: str = "alloy"
    tts_base_url: str | None = None  # an OpenAI-compatible speech server
    tts_api_key: SecretStr | None = None
    tts_model: str | None = None
    tts_voice: str | None = None
    tts_queue_max_wait_s: float = Field(3.0, gt=0)

    @field_validator("llm_provider", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def resolved_llm_provider(self) -> LLMProviderName:
        """The explicit choice, else the first provider whose key is set, else `scripted`."""
        if self.llm_provider:
            return self.llm_provider
        if self.openai_api_key:
            return "openai"
        if self.gemini_api_key:
            return "gemini"
        return "scripted"

    @property
    def resolved_stt_provider(self) -> STTProviderName:
        """STT_BASE_URL alone means that server (OpenAI's API); otherwise STT_PROVIDER."""
        if self.stt_base_url and "stt_provider" not in self.model_fields_set:
            return "openai"
        return self.stt_provider

    @property
    def resolved_tts_provider(self) -> TTSProviderName:
        if self.tts_base_url and "tts_provider" not in self.model_fields_set:
            return "openai"
        return self.tts_provider

    @property
    def models_dir(self) -> Path:
        return self.parley_models_dir or self.parley_data_dir / "models"

    @property
    def resolved_llm_model(self) -> str:
        return self.llm_model or DEFAULT_MODELS[self.resolved_llm_provider]

    def check_consistency(self) -> None:
        """Refuse combinations that would only fail later, mid-session, and secrets that are
        too short to be one."""
        if self.jwt_secret_key is not None:
            size = len(self.jwt_secret_key.get_secret_value().encode())
            if size < MIN_SECRET_BYTES:
                raise ConfigError(f"JWT_SECRET_KEY: must be at least {MIN_SECRET_BYTES} bytes "
                                  f"(it is {size}); e.g. `openssl rand -hex 32`")
        provider = self.resolved_llm_provider
        if provider == "gemini" and not self.gemini_api_key:
            raise ConfigError("LLM_PROVIDER: 'gemini' needs GEMINI_API_KEY to be set")
        if provider == "openai" and not (self.openai_api_key or self.openai_base_url):
            raise ConfigError("LLM_PROVIDER: 'openai' needs OPENAI_API_KEY or OPENAI_BASE_URL")


class ConfigError(ValueError):
    """A configuration problem, phrased as one line that names the variable."""


MIN_SECRET_BYTES = 32
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_exposure(settings: Settings, host: str) -> None:
    """Development mode (no JWT secret: no authentication, everyone is admin) is only for a
    gateway that listens on loopback."""
    if settings.jwt_secret_key is None and host not in LOOPBACK:
        raise ConfigError(f"JWT_SECRET_KEY: required to listen on {host} (without it the "
                          "gateway runs unauthenticated, which is only allowed on 127.0.0.1 "
                          "or ::1); set a secret of at least 32 bytes, e.g. "
                          "`openssl rand -hex 32`")


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first bad variable, its value and why it was refused."""
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
    value = first.get("input")
    shown = "" if any(s in name for s in ("KEY", "SECRET")) else f" (got {value!r})"
    return f"{name}: {first['msg']}{shown}"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning any problem into a `ConfigError` with one clear line."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    settings.check_consistency()
    return settings
