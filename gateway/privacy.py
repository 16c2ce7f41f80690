"""What may appear in a log line about what users said: at most its first 50 characters."""

from __future__ import annotations

PREVIEW_CHARS = 50


def preview(text: str | None) -> str:
    """The first 50 characters of a message, transcript or reply, and its full length."""
    if not text:
        return "''"
    if len(text) <= PREVIEW_CHARS:
        return repr(text)
    return f"{text[:PREVIEW_CHARS]!r}…({len(text)} chars)"
