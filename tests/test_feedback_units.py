"""feedback/ as a library: fillers, pace, pauses, clarity, politeness, scores, reports."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio import models
from audio.stt import FILLER_PROMPT, STTOptions, WhisperSTT
from audio.vad import TurnDetector
from bench.clips import speech_stops
from feedback import scores
from feedback.analyze import analyze_turn
from feedback.fillers import CONFIDENT, detect_fillers
from feedback.pace import measure_pace, units_in
from feedback.politeness import english_politeness, speech_level
from feedback.report import ReportTurn, build_report
from feedback.report_html import render_html
from feedback.types import Expectations, Hesitation, Language, Span, Turn, Word
from tests.audio_support import load_wav, references, silence

COUNSELING = Expectations(register_ko=("haeyo", "hasipsio", "hae"), penalize_pauses=False,
                          weights={"fillers": 0.5, "pace": 0.5, "pauses": 0.0, "clarity": 0.5,
                                   "politeness": 0.0})
INTERVIEW = Expectations(register_ko=("hasipsio", "haeyo"), hedges_matter=True)


def fillers_in(text: str, language: Language = "en") -> list[str]:
    return [f.text for f in detect_fillers(Turn.from_text(text, language)).fillers]


def test_fillers_in_the_reference_texts() -> None:
    refs = references()
    assert fillers_in(refs["piper_en_1.wav"]) == ["um", "so", "uh"]
    assert fillers_in(refs["piper_en_2.wav"]) == ["like", "you know"]
    assert fillers_in(refs["piper_en_3.wav"]) == ["uh", "basically", "like", "um"]
    assert fillers_in(refs["espeak_ko_1.wav"], "ko") == ["음", "그러니까"]
    assert fillers_in(refs["espeak_ko_2.wav"], "ko") == ["어", "그러니까", "음"]


@pytest.mark.parametrize(("text", "expected"), [
    ("I like pizza and I really like my team.", []),
    ("It looks like rain, you know that feeling?", []),
    ("You know what I mean about the plan.", []),
    ("Uh-huh. Mhm, that makes sense.", []),
    ("네, 예. 맞아요.", []),
    ("그 사람이 저한테 말했어요.", []),
    ("저… 그게… 좀 어려웠어요.", ["저", "좀"]),
    ("으... 그러니까 제가 맡았어요.", ["으", "그러니까"]),  # the 음, 어, 으, 그, 저
])
def test_content_words_and_backchannels_are_not_fillers(text: str, expected: list[str]) -> None:
    language: Language = "ko" if re.search(r"[가-힣]", text) else "en"
    assert fillers_in(text, language) == expected


@pytest.mark.parametrize(("text", "language", "expected"), [
    # Whisper writes one sound many ways; each is counted under the form people know it by.
    ("Ehm... the client called. Uhmm, I wrote it.", "en", ["um", "um"]),
    ("Hmmm. Mmm, err, ahh, I uhhh think so.", "en", ["hmm", "mm", "er", "ah", "uh"]),
    ("으으음... 그러니까 음음, 어어어 제가 했어요.", "ko", ["음", "그러니까", "음", "어"]),
    # Words, not filled pauses: "'em" (them), "eh?", "hum" and "ahead" keep their sense.
    ("Give 'em the plan, eh? We hum along and go ahead.", "en", []),
])
def test_a_filled_pause_counts_in_any_spelling(text: str, language: Language,
                                               expected: list[str]) -> None:
    assert fillers_in(text, language) == expected


def test_a_filled_pause_in_any_spelling_is_no_word_of_the_pace() -> None:
    assert units_in("Ehm... the client called. Uhmm, I wrote it. Hmmm.", "en") == 6


_DRAWN_OUT = {"um": r"[Uu]u{0,3}h{0,3}m{1,4}", "uh": r"[Uu]u{0,3}h{1,4}", "hmm": r"[Hh]h{0,2}m{1,5}",
              "er": r"[Ee]e{0,2}r{1,3}m{0,2}", "음": r"으{0,3}음{1,3}", "어": r"어{1,4}"}


@settings(max_examples=200, deadline=None)
@given(data=st.data(), form=st.sampled_from(sorted(_DRAWN_OUT)),
       mark=st.sampled_from(["", ",", ".", "...", "…", "?"]))
def test_every_drawn_out_spelling_counts_as_its_filled_pause(data: st.DataObject, form: str,
                                                              mark: str) -> None:
    spelling = data.draw(st.from_regex(_DRAWN_OUT[form], fullmatch=True))
    language: Language = "ko" if form in ("음", "어") else "en"
    after = "제가 했어요." if language == "ko" else "I wrote it."
    assert fillers_in(f"{spelling}{mark} {after}", language) == [form]


def test_filler_rate_and_clusters() -> None:
    words = tuple(Word(w, i * 500, i * 500 + 300, 0.9) for i, w in
                  enumerate("um, so I uh think, um, like we shipped it on time".split()))
    report = detect_fillers(Turn(words, "en", source="voice"))
    assert report.words == 12 and report.per_100 == pytest.approx(5 / 12 * 100, abs=0.01)
    assert report.by_word == {"um": 2, "so": 1, "uh": 1, "like": 1}
    assert len(report.clusters) == 1


def test_a_stretch_no_word_claims_counts_only_when_its_sound_is_confident() -> None:
    words = (Word("I", 0, 200, 0.9), Word("think", 900, 1300, 0.9))
    sure, unsure = Hesitation(300, 600, 0.91), Hesitation(650, 800, 0.2)
    turn = Turn(words, "en", voiced=(Span(0, 1300),), source="voice", hesitations=(sure, unsure))
    report = detect_fillers(turn)
    [acoustic] = report.fillers
    assert (acoustic.kind, acoustic.start_ms, acoustic.end_ms, acoustic.confidence) == (
        "acoustic", 300, 600, 0.91)
    assert report.per_100 == pytest.approx(1 / 3 * 100, abs=0.01)  # 2 words + the unwritten um
    # Without the audio's evidence (typed text, turns stored before it was kept): none.
    assert not detect_fillers(Turn(words, "en", voiced=(Span(0, 1300),), source="voice")).fillers


def test_a_written_um_stands_unless_its_own_sound_says_otherwise() -> None:
    words = (Word("Um,", 0, 300, 0.35), Word("I", 400, 500, 0.9), Word("uh", 600, 800, 0.3),
             Word("think,", 900, 1300, 0.9), Word("uh,", 1400, 1500, 0.3),
             Word("we", 1500, 1700, 0.9))
    laugh, filler = Hesitation(0, 280, 0.1), Hesitation(620, 790, 0.8)
    turn = Turn(words, "en", source="voice", hesitations=(laugh, filler))
    found = [(f.text, f.start_ms, f.confidence) for f in detect_fillers(turn).fillers]
    # "Um," sits on a stretch that sounds nothing like a filler and Whisper was unsure: gone.
    # "uh" is the filler-like stretch it sits on: one filler, at the stretch's times.
    # "uh," inside running speech has no stretch of its own: kept as written.
    assert found == [("uh", 620, 0.8), ("uh", 1400, 0.3)]
    sure = Turn((Word("Um,", 0, 300, 0.9), *words[1:]), "en", source="voice",
                hesitations=(laugh, filler))
    assert detect_fillers(sure).fillers[0].text == "um"  # a sure recogniser stands


def test_an_unsure_um_among_words_the_recogniser_was_guessing_at_is_not_counted() -> None:
    # Whisper on a voice it cannot follow: every word unsure, an "어" among them, no stretch
    # of voice to back it.
    guessed = tuple(Word(w, i * 400, i * 400 + 300, p) for i, (w, p) in enumerate(
        [("기한", 0.31), ("구역의", 0.07), ("어,", 0.3), ("소통을", 0.23), ("습리나", 0.28)]))
    assert not detect_fillers(Turn(guessed, "ko", source="voice", hesitations=())).fillers
    # The same "어" among words heard clearly is a disfluency the recogniser hesitated over.
    clear = tuple(Word(w.text, w.start_ms, w.end_ms, 0.3 if w.text == "어," else 0.9)
                  for w in guessed)
    [filler] = detect_fillers(Turn(clear, "ko", source="voice", hesitations=())).fillers
    assert (filler.text, filler.confidence) == ("어", 0.3)
    # Without the audio's evidence the written words stand as they are.
    assert detect_fillers(Turn(guessed, "ko", source="voice")).fillers[0].text == "어"
    # With a stretch of voice of its own that does not clearly sound like something else
    # (a drawn-out "어..." reads 0.2-0.5: longer and less steady than most of what the model
    # learnt), the written "어" is that stretch's filler, however unsure the words around it,
    # and is marked where the stretch is: Whisper's time for a filler can be 500 ms off.
    own = Hesitation(820, 1500, 0.3)
    [filler] = detect_fillers(Turn(guessed, "ko", source="voice", hesitations=(own,))).fillers
    assert (filler.text, filler.start_ms, filler.end_ms) == ("어", 820, 1500)
    unlike = Hesitation(820, 1500, 0.1)
    assert not detect_fillers(Turn(guessed, "ko", source="voice", hesitations=(unlike,))).fillers


def test_a_written_um_with_no_time_and_no_sound_of_its_own_is_not_counted() -> None:
    # The disfluent prompt now and then makes Whisper insert an "um" its alignment gives no
    # time: no sound is under it, however sure the decoder was of the token.
    for confidence in (0.6, 0.9):
        words = (Word("I", 0, 300, 0.9), Word("um", 300, 300, confidence),
                 Word("wrote", 300, 700, 0.9), Word("it.", 700, 900, 0.9))
        assert not detect_fillers(Turn(words, "en", source="voice", hesitations=())).fillers
        # A filler-like stretch beside it is its sound: one filler, at the stretch's times.
        beside = Hesitation(320, 560, 0.8)
        [filler] = detect_fillers(Turn(words, "en", source="voice", hesitations=(beside,))).fillers
        assert (filler.text, filler.start_ms, filler.end_ms) == ("um", 320, 560)
        # Without the audio's evidence the written word stands.
        assert detect_fillers(Turn(words, "en", source="voice")).fillers[0].text == "um"
    # An "uh" given time in running speech stays (it has sound, only no pause of its own).
    timed_uh = (Word("And", 0, 200, 0.9), Word("uh,", 200, 380, 0.6), Word("I", 380, 500, 0.9))
    assert [f.text for f in detect_fillers(Turn(timed_uh, "en", source="voice",
                                                hesitations=())).fillers] == ["uh"]
    # A lexical filler is a word, whose time may run into the next: not judged by its length.
    lexical = (Word("So,", 0, 20, 0.9), Word("I", 20, 300, 0.9), Word("think", 300, 600, 0.9))
    assert [f.kind for f in detect_fillers(Turn(lexical, "en", source="voice",
                                                hesitations=())).fillers] == ["lexical"]


def test_a_written_um_timed_far_from_its_sound_is_the_stretch_between_its_neighbours() -> None:
    # Recorded speech (the CrisperWhisper clip, docs/feedback.md): Whisper wrote "um," but
    # timed it 20 ms long, 430 ms after the end of the only voice between "delicious," and
    # "or", and was unsure of the token (0.08) though sure of the words around it. The
    # stretch reads 0.32: a drawn-out, gliding "um" is unlike most of what the model learnt.
    words = (Word("taste", 6040, 7920, 1.0), Word("delicious,", 7920, 9620, 0.79),
             Word("um,", 11780, 11800, 0.08), Word("or", 11880, 12200, 0.7),
             Word("not", 12200, 12400, 0.73), Word("at", 12400, 12560, 0.96))
    um = Hesitation(10610, 11350, 0.32)
    [filler] = detect_fillers(Turn(words, "en", source="voice", hesitations=(um,))).fillers
    assert (filler.text, filler.start_ms, filler.end_ms) == ("um", 10610, 11350)
    # A stretch with a written word between it and the "um" is not its place: the token
    # has no sound of its own there, and is not counted.
    elsewhere = Hesitation(7920, 8600, 0.32)
    assert not detect_fillers(Turn(words, "en", source="voice",
                                   hesitations=(elsewhere,))).fillers
    # The word before may be timed to end a little into the filler's sound (evaluation set,
    # en_33: "Sunday," ended 10 ms into the "Um." after it, and Whisper timed its "um..."
    # 500 ms late): a stretch mostly between the neighbours is still the filler's place.
    sunday = (Word("a", 5940, 6060, 0.99), Word("Sunday,", 6060, 6560, 0.99),
              Word("um...", 7400, 7720, 0.61), Word("The", 7720, 7720, 0.87),
              Word("budget", 7720, 7820, 0.43))
    um = Hesitation(6550, 6900, 0.92)
    found = detect_fillers(Turn(sunday, "en", source="voice", hesitations=(um,))).fillers
    assert [(f.text, f.kind, f.start_ms) for f in found] == [("um", "filled_pause", 6550)]


def test_a_filled_pause_split_into_two_stretches_counts_once() -> None:
    # A drawn-out "음..." whose level dips in the middle is two stretches, both under the
    # written "음,": it is the one that sounds like a filled pause, and the other, under it,
    # is the same pause, not a second one the recogniser missed.
    words = (Word("예산이", 0, 400, 0.9), Word("음,", 500, 900, 0.9),
             Word("줄었습니다", 1000, 1500, 0.9))
    first, second = Hesitation(450, 600, 0.3), Hesitation(700, 950, 0.8)
    found = detect_fillers(Turn(words, "ko", source="voice", hesitations=(first, second))).fillers
    assert [(f.text, f.start_ms) for f in found] == [("음", 700)]
    # Apart from any written one, it is a filler of its own.
    apart = Hesitation(1600, 1900, 0.8)
    found = detect_fillers(Turn(words, "ko", source="voice", hesitations=(first, apart))).fillers
    # (the written one at the stretch under it, where its sound is)
    assert [(f.kind, f.start_ms) for f in found] == [("filled_pause", 450), ("acoustic", 1600)]


def test_one_sound_written_as_two_fillers_counts_once() -> None:
    # Whisper on a hummed tune (evaluation set, ko_83): "음... 음..." over one stretch of
    # voice that is clearly no filled pause. The first pairs with it and is dropped; the
    # second has no stretch left, but it is the same sound, not a filler in running speech.
    words = (Word("슬플린아", 2840, 3300, 0.51), Word("음...", 4580, 5260, 0.46),
             Word("음...", 5260, 5600, 0.48), Word("도깨끗이,", 5600, 6220, 0.42))
    hum = Hesitation(4360, 5240, 0.08)
    assert not detect_fillers(Turn(words, "ko", source="voice", hesitations=(hum,))).fillers
    # Where the one sound is a filled pause, it is one filler, not two.
    um = Hesitation(4360, 5240, 0.9)
    found = detect_fillers(Turn(words, "ko", source="voice", hesitations=(um,))).fillers
    assert [(f.text, f.start_ms) for f in found] == [("음", 4360)]
    # Two written fillers, each with a stretch of its own, are two.
    second = Hesitation(5300, 5600, 0.9)
    found = detect_fillers(Turn(words, "ko", source="voice", hesitations=(um, second))).fillers
    assert [(f.text, f.start_ms) for f in found] == [("음", 4360), ("음", 5300)]


def test_a_written_filler_over_two_stretches_is_the_one_that_sounds_like_it() -> None:
    # Whisper on a voice it could not follow (evaluation set, ko_119) wrote one "아..." over
    # the end of a sentence and the drawn-out "저..." after it: two stretches, both under it.
    # Equally near, its sound is the one that sounds like a filled pause, not the word's end.
    words = (Word("아...", 7200, 8600, 0.07),)
    word_end, drawn = Hesitation(7130, 7380, 0.14), Hesitation(7730, 8390, 0.44)
    for stretches in ((word_end, drawn), (drawn, word_end)):
        found = detect_fillers(Turn(words, "ko", source="voice", hesitations=stretches)).fillers
        assert [(f.text, f.kind) for f in found] == [("아", "filled_pause")]


def test_a_written_jeo_or_geu_is_a_filler_only_with_a_stretch_of_its_own() -> None:
    # "저" (I) and "그" (that) are words; drawn out ("저...") they are filled pauses, and the
    # drawn-out syllable is a stretch of voice of its own. Whisper guessing at a voice it
    # cannot follow writes "저," in running speech (evaluation set, ko_79), even surely.
    words = (Word("예산이", 9040, 9880, 0.64), Word("저,", 9880, 10080, 0.14),
             Word("난우고,", 10220, 10620, 0.27), Word("저,", 10700, 10820, 0.62),
             Word("고습린아", 10920, 11840, 0.77))
    assert not detect_fillers(Turn(words, "ko", source="voice", hesitations=())).fillers
    # With a stretch of its own that does not clearly sound like something else, it is one.
    drawn = Hesitation(10690, 11100, 0.4)
    found = detect_fillers(Turn(words, "ko", source="voice", hesitations=(drawn,))).fillers
    assert [(f.text, f.start_ms) for f in found] == [("저", 10690)]
    # "어" is no word: written in running speech by a recogniser sure of it, it stays.
    sure_eo = tuple(Word("어," if w.start_ms == 10700 else w.text, w.start_ms, w.end_ms,
                         w.probability) for w in words)
    found = detect_fillers(Turn(sure_eo, "ko", source="voice", hesitations=())).fillers
    assert [f.text for f in found] == ["어"]
    # Without the audio's evidence the written words stand as they are.
    assert [f.text for f in detect_fillers(Turn(words, "ko", source="voice")).fillers] == [
        "저", "저"]


_TOKENS = ["um,", "uh...", "음...", "어", "으?", "저,", "그...", "like", "so,", "you", "know",
           "I", "led", "the", "team", "예산이", "좀", "그냥", "네"]


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.tuples(st.sampled_from(_TOKENS), st.integers(0, 3000),
                                st.integers(0, 900), st.floats(0.0, 1.0)), max_size=12),
       stretches=st.lists(st.tuples(st.integers(0, 3000), st.integers(120, 1200),
                                    st.floats(0.0, 1.0)), max_size=6),
       language=st.sampled_from(["en", "ko"]))
def test_the_sound_never_invents_or_doubles_fillers(
        words: list[tuple[str, int, int, float]], stretches: list[tuple[int, int, float]],
        language: Language) -> None:
    """Whatever the recogniser wrote and wherever the stretches of voice fall: every filler
    found is a written one or a confident stretch; a stretch is the sound of one filler at
    most; and without the audio's evidence the written fillers stand as they are."""
    timed = tuple(Word(text, start, start + length, probability)
                  for text, start, length, probability in sorted(words, key=lambda w: w[1]))
    heard = tuple(Hesitation(start, start + length, probability)
                  for start, length, probability in stretches)
    written = detect_fillers(Turn(timed, language, source="voice")).fillers
    found = detect_fillers(Turn(timed, language, source="voice", hesitations=heard)).fillers
    assert {f.word_index for f in found if f.kind != "acoustic"} <= {
        f.word_index for f in written}
    for filler in found:
        if filler.kind == "acoustic":
            assert filler.confidence >= CONFIDENT
            assert any((h.start_ms, h.end_ms) == (filler.start_ms, filler.end_ms) for h in heard)
    for h in heard:
        at_its_times = [f for f in found if f.kind != "lexical"
                        and (f.start_ms, f.end_ms) == (h.start_ms, h.end_ms)]
        same = sum(1 for g in heard if (g.start_ms, g.end_ms) == (h.start_ms, h.end_ms))
        assert len(at_its_times) <= same
    assert len(found) <= len(written) + len(heard)


@pytest.mark.parametrize(("rate", "score"), [(0, 100), (2, 100), (3, 80), (4, 60), (6, 30),
                                             (8, 0), (12, 0)])
def test_filler_score_formula(rate: float, score: int) -> None:
    from feedback.fillers import FillerReport

    assert scores.filler_score(FillerReport((), 100, rate, {}, ())) == score


def timed(text: str, *, start: int = 0, word_ms: int = 300, gap_ms: int = 100,
          language: str = "en") -> Turn:
    words, voiced, t = [], [], start
    for token in text.split():
        words.append(Word(token, t, t + word_ms, 0.9))
        voiced.append(Span(t, t + word_ms))
        t += word_ms + gap_ms
    return Turn(tuple(words), language, tuple(voiced), "voice")  # type: ignore[arg-type]


def test_pace_speech_and_articulation_rates() -> None:
    turn = timed(" ".join(["word"] * 30))  # 30 words: 300 ms each, 100 ms apart
    pace = measure_pace(turn)
    assert pace is not None
    assert pace.articulation_rate == pytest.approx(30 / 9.0 * 60, rel=1e-3)  # voiced 9 s
    assert pace.speech_rate == pytest.approx(30 / 11.9 * 60, rel=1e-3)
    assert [w.start_ms for w in pace.windows] == [0]
    korean = measure_pace(timed("안녕하세요 반갑습니다", word_ms=1000, language="ko"))
    assert korean is not None and korean.articulation_rate == pytest.approx(5.0)  # 10 syllables, 2 s
    assert measure_pace(Turn.from_text("typed words only", "en")) is None


def test_speech_rate_runs_from_the_first_sound_to_the_last() -> None:
    """Whisper starts the first word where its audio starts, pre-roll and all (bench/
    pace_truth.py: ~340 ms early on every answer); the voice says where speech begins."""
    turn = timed(" ".join(["word"] * 30), start=1000)
    early = Word("So", 600, 1300, 0.9)  # the first word, timed from the audio's start
    late = Word("done.", 12_900, 13_600, 0.9)  # and the last run on into the silence
    turn = Turn((early, *turn.words[1:-1], late), "en", turn.voiced, "voice")
    pace = measure_pace(turn)
    assert pace is not None
    assert pace.speech_ms == 11_900
    assert pace.speech_rate == pytest.approx(30 / 11.9 * 60, rel=1e-3)
    assert [w.start_ms for w in pace.windows] == [1000]  # "So" counts in the first window
    assert sum(w.rate for w in pace.windows) > 0
    without_sound = measure_pace(Turn(turn.words, "en", (), "voice"))
    assert without_sound is not None and without_sound.speech_ms == 13_000


def test_counseling_never_penalises_long_silences() -> None:
    steady = timed("I have been feeling tired and I do not know why it keeps happening")
    halting = Turn(tuple(Word(w.text, (w.start_ms or 0) + i * 2500, (w.end_ms or 0) + i * 2500,
                              w.probability) for i, w in enumerate(steady.words)),
                   "en", tuple(Span(s.start_ms + i * 2500, s.end_ms + i * 2500)
                               for i, s in enumerate(steady.voiced)), "voice")
    calm, slow = analyze_turn(steady, COUNSELING), analyze_turn(halting, COUNSELING)
    assert slow.pauses is not None and len(slow.pauses.long_pauses) == 13
    assert slow.scores["pauses"] == calm.scores["pauses"] == 100
    assert slow.scores["pace"] == calm.scores["pace"]
    assert slow.overall == calm.overall
    interview = analyze_turn(halting, INTERVIEW)
    assert interview.scores["pauses"] == 0  # the same silences do count in an interview


def test_clarity_evidence() -> None:
    turn = Turn((Word("I,", 0, 100, 0.9), Word("I", 100, 200, 0.9), Word("think", 200, 400, 0.3),
                 Word("we", 400, 500, 0.9), Word("went-", 500, 700, 0.9), Word("we", 700, 800, 0.9),
                 Word("decided", 800, 1200, 0.95), Word("maybe.", 1200, 1500, 0.9)), "en",
                source="voice")
    clarity = analyze_turn(turn, INTERVIEW).clarity
    assert clarity.repetitions == (1,) and clarity.restarts == (4,)
    assert clarity.low_confidence_words == (2,) and clarity.hedges == ("maybe",)


KOREAN_LEVELS = {
    "hasipsio": ["감사합니다.", "회의는 세 시에 시작합니다.", "보고서를 제출했습니다.", "질문이 있습니까?",
                 "잠시만 기다려 주십시오.", "제가 맡겠습니다.", "내일 다시 연락드리겠습니다.",
                 "일정이 2주 지연되었습니다.", "어떻게 생각하십니까?", "함께 해결합시다."],
    "haeyo": ["감사해요.", "회의는 세 시에 시작해요.", "보고서를 냈어요.", "질문 있어요?",
              "잠깐만 기다려 주세요.", "제가 할게요.", "그렇죠?", "좋네요.", "어디 가세요?",
              "내일 다시 연락드릴게요."],
    "hae": ["고마워.", "회의는 세 시에 시작해.", "보고서 냈어.", "질문 있어?", "잠깐만 기다려 줘.",
            "내가 할게.", "그렇지?", "좋네.", "어디 가?", "미안해."],
    "haera": ["고맙다.", "회의는 세 시에 시작한다.", "보고서를 냈다.", "질문 있냐?", "잠깐 기다려라.",
              "내가 하겠다.", "같이 가자.", "어디 가니?", "빨리 먹어라.", "이것은 책이다."],
}


@pytest.mark.parametrize("level", list(KOREAN_LEVELS))
def test_korean_speech_levels(level: str) -> None:
    for sentence in KOREAN_LEVELS[level]:
        assert speech_level(sentence) == level, sentence


def test_korean_register_and_switches() -> None:
    polite = analyze_turn(Turn.from_text("안녕하십니까. 저는 김하늘입니다. 잘 부탁드려요.", "ko"), INTERVIEW)
    mixed = analyze_turn(Turn.from_text("안녕하십니까. 나는 개발자야. 잘 부탁해요.", "ko"), INTERVIEW)
    assert polite.scores["politeness"] == 100
    assert mixed.politeness.switches == 2  # type: ignore[union-attr]
    assert mixed.scores["politeness"] is not None and mixed.scores["politeness"] < 50
    assert "저는" in polite.politeness.honorific_markers  # type: ignore[union-attr]


@pytest.mark.parametrize(("polite", "rude"), [
    ("Could you please send me the report when you have a moment? Thanks!",
     "Send me the report."),
    ("Sorry to bother you, but I think we might need more time.", "Why is this late?"),
    ("Hi, would you mind checking the numbers with us?", "You need to check the numbers."),
    ("Thank you for your patience, we appreciate it.", "This is a damn mess, fix it."),
    ("Maybe we could look at the plan together?", "Please just answer the question."),
])
def test_english_politeness_orders_request_pairs(polite: str, rude: str) -> None:
    assert (scores.english_politeness_score(english_politeness(polite))
            > scores.english_politeness_score(english_politeness(rude)))


def test_known_fillers_survive_the_real_stt(models_dir: Path) -> None:
    """At least 6 of the 7 fillers in piper_en_1..3 come through Whisper (filler prompt on)."""
    known = {1: ["um", "uh"], 2: ["like", "you know"], 3: ["uh", "like", "um"]}
    stt = WhisperSTT({"en": models.whisper_tiny_en()},
                     options=STTOptions(initial_prompt=FILLER_PROMPT))

    async def found() -> int:
        hits = 0
        for clip, expected in known.items():
            transcript = await stt.transcribe(load_wav(f"piper_en_{clip}.wav"), language="en")
            words = tuple(Word(w.text, w.start_ms, w.end_ms, w.probability) for w in transcript.words)
            detected = [f.text for f in detect_fillers(Turn(words, "en", source="voice")).fillers]
            hits += sum(min(expected.count(f), detected.count(f)) for f in set(expected))
        return hits

    assert asyncio.run(found()) >= 6


def test_pace_matches_the_reference_text_within_10_percent() -> None:
    """Articulation rate from the real STT vs reference word count over the VAD voiced time."""
    refs = references()
    stt = WhisperSTT({"en": models.whisper_tiny_en()},
                     options=STTOptions(initial_prompt=FILLER_PROMPT))

    async def rates() -> tuple[float, float]:
        audio = np.concatenate([load_wav("piper_en_2.wav"), silence(1.0)])
        [stop] = speech_stops(TurnDetector(), audio)
        voiced = tuple(Span(a, b) for a, b in stop.voiced)
        transcript = await stt.transcribe(stop.audio, language="en", offset_ms=stop.audio_start_ms)
        words = tuple(Word(w.text, w.start_ms, w.end_ms, w.probability) for w in transcript.words)
        pace = measure_pace(Turn(words, "en", voiced, "voice"))
        assert pace is not None and pace.articulation_rate is not None
        voiced_s = sum(s.ms for s in voiced) / 1000
        return pace.articulation_rate, units_in(refs["piper_en_2.wav"], "en") / voiced_s * 60

    measured, expected = asyncio.run(rates())
    assert abs(measured - expected) / expected <= 0.10


def three_turn_report(language: str = "en") -> dict:
    turns = [ReportTurn(1, timed("Um so I think my biggest strength is staying calm"), "Thanks."),
             ReportTurn(2, timed("Like in my last job we had a really tight deadline",
                                 start=30_000), "Go on."),
             ReportTurn(3, Turn.from_text("Could you tell me more about the team? Thank you.",
                                          "en"), "Sure.")]
    return build_report(turns, INTERVIEW, language)


def test_report_aggregates_and_is_deterministic() -> None:
    first, second = three_turn_report(), three_turn_report()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["turns"] == 3 and first["fillers"]["by_word"] == {"um": 1, "like": 1}
    assert [w["start_ms"] for w in first["pace"]["windows"]] == [0, 30_000]
    assert set(first["tips"]) == {"fillers", "pace", "pauses", "clarity", "politeness"}
    assert first["transcript"][0]["words"][0] == {"text": "Um", "filler": True,
                                                  "low_confidence": False,
                                                  "long_pause_after": False, "start_ms": 0}


def test_report_html_is_self_contained_and_escaped() -> None:
    report = three_turn_report()
    report["transcript"][2]["reply"] = "<script>alert(1)</script>"
    html = render_html(report, "Job interview")
    assert html.startswith("<!doctype html>") and "<svg" in html and "<mark>Um</mark>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert not re.search(r"(src|href)=[\"']?https?:", html)


def test_metrics_for_one_utterance_are_fast_enough_to_run_per_turn() -> None:
    turn = timed(" ".join(["um", "so", "I", "think", "like", "we", "shipped"] * 6))
    started = time.perf_counter()
    analyze_turn(turn, INTERVIEW)
    assert time.perf_counter() - started < 1.0  # generous: the benchmark holds the real figure


def test_plain_narrative_korean_is_not_graded_rude_in_counseling_or_with_a_partner() -> None:
    from feedback.analyze import analyze_turn
    from feedback.types import Turn
    from gateway.scoring import expectations
    from scenarios.loader import builtin_catalog

    catalog = builtin_catalog()
    narrative = Turn.from_text("그는 길 한 옆으로 걸어갔다.", "ko")
    counseling = analyze_turn(narrative, expectations(catalog.scenarios["counseling"])).as_json()
    assert counseling["scores"]["politeness"] is None and "politeness" not in counseling["tips"]
    partner = analyze_turn(narrative, expectations(catalog.scenarios["relationship_talk"])).as_json()
    assert partner["scores"]["politeness"] == 100
    interview = analyze_turn(narrative, expectations(catalog.scenarios["job_interview"])).as_json()
    assert interview["scores"]["politeness"] < 50  # an interview still expects -습니다/-요


@pytest.mark.parametrize(("heard", "fillers", "words"), [
    # Whisper writes a hyphenated word as two: "Mm" "-hmm." is one answer, not two fillers.
    (["Mm", "-hmm."], [], 0),
    (["Uh", "-huh,", "that's", "right."], [], 2),
    (["Mm-hmm."], [], 0),
    # An "mm" on its own is still a filled pause, and a hyphen elsewhere joins no filler.
    (["Mm.", "I", "see."], ["mm"], 3),
    (["Um,", "well", "-known", "names."], ["um"], 4),
])
def test_a_backchannel_written_in_two_halves_is_not_a_filler(
        heard: list[str], fillers: list[str], words: int) -> None:
    turn = Turn(tuple(Word(text, 300 * i, 300 * i + 250, 0.9) for i, text in enumerate(heard)),
                "en", (), "voice")
    report = detect_fillers(turn)
    assert [f.text for f in report.fillers] == fillers
    assert report.words == words


@pytest.mark.parametrize(("numeral", "said"), [
    ("7", "seven"), ("42", "forty-two"), ("305", "three hundred five"),
    ("2021", "twenty twenty-one"), ("1984", "nineteen eighty-four"),
    ("1905", "nineteen oh five"), ("1900", "nineteen hundred"), ("2005", "two thousand five"),
    ("1,984", "one thousand nine hundred eighty-four"),   # a comma: a count, not a year
    ("1,200,000", "one million two hundred thousand"), ("3.25", "three point two five"),
    ("21st", "twenty-first"), ("3rd", "third"), ("12th", "twelfth"), ("40th", "fortieth"),
    ("100th", "one hundredth"), ("1984th", "one thousand nine hundred eighty-fourth"),
    ("0049123456789012", "zero zero four nine one two three four five six seven eight nine "
                         "zero one two"),                 # too long for a figure: digit by digit
])
def test_a_numeral_is_read_as_people_say_it(numeral: str, said: str) -> None:
    from feedback.numbers import say

    assert " ".join(say(numeral)) == said
