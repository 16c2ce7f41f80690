"""Logging set-up. Our own lines carry at most a 50-character preview of what users said
(`gateway.privacy.preview`); third-party clients log whole request bodies at DEBUG, so
they are held at WARNING whatever LOG_LEVEL says. Every handler redacts credentials
(`?token=`, bearer tokens, anything shaped like a JWT) from every line, uvicorn's access
log included, so a token in an old client's URL never reaches a log file."""

from __future__ import annotations

import logging
import re
from typing import Any

CHATTY_LIBRARIES = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "google_genai",
                    "google.genai", "websockets", "uvicorn.protocols", "asyncio", "faster_whisper",
                    "piper")

_SECRETS = re.compile(
    r"(?P<key>(?:token|access_token|ticket)=)[^&\s\"']+"
    r"|(?P<bearer>[Bb]earer[ .])[A-Za-z0-9._~+/=-]+"
    r"|eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """`text` with every credential replaced by `[redacted]`."""
    return _SECRETS.sub(lambda m: (m.group("key") or m.group("bearer") or "") + "[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with its credentials redacted (attached to handlers, so
    it sees every record, whichever logger it came from)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):  # kept a tuple: uvicorn's access formatter unpacks it
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def install_redaction() -> None:
    """Put the redacting filter on every handler there is now (root's and uvicorn's)."""
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in ("uvicorn", "uvicorn.error",
                                                                     "uvicorn.access"))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                handler.addFilter(RedactSecrets())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the redacting filter on its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "filters": {"redact": {"()": RedactSecrets}}}
    config["handlers"] = {name: {**handler, "filters": ["redact"]}
                          for name, handler in LOGGING_CONFIG["handlers"].items()}
    return config


def quiet_third_party_loggers() -> None:
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_third_party_loggers()
    install_redaction()
