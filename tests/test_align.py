"""Forced alignment (`audio.align`): Whisper's words placed on the sound by PocketSphinx.

The excerpt in tests/data/verbatim was said by Piper phrase by phrase and filler by filler,
so where each phrase starts and ends, and where each filler is, is known to the sample.
The aligner is given only the phrases' words (as if Whisper had dropped every filler) and
must put them inside their phrases, off the fillers."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio.align import UNKNOWN, align, sound_out, word_spans
from bench import filler_set, spoken_verbatim
from feedback.fillers import is_filled_pause

EXCERPT = spoken_verbatim.EXCERPT
EDGE_MS = 80  # a phrase's edge: Piper's own silence at the ends of a phrase it says


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 10**15), commas=st.booleans(), fraction=st.sampled_from(["", ".5", ".25"]),
       ending=st.sampled_from(["", "%", "st", "th"]))
def test_the_aligner_places_the_words_pace_counts(n: int, commas: bool, fraction: str,
                                                 ending: str) -> None:
    """A numeral is placed on the sound with the words pace counts it as (one reading,
    `feedback.numbers`), "twenty-one" being one word to pace and two to the dictionary."""
    from audio.align import _tokens
    from feedback.numbers import say
    from feedback.pace import units_in

    numeral = (f"{n:,}" if commas else str(n)) + (fraction if ending in ("", "%") else "")
    written = numeral + ending
    tokens = _tokens(written, lambda word: word.isalpha())
    said = say(numeral + ("" if ending == "%" else ending))
    assert said and all(re.fullmatch(r"[a-z]+(-[a-z]+)?", word) for word in said)
    assert tokens == [t for word in said for t in word.split("-")] + ["percent"] * (ending == "%")
    assert units_in(written, "en") == len(said) + (ending == "%")


def test_written_words_become_dictionary_tokens() -> None:
    from audio.align import _tokens

    def known(word: str) -> bool:
        return word.isascii() and "ngodwana" not in word

    assert _tokens("Hello,", known) == ["hello"]
    assert _tokens("10%", known) == ["ten", "percent"]
    assert _tokens("$3.5", known) == ["three", "point", "five"]
    assert _tokens("well-known", known) == ["well", "known"]
    assert _tokens("Ngodwana.", known) == ["ngodwana"]  # sounded out by its letters
    assert _tokens("Ngodwana's", known) == ["ngodwanas"]
    assert _tokens("…", known) == []
    assert _tokens("♪", known) == [UNKNOWN]


def test_a_word_the_dictionary_lacks_is_sounded_out() -> None:
    assert sound_out("ngodwana") == "N G AA D W AE N AE"
    assert sound_out("shay") == "SH EY"
    assert sound_out("baggy") == "B AE G IY"
    assert sound_out("yolande") == "Y AA L AE N D"


@pytest.fixture(scope="module")
def excerpt() -> tuple[np.ndarray, list[dict]]:
    item = json.loads(EXCERPT.with_suffix(".json").read_text())
    return filler_set.load_audio(item, EXCERPT.parent), item["pieces"]


def test_words_land_in_their_phrases_and_off_the_fillers(
        excerpt: tuple[np.ndarray, list[dict]]) -> None:
    audio, pieces = excerpt
    phrases = [p for p in pieces if p["kind"] == "phrase"]
    words = [(k, word) for k, p in enumerate(phrases) for word in p["text"].split()]
    spans = align(audio, [word for _, word in words])
    assert spans is not None and len(spans) == len(words) and None not in spans
    aligned = [(k, span) for (k, _), span in zip(words, spans, strict=True) if span]
    after_cutoff = {pieces[at + 1]["text"] for at, p in enumerate(pieces[:-1])
                    if p["kind"] == "distractor" and p["text"] == "cutoff"}
    for k, phrase in enumerate(phrases):
        inside = [span for phrase_at, span in aligned if phrase_at == k]
        # A cut-off word (the start of a word, often the next one, and no more): the aligner may
        # well start the word there, and the acoustic evidence then has nothing to judge.
        if phrase["text"] not in after_cutoff:
            assert abs(inside[0][0] - phrase["start_ms"]) <= EDGE_MS, phrase["text"]
        assert abs(inside[-1][1] - phrase["end_ms"]) <= EDGE_MS, phrase["text"]
    for filler in (p for p in pieces if p["kind"] == "filler"):
        overlaps = [min(end, filler["end_ms"]) - max(start, filler["start_ms"])
                    for _, (start, end) in aligned]
        assert max(overlaps) <= 40, filler  # at most a frame or two of a neighbour's edge


def test_a_written_filled_pause_in_any_spelling_is_left_to_the_grammars_filler(
        excerpt: tuple[np.ndarray, list[dict]]) -> None:
    # Whisper writes "Umm...", "uhh," or "Hmm." as often as "um": each is the grammar's
    # filler (required where it was written), never a word the aligner must place (a
    # sounded-out "umm" took the sound beside the filler's, and the words around it moved).
    audio, pieces = excerpt
    spellings = iter(["Umm...", "uhh,", "Hmm.", "erm", "mm"] * len(pieces))
    words = [word for p in pieces if p["kind"] != "distractor"
             for word in (p["text"].split() if p["kind"] == "phrase" else [next(spellings)])]
    spans = align(audio, words)
    assert spans is not None
    for word, span in zip(words, spans, strict=True):
        assert (span is None) == is_filled_pause(word, "en"), word


def test_a_word_after_a_written_filled_pause_is_kept_off_the_filler() -> None:
    # Where Whisper wrote a filled pause, one was said between its neighbours, so there the
    # grammar's filler is not optional. When it was, the aligner put the "The" after a
    # drawn-out "Uhm..." (the filler set's en_105, 5.48-6.04 s) on the "Uhm" itself, 1.1 s
    # before its own sound, and the filler went uncounted.
    item = next(i for i in filler_set.load_set() if i["file"] == "en_105.opus")
    audio = filler_set.load_audio(item)
    uhm = next(p for p in item["pieces"] if p["text"] == "Uhm...")
    words = ("Umm, my biggest strength is staying calm under pressure. I think the plan needs "
             "one more review. Ehm... The client called me on a Sunday.").split()
    spans = align(audio, words)
    assert spans is not None
    the = spans[words.index("The")]
    assert the is not None and the[0] >= uhm["end_ms"] - EDGE_MS, the


def test_spans_are_stream_times_and_only_for_english(
        excerpt: tuple[np.ndarray, list[dict]]) -> None:
    audio, pieces = excerpt
    first = next(p for p in pieces if p["kind"] == "phrase")
    clip = audio[:first["end_ms"] * 16 + 4000]
    words = first["text"].split()
    spans = word_spans(clip, words, "en", offset_ms=60_000)
    assert spans is not None and len(spans) == len(words)
    assert all(s is not None and 60_000 <= s[0] < s[1] for s in spans)
    assert word_spans(clip, words, "ko") is None
    assert word_spans(clip, [], "en") is None


def test_a_turn_aligns_the_same_whatever_was_aligned_before(
        excerpt: tuple[np.ndarray, list[dict]]) -> None:
    """The decoder is shared by every session; what one turn leaves in its front end (the
    running cepstral mean, the noise estimate) must not move the next turn's words."""
    audio, pieces = excerpt
    first = next(p for p in pieces if p["kind"] == "phrase")
    clip, words = audio[:first["end_ms"] * 16 + 4000], first["text"].split()
    alone = align(clip, words)
    assert alone is not None
    rng = np.random.default_rng(7)
    for before in (rng.normal(0, 3000, 5 * 16_000), audio[-10 * 16_000:] // 8):
        align(before.astype(np.int16), ["the", "cost"])
        assert align(clip, words) == alone


def test_words_that_are_not_there_do_not_fit() -> None:
    silence = np.zeros(16_000, dtype=np.int16)
    assert align(silence, ["included", "in", "the", "cost", "optimization"]) is None


@settings(max_examples=40, deadline=None)
@given(samples=st.lists(st.integers(-32768, 32767), max_size=8000),
       words=st.lists(st.one_of(st.sampled_from(["the", "uh", "Um,", "10%", "$3.5", "-", "…",
                                                 "well-known", "Ngodwana's", "2021", "음"]),
                                st.text(max_size=12)), max_size=8),
       offset=st.integers(0, 100_000))
def test_any_audio_and_any_words_align_or_give_none(samples: list[int], words: list[str],
                                                    offset: int) -> None:
    """Whatever the microphone sent and whatever Whisper wrote (symbols, grammar syntax,
    other scripts), the aligner answers: spans inside the audio, in order, or None."""
    audio = np.array(samples, dtype=np.int16)
    spans = word_spans(audio, words, "en", offset_ms=offset)
    if spans is None:
        return
    assert len(spans) == len(words)
    placed = [span for span in spans if span is not None]
    assert all(offset <= a < b <= offset + len(audio) * 1000 // 16_000 + 10 for a, b in placed)
    assert all(p[1] <= q[0] for p, q in itertools.pairwise(placed))


def test_the_gateway_judges_the_stretches_the_aligned_words_leave(
        excerpt: tuple[np.ndarray, list[dict]]) -> None:
    """`gateway.scoring.speech_record`, as a voice turn's feedback is stored: Whisper's
    times put "included" over the "Um." before it; aligned, the "Um." is a free stretch."""
    from audio.stt import Transcript
    from audio.stt import Word as HeardWord
    from gateway.scoring import speech_record

    audio, pieces = excerpt
    first, um, second = pieces[0], pieces[1], pieces[2]
    assert (um["kind"], um["text"]) == ("filler", "Um.")
    clip = audio[:second["end_ms"] * 16 + 3200]
    offset = 40_000  # the turn's place in the stream

    def spread(text: str, start: int, end: int) -> list[HeardWord]:
        said = text.split()
        step = (end - start) // len(said)
        return [HeardWord(w, offset + start + i * step, offset + start + (i + 1) * step, 0.9)
                for i, w in enumerate(said)]

    words = spread(first["text"], first["start_ms"], first["end_ms"])
    words.append(HeardWord("included", offset + um["start_ms"] - 50,
                           offset + second["start_ms"] + 100, 0.9))  # loose, over the "Um."
    words += spread(" ".join(second["text"].split()[1:]), second["start_ms"] + 700,
                    second["end_ms"])
    transcript = Transcript(" ".join(w.text for w in words), offset, offset + len(clip) // 16,
                            tuple(words), "en", 0.0)
    with ThreadPoolExecutor(1) as workers:
        record = asyncio.run(speech_record(transcript, ((offset, offset + len(clip) // 16),),
                                           clip, offset, "en", workers))
    starts = [h["start_ms"] - offset for h in record["hesitations"]]
    assert any(abs(s - um["start_ms"]) <= 30 for s in starts), record["hesitations"]


def test_the_evidence_workers_close_with_the_speech_engines(
        excerpt: tuple[np.ndarray, list[dict]]) -> None:
    """The app's speech engines own the evidence workers: a turn's evidence runs on them,
    they close with the engines, and a turn that ends after that is still stored, with what
    the recogniser and the VAD gave."""
    from audio.stt import Transcript
    from audio.stt import Word as HeardWord
    from gateway.engines import SpeechEngines
    from gateway.scoring import speech_record

    audio, pieces = excerpt
    first = pieces[0]
    clip = audio[:first["end_ms"] * 16 + 1600]
    said = first["text"].split()
    step = (first["end_ms"] - first["start_ms"]) // len(said)
    words = tuple(HeardWord(w, first["start_ms"] + i * step,
                            first["start_ms"] + (i + 1) * step, 0.9) for i, w in enumerate(said))
    transcript = Transcript(first["text"], 0, len(clip) // 16, words, "en", 0.0)
    voiced = ((0, len(clip) // 16),)

    async def turns() -> tuple[dict, dict]:
        engines = SpeechEngines()
        before = await speech_record(transcript, voiced, clip, 0, "en", engines.evidence)
        await engines.aclose()
        after = await speech_record(transcript, voiced, clip, 0, "en", engines.evidence)
        return before, after

    before, after = asyncio.run(turns())
    assert "hesitations" in before and before["voiced"] != before["vad_voiced"]
    assert "hesitations" not in after and after["voiced"] == [list(voiced[0])]
    assert [w["word"] for w in after["words"]] == said
