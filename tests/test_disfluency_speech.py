"""`bench/disfluency_speech.py`: filled pauses scored on DisfluencySpeech, real speech whose
transcripts mark every disfluency but give no times.

The dataset cannot be reached from here, so the harness is run on a Parquet file of the
dataset's shape: the Piper-said Earnings-22 excerpt (tests/data/verbatim, every filler at a
known time) cut into four clips of DisfluencySpeech's length, each with its transcript
written in Switchboard's disfluency annotation, stored as 22.05 kHz WAV files."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import soxr

from bench import filler_set, spoken_verbatim
from bench.disfluency_speech import Clip, evaluate, read_annotated, read_split, split_files, windows
from bench.verbatim_fillers import SLACK_MS, TOLERANCE_MS, Timed, Token

RATE = 16_000
# (start, end) of each clip in the excerpt, cut in its pauses, and its transcript as
# Switchboard's annotation writes it: repairs in "[ ... + ... ]", fillers in "{F ... }".
CLIPS = [
    (0, 8300, "And then if we need further clarification on the questions, [ we'll, + we'll ] "
              "take them as they come. / {F Um, } included in the cost optimization, -/"),
    (8300, 12900, "{F uh, } initiatives, as I mentioned, there's [ a, {F uh, } + a ] quality, "
                  "{F uh, } -/"),
    (12900, 19500, "improvement project in Ngodwana. / {F Um, } and then we have [ an-, + a ] "
                   "series of smaller cost initiatives. / <breathing>"),
    (19500, None, "[ One-, + ones ] that we believe will give us very quick payback two, three "
                  "years, {F um, } that makes sense, /"),
]


def test_an_annotated_transcript_reads_as_its_words() -> None:
    tokens = read_annotated("{F Uh, } [ I, + I ] think <laughter> {D you know, } so. / "
                            "{F Oh, } uh-huh <<long pause>> [noise] [ th-, + the ] end -/ # yeah #")
    assert [t.text for t in tokens] == ["uh", "i", "i", "think", "you", "know", "so", "oh",
                                        "uh-huh", "the", "end", "yeah"]
    # "oh" is an interjection and "uh-huh" a backchannel: neither is a filled pause.
    assert [t.text for t in tokens if t.filled] == ["uh"]
    assert [t.text for t in tokens if t.backchannel] == ["uh-huh"]


def test_a_clips_edges_stand_in_for_words_before_and_after_it() -> None:
    tokens = [Token(w, "0") for w in "um so the plan is simple uh".split()]
    times = [None, Timed(400, 600), Timed(600, 700), Timed(700, 950), Timed(950, 1100),
             Timed(1100, 1500), None]
    assert windows(tokens, times, 2600) == (Timed(-SLACK_MS, 400 + SLACK_MS),
                                            Timed(1500 - SLACK_MS, 2600 + SLACK_MS))
    # Under 80 % of the words matched (3 of 5): the clip cannot be scored.
    assert windows(tokens, [None, None, None, *times[3:]], 2600) is None
    # A window over 2.5 s says the words around it were not where the filler is.
    assert windows(tokens, times, 5000) is None


def test_a_split_that_is_no_data_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test-00000-of-00001.parquet").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 70900000\n")
    with pytest.raises(SystemExit, match="git lfs pull"):
        split_files(tmp_path, "test")
    with pytest.raises(SystemExit, match="no validation split"):
        split_files(tmp_path, "validation")
    # A split whose audio column names files instead of holding them cannot be scored.
    referenced = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.table({"audio": [{"bytes": None, "path": "clip.wav"}],
                             "transcript_annotated": ["{F uh, } yes. /"]}), referenced)
    with pytest.raises(SystemExit, match="clip 0 holds no audio"):
        list(read_split(referenced))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[tuple[int, int]]]]:
    """The excerpt's clips as a DisfluencySpeech split, and each clip's fillers' true times."""
    excerpt = spoken_verbatim.EXCERPT
    item = json.loads(excerpt.with_suffix(".json").read_text())
    audio = filler_set.load_audio(item, excerpt.parent)
    total_ms = len(audio) * 1000 // RATE
    files, texts, truth = [], [], []
    for i, (start, end, text) in enumerate(CLIPS):
        end = total_ms if end is None else end
        clip = audio[start * RATE // 1000:end * RATE // 1000].astype(np.float32) / 32768
        wav = io.BytesIO()
        sf.write(wav, soxr.resample(clip, RATE, 22_050), 22_050, format="WAV", subtype="PCM_16")
        files.append({"bytes": wav.getvalue(), "path": f"clip_{i}.wav"})
        texts.append(text)
        truth.append([(p["start_ms"] - start, p["end_ms"] - start) for p in item["pieces"]
                      if p["kind"] == "filler" and start <= p["start_ms"] < end])
    root = tmp_path_factory.mktemp("DisfluencySpeech")
    (root / "data").mkdir()
    pq.write_table(pa.table({"audio": files, "transcript_annotated": texts}),
                   root / "data" / "test-00000-of-00001.parquet")
    return root, truth


@pytest.fixture(scope="module")
def clips(dataset: tuple[Path, list[list[tuple[int, int]]]]) -> list[Clip]:
    """The split as the harness reads it (each clip decoded once for the tests below)."""
    return [clip for f in split_files(dataset[0], "test") for clip in read_split(f)]


def test_the_split_reads_as_clips_of_16_khz_audio_and_words(
        dataset: tuple[Path, list[list[tuple[int, int]]]], clips: list[Clip]) -> None:
    _, truth = dataset
    assert [c.name for c in clips] == [f"clip_{i}.wav" for i in range(4)]
    assert [sum(t.filled for t in c.tokens) for c in clips] == [len(t) for t in truth] \
        == [1, 3, 1, 1]
    assert abs(len(clips[0].audio) - 8.3 * RATE) < RATE // 100


def test_the_gateway_is_scored_on_each_clip(
        dataset: tuple[Path, list[list[tuple[int, int]]]], clips: list[Clip], stt: Any) -> None:
    _, truth = dataset
    result = asyncio.run(evaluate(stt, clips))
    rows = result["rows"]
    # A clip whose words Whisper heard otherwise is left out ("a quality" was written
    # "equality", so 6 of the second clip's 8 words matched), and said so.
    assert len(rows) + result["en"]["clips_left_out"] == 4 and len(rows) >= 3, result
    for row in rows:
        assert row["fillers"] == len(truth[int(row["clip"][5])])
        assert row["hits"] + row["misses"] == row["fillers"]
        assert row["hits"] + row["false"] == len(row["reported"])
    assert result["en"]["found"] >= 1, result["en"]


def test_untimed_fillers_of_a_clip_are_placed_where_they_were_said(
        dataset: tuple[Path, list[list[tuple[int, int]]]], clips: list[Clip]) -> None:
    """Each filler of a clip that can be scored is placed over where it was said, within
    150 ms, as five of six are on the whole excerpt (tests/test_verbatim_fillers.py)."""
    from bench.verbatim_fillers import anchors, place

    _, truth = dataset
    placed_fillers = near = 0
    for clip, said in zip(clips, truth, strict=True):
        placed = windows(clip.tokens, place(clip.tokens, anchors(clip.audio)),
                         len(clip.audio) * 1000 // RATE)
        if placed is None:
            continue
        assert len(placed) == len(said)
        placed_fillers += len(placed)
        near += sum(start < w.end_ms + TOLERANCE_MS and end > w.start_ms - TOLERANCE_MS
                    for w, (start, end) in zip(placed, said, strict=True))
    assert placed_fillers >= 3 and near >= placed_fillers - 1, (near, placed_fillers)
