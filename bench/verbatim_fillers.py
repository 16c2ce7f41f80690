"""Filled pauses on real speech, scored against a verbatim transcript that has no word times.

    python bench/verbatim_fillers.py PATH/speech-datasets/earnings22 [--excerpts 8] [--seconds 20]

The recordings: Earnings-22's Subset 10 (Rev, CC BY-SA 4.0, github.com/revdotcom/speech-
datasets): ten earnings calls, 11 hours of accented English, transcribed verbatim by Rev's
transcriptionists, "uh" and "um" included, as `.nlp` files of one token per line and no
times. The calls' audio is kept in Git LFS, which the machine this was written on cannot
reach (the tool library's copy of the repository has the transcripts, not the audio):

    git clone https://github.com/revdotcom/speech-datasets && cd speech-datasets
    git lfs pull --include "earnings22/media/4453225.mp3,earnings22/media/4469088.mp3,..."

A filler with no time is placed by the words around it (`place`):
1. the whole call is decoded by Whisper tiny.en without the disfluent prompt: it writes
   few fillers, and its words serve only as anchors, never as the judge;
2. the transcript's words other than fillers are matched to Whisper's (`difflib`, runs of
   two or more equal words), which gives those words times;
3. a filler of the transcript lies between the matched word before it and the one after
   it: its window runs from the end of the one to the start of the other, widened by
   100 ms either way (Whisper stretches a word over a filler it does not write).

Excerpts (`excerpts`): up to N per call, about S seconds each, spread over the call, one
speaker each, starting and ending in a pause of 400 ms or more between matched words, with
at least 80 % of their words matched and every filler's window under 2.5 s. Each excerpt
goes through the gateway's VAD turn by turn and each turn through the gateway's recogniser
and filler detection (`filler_set.by_turns`), as a user's microphone would. A reported
filled pause is a hit when it overlaps the window of a transcript's filled pause, one for
one in time order; otherwise it is a false report. Backchannels ("mm-hmm",
"uh-huh") are not filled pauses: a report over one is a false report.

How wide a window is was settled where the truth is known (`bench/spoken_verbatim.py`:
excerpts of these transcripts said by TTS voices, each filler at a known time; `calibration`
there): with 100 ms and no further tolerance, this scoring reads the same recall and
precision as the exact times scored at ±150 ms. Wider windows read higher, for a report
near a filler that was missed then counts as finding it (300 ms: recall +0.09, precision
+0.08); narrower ones read lower. `tests/test_verbatim_fillers.py` holds both.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import functools
import itertools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE = 16_000
TOLERANCE_MS = 150
# What Rev's verbatim style writes for a filled pause, and for a backchannel (its style
# guide; these are the reference's words, not the detector's lists).
FILLED_PAUSES = {"uh", "um", "uhm", "umm", "uhh", "hmm", "hm", "er", "erm", "ah"}
BACKCHANNELS = {"mm-hmm", "uh-huh", "mhm", "mm"}
MIN_RUN = 2
MIN_MATCHED = 0.8
MAX_WINDOW_MS = 2500
MIN_PAUSE_MS = 400
# Whisper times a word over a filler it does not write ("come." ran on over the "Um" after
# it, "initiatives" started back over the "uh" before it), so a window reaches into the
# words either side: by this much, which makes untimed scoring read as exact times do
# (module docstring; `bench/spoken_verbatim.py` calibration).
SLACK_MS = 100


@dataclass(frozen=True)
class Token:
    text: str  # as written, punctuation dropped, lower case
    speaker: str

    @staticmethod
    def of(word: str, speaker: str) -> Token | None:
        """The token a transcript's word makes, or None for a tag ("<laugh>") or a word
        that is only punctuation."""
        text = "" if word.startswith("<") else _plain(word)
        return Token(text, speaker) if text else None

    @property
    def filled(self) -> bool:
        return self.text in FILLED_PAUSES

    @property
    def backchannel(self) -> bool:
        return self.text in BACKCHANNELS


@dataclass(frozen=True)
class Timed:
    start_ms: int
    end_ms: int


def _plain(text: str) -> str:
    return re.sub(r"[^\w'\-$%.]", "", text.lower()).strip("-.")


def read_nlp(text: str) -> list[Token]:
    """The tokens of a Rev `.nlp` transcript (token|speaker|ts|endTs|punctuation|...);
    tags such as "<laugh>" and "<inaudible>" are no words."""
    fields = (line.split("|") for line in text.splitlines()[1:])
    return [token for f in fields if len(f) >= 2 and (token := Token.of(f[0], f[1]))]


def place(tokens: list[Token], heard: list[tuple[str, int, int]]) -> list[Timed | None]:
    """Times for the transcript's words, from the recogniser's (`heard`: word, start, end):
    each word other than a filler or backchannel that falls in a run of `MIN_RUN` or more
    equal words gets the time of its match; the others get None."""
    ours = [i for i, t in enumerate(tokens) if not (t.filled or t.backchannel)]
    theirs = [(w, s, e) for w, s, e in ((_plain(w), s, e) for w, s, e in heard)
              if w and w not in FILLED_PAUSES and w not in BACKCHANNELS]
    matcher = difflib.SequenceMatcher(None, [tokens[i].text for i in ours],
                                      [w for w, _, _ in theirs], autojunk=False)
    times: list[Timed | None] = [None] * len(tokens)
    for block in matcher.get_matching_blocks():
        if block.size >= MIN_RUN:
            for k in range(block.size):
                _, start, end = theirs[block.b + k]
                times[ours[block.a + k]] = Timed(start, end)
    return times


def filler_window(times: list[Timed | None], index: int,
                  length_ms: int | None = None) -> Timed | None:
    """Where the transcript's token `index` (a filler) must be: after the matched word
    before it and before the matched word after it, reaching `SLACK_MS` into each, for
    Whisper stretches a word over a filler it does not write. Given the recording's
    `length_ms` (a whole clip), its start and end stand in where no word is matched."""
    start, end = (None, None) if length_ms is None else (Timed(0, 0), Timed(length_ms, length_ms))
    before = next((t for t in reversed(times[:index]) if t is not None), start)
    after = next((t for t in times[index + 1:] if t is not None), end)
    if before is None or after is None or after.start_ms < before.end_ms - TOLERANCE_MS:
        return None
    return Timed(before.end_ms - SLACK_MS, max(before.end_ms, after.start_ms) + SLACK_MS)


def filler_windows(tokens: list[Token], times: list[Timed | None], span: range,
                   length_ms: int | None = None) -> tuple[Timed, ...] | None:
    """The windows of the fillers among `tokens[span]` (`filler_window`), or None where the
    span cannot be scored: no words, under `MIN_MATCHED` of its words matched, or a filler
    whose window has none or is over `MAX_WINDOW_MS`."""
    words = [i for i in span if not (tokens[i].filled or tokens[i].backchannel)]
    if not words or sum(times[i] is not None for i in words) < MIN_MATCHED * len(words):
        return None
    fillers = []
    for i in span:
        if tokens[i].filled:
            window = filler_window(times, i, length_ms)
            if window is None or window.end_ms - window.start_ms > MAX_WINDOW_MS:
                return None
            fillers.append(window)
    return tuple(fillers)


@dataclass(frozen=True)
class Excerpt:
    start_ms: int
    end_ms: int
    first: int  # token indexes, [first, last]
    last: int
    fillers: tuple[Timed, ...]  # where the transcript's filled pauses are
    backchannels: int


def excerpts(tokens: list[Token], times: list[Timed | None], length_ms: int, seconds: float,
             count: int) -> list[Excerpt]:
    """Up to `count` excerpts of about `seconds`, spread over a recording of `length_ms`
    (see the module's docstring for what makes an excerpt usable)."""
    matched = [i for i, t in enumerate(times) if t is not None]
    if not matched:
        return []
    # Cut points: the recording's start and end, and a pause of MIN_PAUSE_MS between two
    # matched words of one speaker with nothing between them.
    cuts: list[tuple[int | None, int | None]] = [(None, matched[0])]
    cuts += [(a, b) for a, b in itertools.pairwise(matched)
             if b == a + 1 and tokens[a].speaker == tokens[b].speaker
             and _at(times, b).start_ms - _at(times, a).end_ms >= MIN_PAUSE_MS]
    cuts.append((matched[-1], None))
    found: list[Excerpt] = []
    k = 0
    while k < len(cuts) - 1:
        before, first = cuts[k]
        assert first is not None
        start = _at(times, first).start_ms
        end_at = next((j for j in range(k + 1, len(cuts))
                       if _at(times, cuts[j][0]).end_ms - start >= seconds * 1000), None)
        if end_at is None:
            break
        last, after = cuts[end_at]
        assert last is not None
        excerpt = _usable(tokens, times, first, last, before, after, length_ms)
        if excerpt is not None:
            found.append(excerpt)
            k = end_at
        else:
            k += 1
    if len(found) <= count:
        return found
    step = len(found) / count
    return [found[int(i * step)] for i in range(count)]


def _at(times: list[Timed | None], index: int | None) -> Timed:
    time = times[index] if index is not None else None
    assert time is not None, index
    return time


def _usable(tokens: list[Token], times: list[Timed | None], first: int, last: int,
            before: int | None, after: int | None, length_ms: int) -> Excerpt | None:
    span = range(first, last + 1)
    if len({tokens[i].speaker for i in span}) != 1:
        return None
    fillers = filler_windows(tokens, times, span)
    if fillers is None:
        return None
    # Cut in the middle of the pauses around the excerpt; at the recording's start, from
    # its start; at its end, two seconds after the last word.
    start = 0 if before is None else (_at(times, before).end_ms + _at(times, first).start_ms) // 2
    end = (min(_at(times, last).end_ms + 2000, length_ms) if after is None
           else (_at(times, last).end_ms + _at(times, after).start_ms) // 2)
    return Excerpt(start, end, first, last, fillers,
                   sum(tokens[i].backchannel for i in span))


def score(fillers: tuple[Timed, ...], reported: list[tuple[int, int]],
          tolerance_ms: int = TOLERANCE_MS) -> dict[str, int]:
    """Hits, misses and false reports against `fillers` (true times or placed windows): a
    report (start, end) is a hit when it overlaps an unmatched filler, widened by
    `tolerance_ms`, in time order (±150 ms around a filler's true time; none around a
    window, which has its slack)."""
    used = [False] * len(fillers)
    hits = 0
    for start, end in sorted(reported):
        for j, window in enumerate(fillers):
            if not used[j] and (start < window.end_ms + tolerance_ms
                                and end > window.start_ms - tolerance_ms):
                used[j] = True
                hits += 1
                break
    return {"fillers": len(fillers), "hits": hits,
            "misses": len(fillers) - hits, "false": len(reported) - hits}


@functools.cache
def _anchor_model() -> Any:
    from faster_whisper import WhisperModel

    from audio import models

    return WhisperModel(str(models.whisper_tiny_en()), device="cpu", compute_type="int8")


def anchors(audio: np.ndarray) -> list[tuple[str, int, int]]:
    """Whisper tiny.en's words over a whole recording, with times: plain decoding, no
    prompt, no VAD, beam 1 (the anchors, not the gateway's recogniser); each segment's words
    then placed on its sound by forced alignment (`audio.align`, as the gateway does), where
    they fit it, so a window between two anchors is where the gap between them is."""
    from audio.align import word_spans

    segments, _ = _anchor_model().transcribe(audio.astype(np.float32) / 32768, language="en",
                                   beam_size=1, word_timestamps=True,
                                   condition_on_previous_text=False, vad_filter=False)
    heard = []
    for segment in segments:
        words = [(w.word, round(w.start * 1000), round(w.end * 1000))
                 for w in (segment.words or [])]
        start_ms, end_ms = round(segment.start * 1000), round(segment.end * 1000)
        spans = word_spans(audio[start_ms * RATE // 1000:end_ms * RATE // 1000],
                           [text for text, _, _ in words], "en", offset_ms=start_ms)
        for i, (text, start, end) in enumerate(words):
            a, b = (spans[i] if spans else None) or (start, end)
            heard.append((text, a, b))
    return heard


async def evaluate(stt: Any, tokens: list[Token], audio: np.ndarray, seconds: float,
                   count: int) -> list[dict[str, Any]]:
    """Score Parley on up to `count` excerpts of one recording and its verbatim tokens."""
    from bench.filler_set import by_turns

    times = await asyncio.to_thread(place, tokens, await asyncio.to_thread(anchors, audio))
    rows = []
    for excerpt in excerpts(tokens, times, len(audio) * 1000 // RATE, seconds, count):
        at = excerpt.start_ms * RATE // 1000
        reported = await by_turns(stt, audio[at:excerpt.end_ms * RATE // 1000], "en")
        spans = [(excerpt.start_ms + start, excerpt.start_ms + end)
                 for _, start, end, _ in reported]
        rows.append({**score(excerpt.fillers, spans, tolerance_ms=0), "start_ms": excerpt.start_ms,
                     "end_ms": excerpt.end_ms, "backchannels": excerpt.backchannels,
                     "reported": [(text, excerpt.start_ms + s, excerpt.start_ms + e, p)
                                  for text, s, e, p in reported]})
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    hits = sum(r["hits"] for r in rows)
    fillers = sum(r["fillers"] for r in rows)
    false = sum(r["false"] for r in rows)
    return {"excerpts": len(rows), "seconds": round(sum(r["end_ms"] - r["start_ms"]
                                                        for r in rows) / 1000),
            "fillers": fillers, "found": hits, "false": false,
            "recall": round(hits / fillers, 3) if fillers else None,
            "precision": round(hits / (hits + false), 3) if hits + false else None}


def lfs_pointer(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(40).startswith(b"version https://git-lfs")


async def measure(root: Path, seconds: float, count: int) -> dict[str, Any]:
    """Every call of Earnings-22's Subset 10 under `root` (speech-datasets/earnings22)."""
    from faster_whisper import decode_audio

    from bench.filler_set import with_recogniser

    calls = sorted((root / "subset10" / "media").glob("*.mp3"))
    if not calls:
        raise SystemExit(f"no calls under {root / 'subset10' / 'media'}")
    if pointers := [c.name for c in calls if lfs_pointer(c.resolve())]:
        raise SystemExit(f"{len(pointers)} calls are Git LFS pointers, not audio: run "
                         "`git lfs pull --include 'earnings22/media/*.mp3'` first")

    async def on_calls(stt: Any) -> dict[str, Any]:
        per_call = {}
        for call in calls:
            tokens = read_nlp((root / "subset10" / "verbatim" / f"{call.stem}.nlp")
                              .resolve().read_text(encoding="utf-8"))
            pcm = (decode_audio(str(call.resolve()), sampling_rate=RATE) * 32767).astype(np.int16)
            per_call[call.stem] = await evaluate(stt, tokens, pcm, seconds, count)
        rows = [row for call_rows in per_call.values() for row in call_rows]
        return {"benchmark": "verbatim_fillers", "set": "earnings22/subset10",
                "en": summary(rows), "per_call": {k: summary(v) for k, v in per_call.items()},
                "rows": per_call}

    return await with_recogniser(on_calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("earnings22", type=Path, help="speech-datasets/earnings22")
    parser.add_argument("--excerpts", type=int, default=8, help="per call")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.earnings22, args.seconds, args.excerpts)),
                     indent=1))


if __name__ == "__main__":
    main()
