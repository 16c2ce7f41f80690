"""Fillers where people put them, from Earnings-22's verbatim transcripts:

- `bench/verbatim_fillers.py` scores filler detection on the real calls, whose transcripts
  have no word times. The calls' audio is not here, so the placing of untimed fillers is
  checked where the truth is known: Piper says an excerpt of one of the transcripts
  (tests/data/verbatim, its SOURCES.md) phrase by phrase and filler by filler.
- `bench/spoken_verbatim.py`'s set (tests/data/verbatim/spoken): 80 excerpts of those
  transcripts said by the filler set's voices, every filler at a known time. The floors are
  what this code reaches there, a little under it (Whisper's words depend on the CPU's
  kernels), far from the issue's 0.9 / 0.9 (README, docs/feedback.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest

from bench import filler_set, spoken_verbatim
from bench.verbatim_fillers import (
    SLACK_MS,
    TOLERANCE_MS,
    Timed,
    Token,
    anchors,
    evaluate,
    excerpts,
    filler_window,
    place,
    read_nlp,
    score,
)

EXCERPT = spoken_verbatim.EXCERPT
RATE = 16_000


def test_a_rev_transcript_reads_as_tokens() -> None:
    tokens = read_nlp("token|speaker|ts|endTs|punctuation|prepunctuation|case|tags\n"
                      "Um|0|||,||UC|[]\nwe're|1|||||LC|['60:CONTRACTION']\n"
                      "an-|1|||||LC|[]\nMm-hmm|2|||.||MC|[]\n$17|0|||||CA|[]\n")
    assert [t.text for t in tokens] == ["um", "we're", "an", "mm-hmm", "$17"]
    assert [t.speaker for t in tokens] == ["0", "1", "1", "2", "0"]
    assert [t.filled for t in tokens] == [True, False, False, False, False]
    assert tokens[3].backchannel


def test_only_runs_of_matching_words_are_anchors() -> None:
    tokens = [Token(w, "0") for w in "so uh the plan is um simple really".split()]
    heard = [("So", 0, 200), ("a", 600, 700), ("plan", 700, 950), ("is", 950, 1100),
             ("simple.", 1700, 2100), ("Really?", 2500, 2900)]
    times = place(tokens, heard)
    # "so" matches alone ("the" was heard as "a"): no anchor; a filler is never one.
    assert times[0] is None and times[1] is None and times[2] is None
    assert times[3] == Timed(700, 950) and times[4] == Timed(950, 1100)
    assert times[5] is None
    assert times[6] == Timed(1700, 2100) and times[7] == Timed(2500, 2900)
    assert filler_window(times, 5) == Timed(1100 - SLACK_MS, 1700 + SLACK_MS)
    assert filler_window(times, 1) is None  # nothing anchored before it


def test_a_report_counts_once_and_only_over_a_filler() -> None:
    fillers = (Timed(1000, 1400), Timed(5000, 5100))
    assert score(fillers, [(1300, 1600), (1350, 1500), (8000, 8300)]) == {
        "fillers": 2, "hits": 1, "misses": 1, "false": 2}
    assert score(fillers, [(4900, 4990), (1450, 1700)]) == {
        "fillers": 2, "hits": 2, "misses": 0, "false": 0}


@pytest.fixture(scope="module")
def said() -> tuple[list[Token], np.ndarray, list[tuple[int, int]]]:
    """The excerpt as Piper said it, run by run (`spoken_verbatim.build_excerpt`, kept as
    data: Piper is random): its tokens, its audio and its fillers' true times."""
    item = json.loads(EXCERPT.with_suffix(".json").read_text())
    tokens = read_nlp(EXCERPT.read_text(encoding="utf-8"))
    truth = [(p["start_ms"], p["end_ms"]) for p in item["pieces"] if p["kind"] == "filler"]
    return tokens, filler_set.load_audio(item, EXCERPT.parent), truth


@pytest.fixture(scope="module")
def times(said: tuple[list[Token], np.ndarray, list[tuple[int, int]]]) -> list[Timed | None]:
    """The excerpt's words timed from Whisper's, as the harness times a call's."""
    tokens, audio, _ = said
    return place(tokens, anchors(audio))


def test_untimed_fillers_are_placed_where_they_were_said(
        said: tuple[list[Token], np.ndarray, list[tuple[int, int]]],
        times: list[Timed | None]) -> None:
    """Whisper times words over the fillers it drops, so a filler is not always between
    its neighbours' times; with the window's slack, five of this excerpt's six are within
    150 ms of their window (the sixth, an "Uh..." between "there's a," and "a quality,",
    173 ms after it). How often that changes a score is measured on the spoken set below."""
    tokens, _, truth = said
    assert sum(t.filled for t in tokens) == len(truth) == 6
    words = [t for t, token in zip(times, tokens, strict=True) if not token.filled]
    assert sum(t is not None for t in words) >= 0.8 * len(words)
    placed = [filler_window(times, i) for i, token in enumerate(tokens) if token.filled]
    near = 0
    for window, (start, end) in zip(placed, truth, strict=True):
        assert window is not None
        assert window.end_ms - window.start_ms <= 2500, (window, start, end)
        near += start < window.end_ms + TOLERANCE_MS and end > window.start_ms - TOLERANCE_MS
    assert near >= 5, list(zip(placed, truth, strict=True))


def test_the_gateway_is_scored_on_excerpts_of_the_recording(
        said: tuple[list[Token], np.ndarray, list[tuple[int, int]]],
        times: list[Timed | None], stt: Any) -> None:
    tokens, audio, _ = said
    rows = asyncio.run(evaluate(stt, tokens, audio, seconds=6, count=4))
    assert rows, "no usable excerpt"
    assert len(rows) == len(excerpts(tokens, times, len(audio) * 1000 // RATE, 6, 4))
    for row in rows:
        assert row["hits"] + row["misses"] == row["fillers"]
        assert row["hits"] + row["false"] == len(row["reported"])
        assert 0 <= row["start_ms"] < row["end_ms"] <= len(audio) * 1000 // RATE
    assert sum(row["fillers"] for row in rows) >= 3
    assert sum(row["hits"] for row in rows) >= 1


# recall, precision; measured 0.832 / 0.778 (MKL's kernels) and 0.822 / 0.798 (oneDNN's),
# 101 fillers; the floors sit ~0.05 under the lower.
SPOKEN_FLOORS = (0.74, 0.73)


def test_the_spoken_set_is_what_its_labels_say() -> None:
    items = spoken_verbatim.load_set()
    assert len(items) == 80
    assert sum(p["kind"] == "filler" for i in items for p in i["pieces"]) == 101
    for item in items:
        assert (spoken_verbatim.DATA / item["file"]).exists()
        starts = [p["start_ms"] for p in item["pieces"]]
        assert starts == sorted(starts)
        assert all(p["start_ms"] < p["end_ms"] for p in item["pieces"])


@pytest.fixture(scope="module")
def spoken(stt: Any) -> dict[str, Any]:
    return asyncio.run(spoken_verbatim.evaluate(stt))


def test_fillers_where_people_put_them(spoken: dict[str, Any]) -> None:
    """Recall and precision over the whole spoken set, as the gateway hears it."""
    result = spoken["en"]
    assert result["fillers"] == 101
    assert result["recall"] >= SPOKEN_FLOORS[0], result
    assert result["precision"] >= SPOKEN_FLOORS[1], result


def test_untimed_scoring_reads_as_exact_times(spoken: dict[str, Any]) -> None:
    """The real-call harness scores against windows placed from the words around each
    filler; on the spoken set, where the true times are known, it must read what they read
    (its window's slack was chosen here: 100 ms reads the same; 300 ms read recall +0.09)."""
    result = asyncio.run(spoken_verbatim.calibration(spoken["rows"]))
    exact, placed = result["exact_times"], result["placed_from_the_words"]
    assert exact["excerpts"] >= 50 and exact["fillers"] >= 40, result
    assert abs(placed["recall"] - exact["recall"]) <= 0.05, result
    assert abs(placed["precision"] - exact["precision"]) <= 0.05, result
