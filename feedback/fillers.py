"""Filler words: filled pauses, lexical fillers in filler use, and pauses heard but not written.

Backchannels (네, 예, uh-huh) are never fillers. Whisper drops many "um"/"uh"; a voiced
stretch of 300 ms or more with no recognised word is reported as a probable filled pause
with a lower confidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from feedback.types import Span, Turn, normalize

FILLED_PAUSES = {
    "en": {"um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm", "hm"},
    "ko": {"음", "어", "아", "에", "으음", "어어"},
}
KO_TRAILING_FILLERS = {"저", "그"}  # fillers only when drawn out: "저…", "그..."
KO_LEXICAL = {"뭐", "막", "이제", "그냥", "그러니까", "그니까", "근데", "저기", "있잖아", "있잖아요",
              "좀", "약간"}
EN_LEXICAL_ALWAYS = {"basically", "literally"}
CANONICAL = {"umm": "um", "uhh": "uh", "erm": "er", "hm": "hmm", "그니까": "그러니까",
             "있잖아요": "있잖아", "으음": "음"}
BACKCHANNELS = {"uh-huh", "mhm", "mm-hmm", "네", "예", "응"}
_LIKE_AS_FILLER_AFTER = {"", "just", "and", "but", "so", "was", "is", "it's", "were", "um", "uh",
                         "because", "then"}
_YOU_KNOW_CONTENT_NEXT = {"that", "what", "how", "why", "where", "who", "the", "a", "an", "him",
                          "her", "it", "about", "me", "them", "this", "if", "whether"}
ACOUSTIC_MIN_MS = 300
CLUSTER_SIZE, CLUSTER_WINDOW_MS = 3, 10_000


@dataclass(frozen=True)
class Filler:
    text: str
    kind: str                 # "filled_pause", "lexical", "acoustic"
    word_index: int | None    # index of its first word (None for acoustic)
    start_ms: int | None
    end_ms: int | None
    confidence: float


@dataclass(frozen=True)
class FillerReport:
    fillers: tuple[Filler, ...]
    words: int                # words (en) or 어절 (ko) counted for the rate
    per_100: float
    by_word: dict[str, int]
    clusters: tuple[Span, ...]


def _clause_start(tokens: list[str], index: int) -> bool:
    return index == 0 or tokens[index - 1].rstrip().endswith((",", ".", "?", "!", "…", ";", ":"))


def _lexical_en(tokens: list[str], norm: list[str], i: int) -> int:
    """How many words the lexical filler at `i` spans (0 if none)."""
    word = norm[i]
    after = norm[i + 1] if i + 1 < len(norm) else ""
    if word in EN_LEXICAL_ALWAYS:
        return 1
    if word == "like":
        previous = "" if _clause_start(tokens, i) else norm[i - 1]
        return 1 if previous in _LIKE_AS_FILLER_AFTER or tokens[i].endswith(",") else 0
    if word == "you" and after == "know":
        following = norm[i + 2] if i + 2 < len(norm) else ""
        return 2 if following not in _YOU_KNOW_CONTENT_NEXT or tokens[i + 1].endswith(",") else 0
    if word == "i" and after == "mean" and _clause_start(tokens, i):
        return 2
    if word in ("so", "actually") and _clause_start(tokens, i):
        return 1
    return 0


def _is_ko_filler(token: str, word: str) -> str | None:
    if word in FILLED_PAUSES["ko"]:
        return "filled_pause"
    if word in KO_TRAILING_FILLERS and token.rstrip().endswith(("…", "...", ",")):
        return "filled_pause"
    if word in KO_LEXICAL:
        return "lexical"
    return None


def detect_fillers(turn: Turn) -> FillerReport:
    tokens = [w.text for w in turn.words]
    norm = [normalize(t) for t in tokens]
    found: list[Filler] = []
    i = 0
    while i < len(tokens):
        word = norm[i]
        span, kind = 0, ""
        if word in BACKCHANNELS or not word:
            pass
        elif turn.language == "en":
            if word in FILLED_PAUSES["en"]:
                span, kind = 1, "filled_pause"
            elif (span := _lexical_en(tokens, norm, i)):
                kind = "lexical"
        else:
            kind = _is_ko_filler(tokens[i], word) or ""
            span = 1 if kind else 0
        if span:
            first, last = turn.words[i], turn.words[i + span - 1]
            text = " ".join(CANONICAL.get(w, w) for w in norm[i:i + span])
            found.append(Filler(text, kind, i, first.start_ms, last.end_ms,
                                first.probability if first.probability is not None else 1.0))
            i += span
        else:
            i += 1
    # Probable filled pauses are reported with their lower confidence, but only words the
    # recogniser heard count towards the rate and the score.
    heard = len(found)
    found += acoustic_fillers(turn)
    counted = sum(1 for w in norm if w and w not in BACKCHANNELS)
    rate = round(heard / counted * 100, 2) if counted else 0.0
    by_word = dict(Counter(f.text for f in found[:heard]).most_common())
    return FillerReport(tuple(found), counted, rate, by_word, clusters(found[:heard]))


def acoustic_fillers(turn: Turn) -> list[Filler]:
    """Voiced stretches of 300 ms or more that no recognised word overlaps."""
    if not turn.timed or not turn.voiced:
        return []
    words = [(w.start_ms or 0, w.end_ms or 0) for w in turn.words]
    found = []
    for span in turn.voiced:
        cursor = span.start_ms
        for start, end in sorted(words):
            if end <= cursor or start >= span.end_ms:
                continue
            if start - cursor >= ACOUSTIC_MIN_MS:
                found.append(Filler("(unrecognised sound)", "acoustic", None, cursor, start, 0.4))
            cursor = max(cursor, end)
        if span.end_ms - cursor >= ACOUSTIC_MIN_MS and cursor > span.start_ms:
            found.append(Filler("(unrecognised sound)", "acoustic", None, cursor, span.end_ms, 0.4))
    return found


def clusters(fillers: list[Filler]) -> tuple[Span, ...]:
    """Runs of 3 or more fillers within 10 s."""
    times = sorted(f.start_ms for f in fillers if f.start_ms is not None)
    found: list[Span] = []
    i = 0
    while i + CLUSTER_SIZE - 1 < len(times):
        j = i
        while j + 1 < len(times) and times[j + 1] - times[i] <= CLUSTER_WINDOW_MS:
            j += 1
        if j - i + 1 >= CLUSTER_SIZE:
            found.append(Span(times[i], times[j]))
            i = j + 1
        else:
            i += 1
    return tuple(found)
