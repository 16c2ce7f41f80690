"""Cut a streamed reply into speakable pieces, so speech starts before the text ends."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?。！？…]+[\"')\]]*\s+|\n+")
_CLAUSE_END = re.compile(r"[,;:，、]\s+")


class SentenceSplitter:
    """Feed text deltas, get whole sentences back.

    The first piece may end at a clause boundary once it is long enough, to get the first
    audio out sooner; a sentence that grows past `max_chars` is cut at its last clause.
    """

    def __init__(self, *, min_chars: int = 8, first_clause_chars: int = 24,
                 max_chars: int = 160) -> None:
        self.min_chars = min_chars
        self.first_clause_chars = first_clause_chars
        self.max_chars = max_chars
        self._buffer = ""
        self._emitted = 0
        self.consumed = 0  # characters of the reply up to the end of the last piece

    def push(self, delta: str) -> list[tuple[str, int]]:
        """Add text; return the complete pieces, each with the reply length it ends at."""
        self._buffer += delta
        pieces: list[tuple[str, int]] = []
        while True:
            piece = self._next_piece()
            if piece is None:
                return pieces
            pieces.append((piece, self.consumed))

    def flush(self) -> list[tuple[str, int]]:
        """Whatever is left at the end of the reply."""
        rest = self._buffer.strip()
        self.consumed += len(self._buffer)
        self._buffer = ""
        return [(rest, self.consumed)] if rest else []

    def _next_piece(self) -> str | None:
        cut = None
        for match in _SENTENCE_END.finditer(self._buffer):
            if len(self._buffer[: match.end()].strip()) >= self.min_chars:
                cut = match.end()
                break
        if cut is None and ((self._emitted == 0 and len(self._buffer) >= self.first_clause_chars)
                            or len(self._buffer) >= self.max_chars):
            clauses = [m.end() for m in _CLAUSE_END.finditer(self._buffer)
                       if m.end() >= self.min_chars]
            if clauses:
                cut = clauses[0] if self._emitted == 0 else clauses[-1]
            elif len(self._buffer) >= self.max_chars:
                space = self._buffer.rfind(" ", 0, self.max_chars)
                cut = space + 1 if space > self.min_chars else self.max_chars
        if cut is None:
            return None
        piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
        self.consumed += cut
        self._emitted += 1
        return piece or None
