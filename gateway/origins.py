"""Which browser origins may open a session's WebSocket (a page elsewhere must not drive a
user's session with their token)."""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.config import Settings


def allowed_origins(settings: Settings) -> set[str]:
    return {o.strip().rstrip("/") for o in settings.allowed_origins.split(",") if o.strip()}


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """No `Origin` (not a browser) passes; a browser's must be in ALLOWED_ORIGINS or, by
    default, the gateway's own origin (the host the request was sent to)."""
    if origin is None:
        return True
    listed = allowed_origins(settings)
    if listed:
        return origin.rstrip("/") in listed
    return bool(host) and urlsplit(origin).netloc == host
