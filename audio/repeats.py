"""Phrases said again back to back in a run of words ("i see i see", "um um um um").

Whisper's repetition loops and a listener's doubled "yeah, yeah" are both such runs; the
recogniser (audio/stt.py) and the backchannel rule (audio/turn_end.py) look for them here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def repeated_runs(words: Sequence[str]) -> Iterator[tuple[int, int, int]]:
    """(start, phrase length, times) of each phrase that follows itself at least once,
    shortest phrases first, then left to right."""
    for n in range(1, len(words) // 2 + 1):
        for i in range(len(words) - 2 * n + 1):
            times = 1
            while words[i + times * n: i + (times + 1) * n] == words[i: i + n]:
                times += 1
            if times >= 2:
                yield i, n, times


def without_repeats(words: Sequence[str]) -> list[str]:
    """`words` with each phrase repeated back to back kept once ("i see i see" -> "i see")."""
    out = list(words)
    while (run := next(repeated_runs(out), None)) is not None:
        start, n, _ = run
        del out[start + n: start + 2 * n]
    return out
