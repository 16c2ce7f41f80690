"""Logging set-up. Our own lines carry at most a 50-character preview of what users said
(`gateway.privacy.preview`); third-party clients log whole request bodies at DEBUG, so
they are held at WARNING whatever LOG_LEVEL says."""

from __future__ import annotations

import logging

CHATTY_LIBRARIES = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "google_genai",
                    "google.genai", "websockets", "uvicorn.protocols", "asyncio", "faster_whisper",
                    "piper")


def quiet_third_party_loggers() -> None:
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_third_party_loggers()
