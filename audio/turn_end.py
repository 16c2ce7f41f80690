"""Semantic end of turn: has the speaker finished, judged from what they said so far?

A small rule set over the speculative transcript (Whisper's text of the utterance up to the
pause), in English and Korean. It answers `complete` (a finished sentence: answer after a
short silence), `incomplete` (a trailing "and", "so", "그래서", "근데", a filler "um",
"음", "어", a trailing comma, a connective ending such as "-는데", "-고", or a short
utterance that opens with "and so" and has not yet made its point: wait longer, up to a
bound) or `unknown` (wait the usual silence). A trailing "..." decides nothing by itself:
Whisper writes it for a voice trailing off and for a sentence whose audio simply stops.

Rules, not a model: they are cheap (microseconds), explainable, and measured on the
fixtures' mid-sentence pauses (jfk: "And so, my fellow Americans" and "ask not" are
`incomplete`; see bench/voice_latency.py and tests/test_audio_units.py). Pipecat's smart-turn
v3 (an audio model in pipecat-ai's wheel) answers "complete" in jfk's first pause; these
rules do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from audio.repeats import without_repeats

TurnEnd = Literal["complete", "incomplete", "unknown"]

_FINAL_PUNCT = re.compile(r"[.?!。？！]['\"”’)\]]*$")
_OPEN_PUNCT = re.compile(r"(,|;|:|-|–|—)['\"”’)\]]*$")
# Whisper writes "..." both for a voice trailing off and for a sentence whose audio simply
# stops ("ask what you can do for your country..."): the words before it decide.
_ELLIPSIS = re.compile(r"(\.\.\.|…)['\"”’)\]]*$")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)

# A last word after which an English sentence cannot be over...
_EN_TRAILING = frozenset("""
and but so or nor because cause cuz if whereas although though unless the a an my your our
their um uh er erm hmm like basically plus
""".split())
# ... and one after which it is over only if Whisper heard a full stop ("Yes, I did.").
_EN_TRAILING_UNPUNCTUATED = frozenset("""
since then when while until that which who whom whose where to of for with in on at by from
into about as than his her its this these those some any every no i we he she they is are
was were am be been being do does did have has had will would can could should must might
may mean kind sort actually also just not
""".split())
# An English utterance opening with these, short and without a final point, is a preamble.
_EN_OPENERS = ("and so", "and then", "so", "and", "but", "because", "well so")
_EN_PREAMBLE_WORDS = 7

# Korean: fillers and connectives as the last word, and connective verb endings.
_KO_TRAILING = frozenset("""
음 어 으 그 저 뭐 그래서 근데 그런데 그리고 그러니까 그러면 그럼 하지만 그래도 또 또는 이제
약간 좀 막 왜냐하면 그니까 아니면 및
""".split())
_KO_CONNECTIVE_ENDINGS = ("는데", "은데", "니까", "어서", "아서", "해서", "지만", "거나", "든지",
                          "면서", "려고", "도록", "는지", "은지", "고", "며", "면", "서")
_KO_FINAL_ENDINGS = ("요", "다", "까", "죠", "네", "지", "군", "니다", "세요", "래", "자", "야",
                     "고요", "는데요", "거든요")


def classify(text: str, language: str | None) -> TurnEnd:
    """How finished the utterance `text` sounds."""
    text = text.strip()
    words = _WORD.findall(text.lower())
    if not words:
        return "unknown"
    if _OPEN_PUNCT.search(text):
        return "incomplete"
    last = words[-1]
    text = _ELLIPSIS.sub("", text).rstrip()  # judged by its words, as if unpunctuated
    korean = language == "ko" or (language in (None, "auto") and _hangul(text))
    if korean:
        if last in _KO_TRAILING:
            return "incomplete"
        if last.endswith(_KO_FINAL_ENDINGS):
            return "complete"
        if last.endswith(_KO_CONNECTIVE_ENDINGS):
            return "incomplete"
        return "complete" if _FINAL_PUNCT.search(text) else "unknown"
    if text.endswith("?"):
        return "complete"
    if last in _EN_TRAILING or (last in _EN_TRAILING_UNPUNCTUATED
                                and not _FINAL_PUNCT.search(text)):
        return "incomplete"
    if 3 <= len(words) <= _EN_PREAMBLE_WORDS and " ".join(words).startswith(_EN_OPENERS):
        return "incomplete"  # "And so, my fellow Americans": the point is still to come
    return "complete" if _FINAL_PUNCT.search(text) else "unknown"


# Words that mean "stop" even when short; any other short utterance over the other's speech
# is taken as a listener's acknowledgement ("네", "mm-hm", "uh-huh, right"), because that is
# what it nearly always is, and Whisper mishears such syllables ("Got it." as "at it.").
_INTERRUPTIONS = frozenset("""
wait stop hold hang sorry excuse pardon no nope what huh actually but listen
잠깐 잠깐만 잠깐만요 아니 아니요 아뇨 그만 멈춰 잠시만 잠시만요 저기요 근데 그런데 네에
""".split())
_BACKCHANNEL_WORDS = 3
MAX_WORDS_PER_SECOND = 6.0  # faster than anyone speaks: words Whisper made up


def is_backchannel(text: str, speech_ms: int | None = None) -> bool:
    """Was a short utterance over the other's speech (shorter than the barge-in
    confirmation) a listener's acknowledgement rather than a turn? Yes when it is at most
    three words (a phrase said twice counts once) and none means "stop" ("wait", "no",
    "hold on", "잠깐만요", "아니요"); also when Whisper wrote nothing (a cough, a breath)
    or more words than `speech_ms` of speech could hold ("이 영상은, 이 영상은, ..." over
    a murmur)."""
    words = _WORD.findall(text.lower())
    if speech_ms is not None and len(words) > 1 + MAX_WORDS_PER_SECOND * speech_ms / 1000:
        return True
    words = without_repeats(words)  # "I see, I see", "네 네 네": said once, or heard twice
    return len(words) <= _BACKCHANNEL_WORDS and not any(w in _INTERRUPTIONS for w in words)


def _hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


@dataclass(frozen=True)
class TurnEndPolicy:
    """The silence that ends a turn, by how finished it sounds (settings: EOT_*_MS)."""

    complete_ms: int = 200
    unknown_ms: int = 500
    incomplete_ms: int = 2500

    def silence_ms(self, verdict: TurnEnd) -> int:
        return {"complete": self.complete_ms, "unknown": self.unknown_ms,
                "incomplete": self.incomplete_ms}[verdict]
