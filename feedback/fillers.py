"""Filler words: filled pauses, lexical fillers in filler use, and pauses heard but not written.

Backchannels (네, 예, uh-huh) are never fillers. Whisper drops many "um"/"uh"; a voiced
stretch no recognised word claims is a filled pause when its sound says so with confidence
(`feedback.acoustic`: the probability is kept as the filler's confidence). Without the
audio's evidence (typed text, turns stored before it was kept) no such stretch is reported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from feedback.types import Hesitation, Span, Turn, normalize

# A filled pause however far it is drawn out in writing ("Uhm...", "hmmm", "으으음"), with the
# form it is counted under. Whisper spells one sound many ways ("Ehm...", "Mmm.", "Err,").
FILLED_PAUSE_SPELLINGS = {
    "en": ((re.compile(r"u+h*m+|e+h+m+|e+m{2,}"), "um"), (re.compile(r"u+h+"), "uh"),
           (re.compile(r"e+r+m*"), "er"), (re.compile(r"a+h+"), "ah"),
           (re.compile(r"h+m+"), "hmm"), (re.compile(r"m{2,}"), "mm")),
    "ko": ((re.compile(r"으*음+"), "음"), (re.compile(r"어+"), "어"), (re.compile(r"아+"), "아"),
           (re.compile(r"에+"), "에"), (re.compile(r"으+"), "으")),
}
KO_TRAILING_FILLERS = {"저", "그"}  # fillers only when drawn out: "저…", "그..."
KO_LEXICAL = {"뭐", "막", "이제", "그냥", "그러니까", "그니까", "근데", "저기", "있잖아", "있잖아요",
              "좀", "약간"}
EN_LEXICAL_ALWAYS = {"basically", "literally"}
CANONICAL = {"그니까": "그러니까", "있잖아요": "있잖아"}
BACKCHANNELS = {"uh-huh", "mhm", "mm-hmm", "네", "예", "응"}
_LIKE_AS_FILLER_AFTER = {"", "just", "and", "but", "so", "was", "is", "it's", "were", "um", "uh",
                         "because", "then"}
_YOU_KNOW_CONTENT_NEXT = {"that", "what", "how", "why", "where", "who", "the", "a", "an", "him",
                          "her", "it", "about", "me", "them", "this", "if", "whether"}
CONFIDENT = 0.5   # a stretch of voice no word claims counts as a filler from this probability
WRITTEN_SURE = 0.7  # a written "um" the recogniser was this sure of stands against the sound
UNSURE = 0.4  # a written filler the recogniser was less sure of needs the words around it
CLEAR = 0.6  # words around a filler heard this surely (on average) make an unsure "uh" real
NOT_A_FILLER = 0.2  # a stretch this unlike a filled pause speaks against a written one
SAME_FILLER_MS = 400  # a written filled pause and a filler-like stretch this close are one
SOUNDLESS_MS = 50  # a written "um" the alignment gave less time than this has no sound of its own
CLUSTER_SIZE, CLUSTER_WINDOW_MS = 3, 10_000
ACOUSTIC_TEXT = {"en": "(um/uh, not transcribed)", "ko": "(음/어, 받아쓰지 못함)"}


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
    if filled_pause(word, "ko"):
        return "filled_pause"
    if word in KO_TRAILING_FILLERS and token.rstrip().endswith(("…", "...", ",")):
        return "filled_pause"
    if word in KO_LEXICAL:
        return "lexical"
    return None


def filled_pause(word: str, language: str) -> str | None:
    """The filled pause a normalized word spells ("uhmm" -> "um"), or None."""
    for spelling, canonical in FILLED_PAUSE_SPELLINGS["en" if language == "en" else "ko"]:
        if spelling.fullmatch(word):
            return canonical
    return None


def is_filled_pause(token: str, language: str) -> bool:
    word = normalize(token)
    return filled_pause(word, language) is not None or (
        language == "ko" and word in KO_TRAILING_FILLERS)


def detect_fillers(turn: Turn) -> FillerReport:
    tokens = [w.text for w in turn.words]
    norm = [normalize(t) for t in tokens]
    found: list[Filler] = []
    i = 0
    answers = backchannel_words(tokens)
    while i < len(tokens):
        word = norm[i]
        span, kind = 0, ""
        if i in answers or not word:
            pass
        elif turn.language == "en":
            if filled_pause(word, "en"):
                span, kind = 1, "filled_pause"
            elif (span := _lexical_en(tokens, norm, i)):
                kind = "lexical"
        else:
            kind = _is_ko_filler(tokens[i], word) or ""
            span = 1 if kind else 0
        if span:
            first, last = turn.words[i], turn.words[i + span - 1]
            text = " ".join(filled_pause(w, turn.language) or CANONICAL.get(w, w)
                            for w in norm[i:i + span])
            found.append(Filler(text, kind, i, first.start_ms, last.end_ms,
                                first.probability if first.probability is not None else 1.0))
            i += span
        else:
            i += 1
    found = confirmed(found, turn)
    found.sort(key=lambda f: (f.start_ms if f.start_ms is not None else -1))
    counted = sum(1 for k, w in enumerate(norm) if w and k not in answers)
    return filler_report(tuple(found), counted)


def backchannel_words(tokens: Sequence[str]) -> set[int]:
    """The indices of the words that are backchannels: "mm-hmm" is an answer, a "yes", not
    a hesitation. Whisper writes a hyphenated word as two, the second starting with the
    hyphen ("Mm" "-hmm."); read one by one they were an "mm" and a "hmm" (a real "Mm-hmm"
    in a meeting recording, docs/feedback.md)."""
    found: set[int] = set()
    for i, token in enumerate(tokens):
        if i + 1 < len(tokens) and tokens[i + 1].startswith("-") and normalize(
                token + tokens[i + 1]) in BACKCHANNELS:
            found.update((i, i + 1))
        elif normalize(token) in BACKCHANNELS:
            found.add(i)
    return found


def filler_report(found: tuple[Filler, ...], words: int) -> FillerReport:
    """The rate, counts by word and clusters of `found` among `words` written words (one
    turn's, or a whole session's). A filled pause heard but not written adds one to the
    rate's denominator too: the words spoken grow by it."""
    unwritten = sum(1 for f in found if f.kind == "acoustic")
    rate = round(len(found) / (words + unwritten) * 100, 2) if words else 0.0
    by_word = dict(Counter(f.text for f in found).most_common())
    return FillerReport(found, words, rate, by_word, clusters(list(found)))


def confirmed(written: list[Filler], turn: Turn) -> list[Filler]:
    """Where the audio was analysed, the sound has its say. A written "um" beside a stretch of
    voice no other word claims, or with one between the words written before and after it (on
    recorded speech the alignment puts a filler far from its sound), is that stretch: one
    filler, at the stretch's times (where it was said); it is dropped only when that stretch
    clearly does not sound like a filled pause (a laugh Whisper, prompted to keep fillers,
    wrote as "um") and the recogniser was unsure of it. A written "uh" inside running speech
    has no stretch of its own and stays, unless the recogniser was unsure of it and of the
    words around it too (it was guessing, as at a voice it cannot follow), or its alignment
    gave it no time (a token with no sound under it). Two written fillers never share one
    stretch (Whisper writes one hum as "음... 음..."), and a written "저"/"그", which are words
    too, counts only with a stretch of its own. A filler-like stretch no word claims is a
    filled pause the recogniser did not write."""
    if not turn.timed or turn.hesitations is None:
        return written
    stretches = list(turn.hesitations)
    # Pair each written filled pause with the nearest stretch, closest pairs first; of
    # stretches equally near (both under it), with the one that sounds most like a filler.
    places = {i: _place(f, turn) for i, f in enumerate(written)
              if f.kind == "filled_pause" and f.start_ms is not None}
    pairs = sorted((gap, -h.probability, i, j)
                   for i, (earliest, latest) in places.items()
                   for j, h in enumerate(stretches)
                   if (gap := _gap(written[i], h)) < SAME_FILLER_MS
                   or _mostly_in(h, earliest, latest))
    paired: dict[int, int] = {}
    for _, _, i, j in pairs:
        if i not in paired and j not in paired.values():
            paired[i] = j
    heard = set(paired.values())
    kept: list[Filler] = []
    for i, filler in enumerate(written):
        h = stretches[paired[i]] if i in paired else None
        if h is None and any(j in heard for _, _, k, j in pairs if k == i):
            continue  # one sound Whisper wrote twice ("음... 음..." over one hum): counted once
        if h is None and _also_a_word(filler):
            continue
        if h is not None:
            # The stretch is this filler's sound: it decides, unless it clearly is not a
            # filled pause and the recogniser was unsure; and the filler is marked where
            # its sound is (Whisper timed an "Umm..." 460 ms after the stretch it was written
            # for, which then counted as a miss beside a false filler).
            if h.probability >= CONFIDENT:
                kept.append(replace(filler, start_ms=h.start_ms, end_ms=h.end_ms,
                                    confidence=max(filler.confidence, h.probability)))
            elif h.probability >= NOT_A_FILLER or filler.confidence >= WRITTEN_SURE:
                kept.append(replace(filler, start_ms=h.start_ms, end_ms=h.end_ms))
        elif filler.kind == "filled_pause" and _soundless(filler):
            continue
        elif filler.confidence >= UNSURE or _heard_clearly_around(turn, filler):
            kept.append(filler)
    return kept + [Filler(ACOUSTIC_TEXT[turn.language], "acoustic", None, h.start_ms, h.end_ms,
                          h.probability)
                   for j, h in enumerate(stretches)
                   if j not in heard and h.probability >= CONFIDENT]


def _place(filler: Filler, turn: Turn) -> tuple[float, float]:
    """Where a written filler's sound must be, however far the alignment put it: between
    the end of the word written before it and the start of the word written after it (on
    recorded speech Whisper timed a written "um," 430 ms after the end of the only voice
    between its neighbours)."""
    i = filler.word_index
    if i is None:
        return (float("inf"), float("-inf"))  # nowhere: it has no neighbours to go by
    before = [w.end_ms for w in turn.words[:i] if w.end_ms is not None]
    after = [w.start_ms for w in turn.words[i + 1:] if w.start_ms is not None]
    return (before[-1] if before else float("-inf"), after[0] if after else float("inf"))


def _mostly_in(stretch: Hesitation, earliest: float, latest: float) -> bool:
    """Whether at least half of a stretch lies in a filler's place: the word before may be
    timed to end a little into the sound after it (a recognised "Sunday," ended 10 ms into
    the "Um." that followed, and the "um..." written for it was timed 500 ms late)."""
    return min(stretch.end_ms, latest) - max(stretch.start_ms, earliest) >= (
        stretch.end_ms - stretch.start_ms) / 2


def _also_a_word(filler: Filler) -> bool:
    """Whether a written filled pause is also a word ("저" I, "그" that): a filler only when
    drawn out, and drawn out is what gives it a stretch of voice of its own. Whisper, guessing
    at speech it cannot follow, writes "저," in running speech over and over."""
    return filler.kind == "filled_pause" and filler.text in KO_TRAILING_FILLERS


def _soundless(filler: Filler) -> bool:
    """Whether Whisper's alignment gave a written filler (almost) no time: a token with no
    sound under it, as the disfluent prompt now and then inserts."""
    return (filler.start_ms is not None and filler.end_ms is not None
            and filler.end_ms - filler.start_ms < SOUNDLESS_MS)


def _heard_clearly_around(turn: Turn, filler: Filler) -> bool:
    """Whether the recogniser was sure of the words around `filler` (two on each side): an
    "uh" it was unsure of among words it heard clearly is a disfluency it hesitated to
    write; among words it was guessing at, it is one more guess."""
    if filler.word_index is None:
        return False
    i = filler.word_index
    around = [w.probability for w in (*turn.words[max(0, i - 2):i], *turn.words[i + 1:i + 3])
              if w.probability is not None]
    return bool(around) and sum(around) / len(around) >= CLEAR


def _gap(filler: Filler, stretch: Hesitation) -> int:
    """How far apart a written filler and a stretch of voice are (0 if they overlap)."""
    start, end = filler.start_ms or 0, filler.end_ms or 0
    return max(0, stretch.start_ms - end, start - stretch.end_ms)


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
