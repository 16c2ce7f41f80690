"""Speech engines chosen by the settings, loaded off the event loop, reported by /health.

A missing model or engine is reported at start-up and by /health, and a session then
simply gets no speech (or an `error` event for audio it cannot transcribe): it never
crashes mid-session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from audio import align, models
from audio.stt import FILLER_PROMPT, STT, OpenAISTT, STTOptions, WhisperSTT
from audio.tts import TTS, EspeakTTS, OpenAITTS, PiperTTS, ThreadedTTS
from gateway.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceChoice:
    """Who speaks a session's replies: the gateway (`server`), the page (`browser`), nobody."""

    mode: Literal["server", "browser", "none"]
    language: str
    engine: str | None = None
    natural: bool = False
    reason: str = ""


def _evidence_workers() -> ThreadPoolExecutor:
    # A voice turn's acoustic evidence (alignment 0.1-0.5 s, one utterance at a time) has
    # workers of its own: queued in the default pool, a burst of turns would hold the threads
    # that every session's microphone audio goes through. Threads start on first use.
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="evidence")


@dataclass
class SpeechEngines:
    stt: STT | None = None
    tts: dict[str, TTS] = field(default_factory=dict)  # by language
    evidence: ThreadPoolExecutor = field(default_factory=_evidence_workers)
    problems: dict[str, str] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    browser_speech: Literal["auto", "always", "never"] = "auto"  # BROWSER_SPEECH

    def tts_for(self, language: str) -> TTS | None:
        return self.tts.get(language) or self.tts.get("en" if language == "auto" else language)

    def voice_for(self, language: str, browser_voices: Collection[str]) -> VoiceChoice:
        """The server speaks where it has a natural voice; the page speaks where the server's
        only voice is a last resort (or none) and the page has one; else the server's voice,
        whatever it is, rather than silence."""
        tts = self.tts_for(language)
        natural = tts is not None and tts.natural
        policy = self.browser_speech
        page_can = language in browser_voices and policy != "never"
        if page_can and (policy == "always" or not natural):
            why = ("the page speaks on request (BROWSER_SPEECH=always)" if natural
                   else f"the gateway's {language} voice is a last resort ({tts.name})" if tts
                   else f"the gateway has no {language} voice")
            return VoiceChoice("browser", language, None, True, why)
        if tts is None:
            return VoiceChoice("none", language, None, False, f"no {language} voice is available")
        why = ("a natural server voice" if natural
               else "last resort: the page has no voice for this language")
        return VoiceChoice("server", language, tts.name, natural, why)

    def health(self) -> dict[str, Any]:
        stt: dict[str, Any] = {"engine": self.stt.name if self.stt else None,
                               "ready": self.ready.is_set()}
        if "stt" in self.problems:
            stt["error"] = self.problems["stt"]
        tts: dict[str, Any] = {lang: engine.name for lang, engine in self.tts.items()}
        tts_problems = {k: v for k, v in self.problems.items() if k.startswith("tts")}
        # Which voice a session in each language gets (`voice_selected` tells each session).
        voices = {}
        for language in ("ko", "en"):
            server = self.voice_for(language, ())
            page = self.voice_for(language, (language,))
            voices[language] = {"server": server.engine, "natural": server.natural,
                                "speaks": ("the page (Web Speech API) when it has a voice, "
                                           f"else {server.engine or 'nothing'}")
                                if page.mode == "browser" else server.engine}
        return {"stt": stt, "tts": {"engines": tts, "voices": voices,
                                    **({"errors": tts_problems} if tts_problems else {})}}

    async def aclose(self) -> None:
        # Sessions have ended by now; a turn's evidence still being made is let finish.
        await asyncio.to_thread(self.evidence.shutdown)
        if self.stt is not None:
            await self.stt.aclose()
        for engine in set(self.tts.values()):
            await engine.aclose()


def _whisper_models(settings: Settings) -> dict[str, Path | str]:
    if settings.stt_model:
        return {"auto": settings.stt_model}
    base = models.whisper_base(settings.models_dir)
    return {"en": models.whisper_tiny_en(), "ko": base, "auto": base}


def _key(*candidates: object) -> str | None:
    for key in candidates:
        if key is not None:
            return key.get_secret_value()  # type: ignore[attr-defined, no-any-return]
    return None


def build_engines(settings: Settings) -> SpeechEngines:
    """Construct (not load) the engines; problems are recorded, never raised."""
    engines = SpeechEngines(browser_speech=settings.browser_speech)
    try:
        stt_provider = settings.resolved_stt_provider
        if stt_provider == "none":
            engines.problems["stt"] = "STT_PROVIDER=none"
        elif stt_provider == "openai":
            engines.stt = OpenAISTT(api_key=_key(settings.stt_api_key, settings.openai_api_key),
                                    base_url=settings.stt_base_url or settings.openai_base_url,
                                    model=settings.stt_model or "whisper-1")
        else:
            engines.stt = WhisperSTT(_whisper_models(settings), threads=settings.stt_threads,
                                     options=STTOptions(
                                         max_seconds=settings.stt_max_seconds,
                                         initial_prompt=FILLER_PROMPT if settings.stt_filler_prompt
                                         else {}),
                                     short_window=settings.stt_short_window,
                                     workers=settings.stt_workers,
                                     max_wait_s=settings.stt_queue_max_wait_s)
    except Exception as error:  # a missing model is a reported state, not a crash
        engines.problems["stt"] = str(error)
    tts_provider = settings.resolved_tts_provider
    if tts_provider == "openai":
        tts = OpenAITTS(api_key=_key(settings.tts_api_key, settings.openai_api_key),
                        base_url=settings.tts_base_url or settings.openai_base_url,
                        voice=settings.tts_voice or settings.openai_tts_voice,
                        model=settings.tts_model or "gpt-4o-mini-tts")
        engines.tts = {"en": tts, "ko": tts}
    elif tts_provider == "local":
        wait = settings.tts_queue_max_wait_s
        for language, make in (("en", lambda: PiperTTS(models.piper_joe(), max_wait_s=wait)),
                               ("ko", lambda: EspeakTTS("ko", max_wait_s=wait))):
            try:
                engines.tts[language] = make()
            except Exception as error:
                engines.problems[f"tts_{language}"] = str(error)
    for problem, reason in engines.problems.items():
        switched_off = reason.endswith("=none")
        log.log(logging.INFO if switched_off else logging.ERROR, "%s unavailable: %s", problem,
                reason)
    return engines


async def load_engines(engines: SpeechEngines, settings: Settings) -> None:
    """Load models in worker threads (in the background after start-up): Whisper first, as
    its load is the memory peak, then the voices."""
    try:
        if isinstance(engines.stt, WhisperSTT):
            languages = tuple(lang.strip() for lang in settings.stt_preload.split(",") if lang.strip())
            await engines.stt.preload(languages)
    except Exception as error:
        engines.problems["stt"] = f"failed to load: {error}"
        engines.stt = None
        log.error("speech recognition unavailable: %s", error)
    if engines.stt is not None:
        try:  # the feedback's forced aligner (English words to the sound)
            await asyncio.to_thread(align.load)
        except Exception as error:  # the feedback then uses Whisper's word times
            log.error("forced aligner unavailable: %s", error)
    for language, tts in list(engines.tts.items()):
        if isinstance(tts, ThreadedTTS):
            try:
                await tts.warm_up()
            except Exception as error:
                engines.problems[f"tts_{language}"] = f"failed to load: {error}"
                del engines.tts[language]
                log.error("speech synthesis (%s) unavailable: %s", language, error)
    engines.ready.set()
    log.info("speech engines ready: %s", engines.health())
