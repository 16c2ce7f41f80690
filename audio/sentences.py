"""Cut a streamed reply into speakable pieces, so speech starts before the text ends."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?。！？…]+[\"')\]]*\s+|\n+")
_CLAUSE_END = re.compile(r"[,;:，、]\s+")


class SentenceSplitter:
    """Feed text deltas, get whole sentences back.

    The first piece may end at a clause boundary, to get the first audio out sooner; a
    sentence that grows past `max_chars` is cut at its last clause.
    """

    def __init__(self, *, min_chars: int = 8, max_chars: int = 160) -> None:
        self.min_chars = min_chars
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
        if self._emitted == 0:
            cut = self._first_cut()
        else:
            cut = self._boundary(_SENTENCE_END)
            if cut is None and len(self._buffer) >= self.max_chars:
                cut = self._last_clause() or self._hard_cut()
        if cut is None:
            return None
        piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
        self.consumed += cut
        self._emitted += 1
        return piece or None

    def _first_cut(self) -> int | None:
        """The first piece ends at the earliest sentence or clause boundary past `min_chars`:
        a short first piece is synthesised sooner, and a pause after a clause sounds natural."""
        ends = [cut for cut in (self._boundary(_SENTENCE_END), self._boundary(_CLAUSE_END))
                if cut is not None]
        if ends:
            return min(ends)
        return self._hard_cut() if len(self._buffer) >= self.max_chars else None

    def _boundary(self, pattern: re.Pattern[str]) -> int | None:
        for match in pattern.finditer(self._buffer):
            if len(self._buffer[: match.end()].strip()) >= self.min_chars:
                return match.end()
        return None

    def _last_clause(self) -> int | None:
        clauses = [m.end() for m in _CLAUSE_END.finditer(self._buffer) if m.end() >= self.min_chars]
        return clauses[-1] if clauses else None

    def _hard_cut(self) -> int:
        space = self._buffer.rfind(" ", 0, self.max_chars)
        return space + 1 if space > self.min_chars else self.max_chars
