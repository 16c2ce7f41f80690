"""How an English numeral is said, word by word.

Whisper writes numbers as digits ("2021", "1,500", "3.5", "21st"). Pace counts the words
they were said with (`feedback.pace`), and the aligner places those words on the sound
(`audio.align`): both read a numeral here, so the words counted are the words placed.
Signs around a numeral ("$", "%") are the caller's: where "dollars" goes in what was said
depends on the words after it ("$3.5 million").
"""

from __future__ import annotations

import re

# A numeral as Whisper writes it: digits, thousands commas, a decimal part, an ordinal ending.
NUMERAL = re.compile(r"\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?")
# Past this many digits a figure is read digit by digit (an account or a phone number).
MAX_DIGITS = 12

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
             "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def say(numeral: str) -> list[str]:
    """The words `numeral` (one match of `NUMERAL`) is said with; a compound ("eighty-four")
    is one word. Four digits with no comma from 1100 to 2099 are read as a year, in two halves
    ("1984" nineteen eighty-four, "1905" nineteen oh five, "1900" nineteen hundred, "2021"
    twenty twenty-one), but 2000-2009 as a number (two thousand five)."""
    ordinal = numeral[-2:].isalpha()
    digits = numeral[:-2] if ordinal else numeral
    whole, _, fraction = digits.replace(",", "").partition(".")
    if not whole.isdigit():
        return []
    if len(whole) > MAX_DIGITS:
        words = [_ONES[int(d)] for d in whole]
    elif len(whole) == 4 and "," not in digits and not fraction and not ordinal:
        words = _year(int(whole))
    else:
        words = _cardinal(int(whole))
    if fraction:
        words += ["point", *(_ONES[int(d)] for d in fraction)]
    elif ordinal:
        words[-1] = _ordinal(words[-1])
    return words


def _year(n: int) -> list[str]:
    if not 1100 <= n <= 2099 or 2000 <= n < 2010:
        return _cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return [*_cardinal(high), "hundred"]
    return _cardinal(high) + (["oh"] if low < 10 else []) + _cardinal(low)


def _cardinal(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else "")]
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (_cardinal(n % 100) if n % 100 else [])
    for size, name in _SCALES:
        if n >= size:
            rest = n % size
            return _cardinal(n // size) + [name] + (_cardinal(rest) if rest else [])
    raise AssertionError(n)


def _ordinal(word: str) -> str:
    head, _, last = word.rpartition("-")
    said = _ORDINALS.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return f"{head}-{said}" if head else said
