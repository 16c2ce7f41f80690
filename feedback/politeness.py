"""Politeness. Korean: the speech level of every sentence from its final ending, honorific
markers, and level switches. English: the politeness strategies of Danescu-Niculescu-Mizil
et al. (2013), for and against."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

SPEECH_LEVELS = ("hasipsio", "haeyo", "hae", "haera")
POLITE_LEVELS = {"hasipsio", "haeyo"}
_SENTENCES = re.compile(r"[^.!?。？！\n]+[.!?。？！]*")
_TRAILING = re.compile(r"[\s.!?。？！~…,\"')\]]+$")

# Checked in order: the first ending that matches decides.
_KO_ENDINGS: list[tuple[str, tuple[str, ...]]] = [
    ("hasipsio", ("니다", "니까", "십시오", "시오", "읍시다", "합시다", "옵니다")),
    ("haeyo", ("요", "죠")),
    ("haera", ("어라", "아라", "거라", "해라", "여라", "는다", "ㄴ다", "었다", "았다", "였다", "겠다",
               "한다", "간다", "온다", "이다", "였다", "냐", "느냐", "니", "자", "다")),
    ("hae", ("어", "아", "해", "지", "야", "래", "게", "걸", "네", "거든", "잖아", "니까", "라", "나",
             "까", "데", "대", "고")),
]
_HONORIFICS = re.compile(r"(세요|셨|십니|시는|시고|시면|시죠|드리|드려|드립|드렸|께서|께|님|저는|저도|제가|"
                         r"저를|저희|제\s)")


@dataclass(frozen=True)
class SentenceLevel:
    text: str
    level: str | None  # None when no known ending was found


@dataclass(frozen=True)
class KoreanPoliteness:
    sentences: tuple[SentenceLevel, ...]
    honorific_markers: tuple[str, ...]
    expected: tuple[str, ...]
    matching_share: float | None
    switches: int  # polite <-> plain changes inside the answer


@dataclass(frozen=True)
class Strategy:
    name: str
    evidence: str
    polite: bool


@dataclass(frozen=True)
class EnglishPoliteness:
    strategies: tuple[Strategy, ...]


_A_EO_VOWELS = {0, 1, 4, 5, 6, 9, 10, 14, 15}  # ㅏ ㅐ ㅓ ㅔ ㅕ ㅘ ㅙ ㅝ ㅞ


def _syllable(char: str) -> tuple[int, int] | None:
    """(vowel index, final consonant index) of a Hangul syllable."""
    code = ord(char) - 0xAC00
    return ((code // 28) % 21, code % 28) if 0 <= code < 11172 else None


def _open_a_eo(char: str) -> bool:
    """A syllable that ends in a bare 아/어-type vowel: the shape of 해체 (가, 줘, 고마워)."""
    parts = _syllable(char)
    return parts is not None and parts[1] == 0 and parts[0] in _A_EO_VOWELS


def speech_level(sentence: str) -> str | None:
    """The Korean speech level of a sentence, from its final ending."""
    core = _TRAILING.sub("", sentence.strip())
    if not core:
        return None
    if len(core) >= 2 and core[-1] == "라" and _open_a_eo(core[-2]):
        return "haera"  # imperative -아라/-어라 (기다려라), not 몰라
    for level, endings in _KO_ENDINGS:
        if core.endswith(endings):
            return level
    return "hae" if _open_a_eo(core[-1]) else None


def korean_politeness(text: str, expected: tuple[str, ...]) -> KoreanPoliteness:
    sentences = tuple(SentenceLevel(s.strip(), speech_level(s))
                      for s in _SENTENCES.findall(text) if s.strip())
    levels = [s.level for s in sentences if s.level]
    matching = sum(1 for level in levels if level in expected)
    switches = sum(1 for a, b in itertools.pairwise(levels)
                   if (a in POLITE_LEVELS) != (b in POLITE_LEVELS))
    markers = tuple(m.group(0).strip() for m in _HONORIFICS.finditer(text))
    return KoreanPoliteness(sentences, markers, expected,
                            round(matching / len(levels), 3) if levels else None, switches)


_EN_POLITE = [
    ("gratitude", r"\b(thanks?|thank you|appreciate)\b"),
    ("apology", r"\b(sorry|apologi[sz]e|my apologies|excuse me)\b"),
    ("counterfactual_modal", r"\b(could|would) you\b"),
    ("hedge", r"\b(i think|i believe|maybe|perhaps|i guess|possibly|might|i wonder)\b"),
    ("first_person_plural", r"\b(we|our|us|let's)\b"),
    ("greeting", r"^(hi|hello|hey|good (morning|afternoon|evening))\b"),
    ("deference", r"\b(great|good) (question|point|idea)\b"),
]
_EN_RUDE = [
    ("direct_question", r"^(what|why)\b.*\?"),
    ("starts_with_you", r"^you\b"),
    ("bare_imperative", r"^(give|send|tell|do|fix|stop|get|make|answer|explain|listen|hurry|"
                        r"move|bring|show|call|go)\b"),
    ("profanity", r"\b(damn|hell|shit|fuck\w*|crap|bloody|stupid|idiot)\b"),
    ("please_at_start", r"^please\b"),
]


def english_politeness(text: str) -> EnglishPoliteness:
    found: list[Strategy] = []
    for sentence in (s.strip() for s in _SENTENCES.findall(text)):
        lowered = sentence.lower()
        for name, pattern in _EN_POLITE:
            if (match := re.search(pattern, lowered)):
                found.append(Strategy(name, match.group(0), True))
        if re.search(r"\bplease\b", lowered) and not lowered.startswith("please"):
            found.append(Strategy("please", "please", True))
        for name, pattern in _EN_RUDE:
            if (match := re.search(pattern, lowered)):
                found.append(Strategy(name, match.group(0), False))
    return EnglishPoliteness(tuple(found))
