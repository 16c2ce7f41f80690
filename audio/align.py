"""Where each recognised word's sound is: forced alignment of Whisper's words to the audio.

Whisper's word times come from its attention and run loose by 100-500 ms: a word is often
stretched over a dropped "uh" beside it, or ends before its own last syllable. The feedback
decides which stretches of voice no word claims (`feedback.acoustic`), so loose times turn a
dropped filler into part of a word and a word's syllable into a filler. PocketSphinx's
hidden Markov models, with the CMU dictionary (both shipped in the `pocketsphinx` wheel),
place the same words to the 10 ms frame. Between any two words the grammar lets a short
"uh", "um", "er", "ah" or "hmm" stand, so that a filler Whisper dropped is not forced into
a word; the aligner never decides that such a filler is there (its own "uh"s are as often a
word's reduced vowel), it only keeps words off it. Where Whisper wrote one, the filler there
is not optional: Whisper heard it between those words. English only: there is no Korean
model.

`align` is a blocking function over int16 audio, for a worker thread: one decoder (the model
is ~100 MB, 0.3 s to load: `load` it with the other models) serves one utterance at a time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from audio.types import PIPELINE_RATE
from feedback.fillers import is_filled_pause
from feedback.numbers import NUMERAL, say

FRAME_MS = 10
GRAMMAR_FILLERS = ("uh", "um", "er", "ah", "hmm")
UNKNOWN = "_unknown_"  # a token with no letters to sound out: speech of any kind
# Sounding out a word the dictionary lacks ("Ngodwana"): letter by letter, with the commonest
# digraphs. Crude, but it keeps the word's length and its consonants, where a single
# any-speech phone (+SPN+, 30 ms at least) lets the aligner squeeze the word into a filler.
_DIGRAPHS = {"sh": "SH", "ch": "CH", "th": "TH", "ng": "NG", "ph": "F", "ck": "K",
             "ee": "IY", "ea": "IY", "oo": "UW", "ou": "AW", "ai": "EY", "ay": "EY",
             "oa": "OW", "qu": "K W"}
_LETTERS = dict(zip("abcdefghijklmnopqrstuvwxyz",
                    "AE B K D EH F G HH IH JH K L M N AA P K R S T AH V W K_S Y Z".split(),
                    strict=True))
# Audio goes to the decoder in pieces: it holds the GIL while it decodes, and a whole turn at
# once would stall the event loop for as long (0.45 s for 25 s of speech); a piece, ~2 ms.
CHUNK_BYTES = 2 * PIPELINE_RATE // 20  # 50 ms
MAX_ADDED = 5_000  # words sounded out before the decoder is made afresh (its dictionary grows)
_lock = threading.Lock()
_decoder: Any = None
_added = 0
# A grammar that matches next to nothing: a pass over the utterance with it costs little and
# leaves the decoder's cepstral mean fitted to this utterance's sound (see `_own_mean`).
_PROBE = "#JSGF V1.0;\ngrammar probe;\npublic <probe> = [uh];\n"


Span = tuple[int, int]  # start and end, ms


def sound_out(letters: str) -> str:
    """Phones for a word the dictionary lacks, from its letters (a-z, at least one)."""
    if len(letters) > 2 and letters.endswith("e") and letters[-2] not in "aeiou":
        letters = letters[:-1]  # a silent final e
    phones, at = [], 0
    while at < len(letters):
        pair = letters[at:at + 2]
        if pair in _DIGRAPHS and (at or pair != "ng"):
            phones.append(_DIGRAPHS[pair])
            at += 2
            continue
        letter = letters[at]
        phones.append("IY" if letter == "y" and at else _LETTERS[letter])
        at += 2 if pair == letter * 2 else 1  # a doubled letter is said once
    return " ".join(phones).replace("_", " ")


def _tokens(word: str, known: Any) -> list[str]:
    """What the dictionary will say for one written word (several for "2021" or "10%")."""
    text = word.lower().strip(".,?!;:\"()[]…")
    tokens: list[str] = []
    for piece in filter(None, re.split(r"[-/]", text)):
        if piece.startswith("$"):
            piece = piece[1:]
        percent = piece.endswith("%")
        piece = piece.rstrip("%")
        if NUMERAL.fullmatch(piece):  # as pace counts it (twenty-one: twenty one)
            tokens += [token for word in say(piece) for token in word.split("-")]
        elif known(piece):
            tokens.append(piece)
        elif piece:  # sounded out by `align`, under its letters alone
            tokens.append(re.sub(r"[^a-z]", "", piece) or UNKNOWN)
        if percent:
            tokens.append("percent")
    return tokens


def load() -> None:
    """Load the model and dictionary now rather than on the first turn."""
    with _lock:
        _fresh_decoder()


def _fresh_decoder() -> Any:
    global _decoder, _added
    if _decoder is None or _added > MAX_ADDED:
        from pocketsphinx import Decoder

        # bestpath off: the best path through the lattice costs 1 s on 25 s of speech, and
        # the search's own best path is what a forced alignment wants anyway. Beams wider
        # than the defaults (1e-48, 1e-48, 7e-29): a grammar of Whisper's words, some of them
        # wrong, lost its only path in 11 of the spoken set's 106 turns, which then fell back
        # to Whisper's loose times; 3 now, for ~20 % more time (0.40 -> 0.48 s on 25 s).
        _decoder = Decoder(samprate=PIPELINE_RATE, loglevel="FATAL", bestpath=False,
                           beam=1e-80, pbeam=1e-80, wbeam=1e-60)
        _decoder.add_word(UNKNOWN, "+SPN+", True)
        _decoder.add_jsgf_string("probe", _PROBE)
        _added = 0
    return _decoder


def _feed(decoder: Any, raw: bytes) -> None:
    """One utterance through the active search, in pieces: the decoder holds the GIL while
    it works."""
    decoder.start_utt()
    for at in range(0, len(raw), CHUNK_BYTES):
        decoder.process_raw(raw[at:at + CHUNK_BYTES])
    decoder.end_utt()


def _own_mean(decoder: Any, raw: bytes) -> None:
    """Fit the decoder's front end to this utterance alone. PocketSphinx normalises each
    frame by a running cepstral mean, and estimates the noise it removes, carrying both from
    one utterance to the next; so the same turn aligned after someone else's (another
    session's, another voice, another room) came out differently: JFK's "Americans" ran
    1.6 s over the pause after it when aligned first, 0.5 s after five seconds of noise.
    A fresh front end (the model's mean, no noise estimate) and one pass over the utterance
    make the alignment a function of the audio and the words alone. The pass searches no
    words, so it costs a fraction of the alignment."""
    decoder.reinit_feat()
    decoder.activate_search("probe")
    _feed(decoder, raw)


def align(audio: np.ndarray, words: Sequence[str]) -> list[Span | None] | None:
    """Per word, where its sound is (ms from the audio's start), or None for the whole when
    the words cannot be aligned to the audio at all. A word with nothing to say (a lone
    punctuation mark) has no span, and neither has a written filled pause in any spelling
    ("uh", "Umm...", "Hmm."; `feedback.fillers.is_filled_pause`): the grammar's filler
    stands for it between its neighbours, required there (optional between other words), so
    the words beside it are kept off its sound without the aligner placing it."""
    with _lock:
        return _align(_fresh_decoder(), audio, words)


def _align(decoder: Any, audio: np.ndarray, words: Sequence[str]) -> list[Span | None] | None:
    global _added
    known = decoder.lookup_word
    written = [is_filled_pause(word, "en") for word in words]
    said = [[] if filler else _tokens(word, known)  # "um", "Umm...": the grammar's filler
            for word, filler in zip(words, written, strict=True)]
    for token in {token for tokens in said for token in tokens}:
        if known(token) is None:
            decoder.add_word(token, sound_out(token), False)
            _added += 1
    if not any(said):
        return None
    # Before each word, and after the last, a filler: required where Whisper wrote one.
    body, here = [], False
    for tokens, filler in zip(said, written, strict=True):
        here = here or filler
        if tokens:
            body.append(f"{'<filler>' if here else '[<filler>]'} {' '.join(tokens)}")
            here = False
    body.append("<filler>" if here else "[<filler>]")
    decoder.add_jsgf_string("words", "#JSGF V1.0;\ngrammar words;\n"
                            f"<filler> = {' | '.join(GRAMMAR_FILLERS)};\n"
                            f"public <said> = {' '.join(body)};\n")
    raw = np.ascontiguousarray(audio, dtype=np.int16).tobytes()
    _own_mean(decoder, raw)
    decoder.activate_search("words")
    _feed(decoder, raw)
    if decoder.hyp() is None:
        return None
    # Segments: the words said ("we'll(2)": its second pronunciation), the grammar's fillers,
    # silences and noises (<sil>, [NOISE]) and the grammar's empty steps ("(NULL)").
    heard = [(segment.word.split("(")[0], segment.start_frame * FRAME_MS,
              (segment.end_frame + 1) * FRAME_MS) for segment in decoder.seg()]
    spoken = [(word, start, end) for word, start, end in heard
              if word and word not in GRAMMAR_FILLERS and not word.startswith(("<", "["))]
    spans: list[Span | None] = []
    at = 0
    for tokens in said:
        pieces = spoken[at:at + len(tokens)]
        if [word for word, _, _ in pieces] != tokens:
            return None
        spans.append((pieces[0][1], pieces[-1][2]) if tokens else None)
        at += len(tokens)
    return spans if at == len(spoken) else None


def word_spans(audio: np.ndarray, words: Sequence[str], language: str, *,
               offset_ms: int = 0) -> list[Span | None] | None:
    """`align` in stream time (the audio starts at `offset_ms`); None where there is no model
    for `language`."""
    if not language.startswith("en") or not words:
        return None
    spans = align(audio, words)
    if spans is None:
        return None
    return [(offset_ms + span[0], offset_ms + span[1]) if span else None for span in spans]

