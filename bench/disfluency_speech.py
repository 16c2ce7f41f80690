"""Filled pauses on DisfluencySpeech: real speech, disfluency-annotated transcripts, no times.

    python bench/disfluency_speech.py PATH/DisfluencySpeech [--split test] [--limit N]

The recordings: DisfluencySpeech (Wang and Herremans 2024, amaai-lab, Apache-2.0, audio and
transcripts; huggingface.co/datasets/amaai-lab/DisfluencySpeech): one speaker in a studio
re-enacting 5,000 utterances of the Switchboard telephone corpus from their
disfluency-annotated transcripts, fillers, repairs, laughter and sighs included. Its test
split is 250 clips (about 7 s each) in one Parquet file: `audio` (the clip's file, as
bytes) and `transcript_annotated` (transcript A: every filler, discourse marker and
non-speech event kept). The machine this was written on cannot reach Hugging Face, so no
figure on it is in the README yet; on one that can:

    GIT_LFS_SKIP_SMUDGE=1 git clone https://huggingface.co/datasets/amaai-lab/DisfluencySpeech
    cd DisfluencySpeech && git lfs pull --include "data/test-*"

Each clip is scored as `bench/verbatim_fillers.py` scores an excerpt of a real call:
1. Whisper tiny.en decodes the clip without the disfluent prompt, its words placed on the
   sound by forced alignment; its words are anchors, never the judge;
2. the transcript's words other than fillers are matched to Whisper's (runs of two or more
   equal words), which gives those words times;
3. a filler of the transcript lies between the matched word before it and the one after
   it, the clip's start and end standing in where there is none, its window widened by
   100 ms into each;
4. a clip with under 80 % of its words matched, or a filler's window over 2.5 s, is left
   out (and counted as left out);
5. the clip goes through the gateway's VAD turn by turn and each turn through the gateway's
   recogniser and filler detection, and each reported filled pause is matched one for one
   to a window it overlaps; one that overlaps none is a false report.
Clips with no filler in their transcript count too: what is reported there is false.

A transcript's filled pauses are its "uh", "um" and their spellings
(`verbatim_fillers.FILLED_PAUSES`), wherever they stand: Switchboard's annotation marks most
with `{F uh, }`, but the count does not depend on the markup. "Oh", which Switchboard also
marks `{F ...}`, is an interjection, not a filled pause, and is not counted; a backchannel
("uh-huh") is no filled pause either.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.verbatim_fillers import (
    Timed,
    Token,
    anchors,
    filler_windows,
    lfs_pointer,
    place,
    score,
    summary,
)

RATE = 16_000
# Markup of Switchboard's disfluency annotation that is no word: "{F", "{D", "{E", "{C",
# "{A" open a filler, discourse marker, editing term, conjunction or aside; "}" closes it;
# "[", "+" and "]" bracket a repair; "/" and "-/" end a slash unit; "#" marks overlap.
_MARKUP = re.compile(r"^(\{[A-Z]|[{}\[\]+/#()]+|-/)$")
# A non-speech event: "<laughter>", "[laughter]", "<<long pause>>", "[noise]".
_EVENT = re.compile(r"^(<[^<>]*>|\[[a-z_-]+\])$", re.IGNORECASE)


def read_annotated(text: str) -> list[Token]:
    """The words of an annotated transcript, in order, markup and non-speech events left
    out: "{F Uh, } [ I, + I ] think <laughter> so. /" reads "uh", "i", "i", "think", "so".
    A word cut off ("th-") is left out too: Whisper does not write one, so it could neither
    anchor a filler nor count against a clip's matched words."""
    text = re.sub(r"<[^<>]*>", " ", text)  # events may hold spaces: "<<long pause>>"
    tokens = []
    for word in text.split():
        if _MARKUP.match(word) or _EVENT.match(word) or word.rstrip(",.?!").endswith("-"):
            continue
        token = Token.of(word.strip("{}[]"), "0")
        if token is not None:
            tokens.append(token)
    return tokens


@dataclass(frozen=True)
class Clip:
    name: str
    audio: np.ndarray  # 16 kHz, int16
    tokens: list[Token]


def windows(tokens: list[Token], times: list[Timed | None],
            length_ms: int) -> tuple[Timed, ...] | None:
    """Where the clip's filled pauses must be, the clip's start and end standing in for a
    matched word before the first word and after the last, or None where the clip cannot
    be scored (`verbatim_fillers.filler_windows`)."""
    return filler_windows(tokens, times, range(len(tokens)), length_ms)


async def evaluate(stt: Any, clips: list[Clip]) -> dict[str, Any]:
    """Score Parley on each clip that can be scored; rows and the summary."""
    from bench.filler_set import by_turns

    rows, left_out = [], []
    for clip in clips:
        length_ms = len(clip.audio) * 1000 // RATE
        heard = await asyncio.to_thread(anchors, clip.audio)
        placed = windows(clip.tokens, place(clip.tokens, heard), length_ms)
        if placed is None:
            left_out.append(clip.name)
            continue
        reported = await by_turns(stt, clip.audio, "en")
        rows.append({**score(placed, [(s, e) for _, s, e, _ in reported],
                             tolerance_ms=0),
                     "clip": clip.name, "start_ms": 0, "end_ms": length_ms,
                     "reported": reported})
    scored = summary(rows)
    scored["clips"] = scored.pop("excerpts")
    return {"en": {**scored, "clips_left_out": len(left_out)}, "rows": rows,
            "left_out": left_out}


def read_split(path: Path) -> Iterator[Clip]:
    """The clips of one of the dataset's Parquet files (columns `audio`, a struct of the
    clip's file as `bytes` and its `path`, and `transcript_annotated`)."""
    import pyarrow.parquet as pq
    from faster_whisper import decode_audio

    table = pq.read_table(path, columns=["audio", "transcript_annotated"])
    for i, (audio, text) in enumerate(zip(table.column("audio").to_pylist(),
                                          table.column("transcript_annotated").to_pylist(),
                                          strict=True)):
        if not audio or not audio.get("bytes"):
            raise SystemExit(f"{path.name}: clip {i} holds no audio, only a reference to it")
        samples = decode_audio(io.BytesIO(audio["bytes"]), sampling_rate=RATE)
        yield Clip(audio.get("path") or f"{path.stem}:{i}",
                   (np.clip(samples, -1, 1) * 32767).astype(np.int16), read_annotated(text))


def split_files(root: Path, split: str) -> list[Path]:
    files = sorted((root / "data").glob(f"{split}-*.parquet"))
    if not files:
        raise SystemExit(f"no {split} split under {root / 'data'}")
    if pointers := [f.name for f in files if lfs_pointer(f)]:
        raise SystemExit(f"{', '.join(pointers)}: Git LFS pointers, not data: run "
                         f"`git lfs pull --include 'data/{split}-*'` first")
    return files


async def measure(root: Path, split: str = "test", limit: int | None = None) -> dict[str, Any]:
    from bench.filler_set import with_recogniser

    clips = [clip for f in split_files(root, split) for clip in read_split(f)][:limit]

    async def on_clips(stt: Any) -> dict[str, Any]:
        result = await evaluate(stt, clips)
        return {"benchmark": "disfluency_speech", "set": f"DisfluencySpeech/{split}",
                "clips_read": len(clips), **result}

    return await with_recogniser(on_clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the dataset's clone (DisfluencySpeech)")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.root, args.split, args.limit)), indent=1))


if __name__ == "__main__":
    main()
