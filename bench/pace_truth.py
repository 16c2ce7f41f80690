"""Pace and pauses checked against the truth.

    python bench/pace_truth.py build   # synthesise tests/data/pace/ (audio + word times)
    python bench/pace_truth.py         # measured vs reference, as JSON

The reference is exact by construction: each answer is put together from phrases spoken
separately (Piper en_US-joe-medium at three rates, espeak-ng with three voices), with
silences of known length between them, then mixed with room tone or fan noise or left
quiet. A phrase starts at its first sample above 2 % of the phrase's peak and ends at its
last (the same rule a forced aligner's first and last phone boundaries follow to within a
frame); so every phrase's start and end, every pause and the time spent speaking are known
to the sample. From them:

- reference articulation rate = words spoken / the phrases' total duration (words as the
  pace metric counts them: `feedback.pace.units_in`, filled pauses excluded), in wpm;
- reference speech rate = the same words / first phrase's start to last phrase's end;
- reference pauses = the silences between phrases (all >= 250 ms here).

A recording, too: LibriSpeech's 1272-128104-0000 (kept as tests/fixtures/
leopard_test_en_16k.wav) against the Montreal Forced Aligner's word times for it
(tests/data/pace/forced_alignments.json, with its source): words over the time the words
take, the aligner's silences left out (`forced_reference`).

Measured: the gateway's way (the VAD's voiced stretches from `TurnDetector`, Whisper
tiny.en's words, `measure_pace`, `find_pauses`) over the whole answer as one turn.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from bench import filler_set
from bench.clips import speech_stops

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "pace"
RATE = 16_000
CLIPS = 12
PACE_TOLERANCE = 0.05
PAUSE_TOLERANCE_MS = 50


async def build() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    voices = filler_set._voices("en")
    labels = []
    for index in range(CLIPS):
        rng = np.random.default_rng(500 + index)
        voice_name, tts = voices[index % len(voices)]
        phrases = [str(p) for p in rng.choice(filler_set.PHRASES["en"], size=3, replace=False)]
        audio, pieces, cursor = [np.zeros(int(0.4 * RATE))], [], int(0.4 * RATE)
        for position, phrase in enumerate(phrases):
            spoken = await filler_set._say(tts, phrase)
            audio.append(spoken)
            pieces.append({"text": phrase, "start_ms": round(cursor * 1000 / RATE, 1),
                           "end_ms": round((cursor + len(spoken)) * 1000 / RATE, 1)})
            cursor += len(spoken)
            if position < len(phrases) - 1:
                gap = int(rng.uniform(0.25, 1.4) * RATE)
                audio.append(np.zeros(gap))
                cursor += gap
        clip = np.concatenate([*audio, np.zeros(int(0.4 * RATE))])
        name = f"pace_{index:02d}.opus"
        (DATA / name).write_bytes(filler_set.save(clip))
        labels.append({"file": name, "language": "en", "voice": voice_name,
                       "noise": ("quiet", "room_tone", "fan_15db")[index % 3], "pieces": pieces})
    (DATA / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    print(f"{len(labels)} answers in {DATA}")


def load_set() -> list[dict[str, Any]]:
    return json.loads((DATA / "labels.json").read_text())  # type: ignore[no-any-return]


def load_audio(item: dict[str, Any]) -> np.ndarray:
    return filler_set.load_audio(item, DATA)


def reference(item: dict[str, Any]) -> dict[str, Any]:
    from feedback.pace import units_in

    pieces = item["pieces"]
    words = sum(units_in(p["text"], "en") for p in pieces)
    speaking_ms = sum(p["end_ms"] - p["start_ms"] for p in pieces)
    span_ms = pieces[-1]["end_ms"] - pieces[0]["start_ms"]
    return {"articulation_rate": wpm(words, speaking_ms), "words": words,
            "speech_rate": wpm(words, span_ms),
            "speaking_ms": round(speaking_ms),
            "pauses": [(a["end_ms"], b["start_ms"]) for a, b in itertools.pairwise(pieces)]}


def wpm(words: float, ms: float) -> float:
    return words / (ms / 1000) * 60


def relative_error(measured: dict[str, Any], reference: dict[str, Any], key: str) -> float:
    return round((measured[key] - reference[key]) / reference[key], 4)


def forced_alignments() -> dict[str, dict[str, Any]]:
    return json.loads((DATA / "forced_alignments.json").read_text())  # type: ignore[no-any-return]


def forced_reference(alignment: dict[str, Any]) -> dict[str, Any]:
    """A recording's reference from its forced word times: the words as the pace metric
    counts them over the time the words take (the aligner's silences left out: the
    articulation rate), and over first word's start to last word's end (the speech rate);
    pauses are the aligner's silences of `feedback.pauses.PAUSE_MS` or more between words."""
    from feedback.pace import units_in
    from feedback.pauses import PAUSE_MS

    ends = [round(e * 1000) for e in alignment["ends_s"]]
    intervals = [(word, start, end) for word, start, end
                 in zip(alignment["words"], [0, *ends], ends, strict=False)]
    spoken = [(start, end) for word, start, end in intervals if word]
    words = units_in(" ".join(word for word, _, _ in intervals if word), "en")
    speaking_ms = sum(end - start for start, end in spoken)
    first, last = spoken[0][0], spoken[-1][1]
    return {"articulation_rate": wpm(words, speaking_ms),
            "speech_rate": wpm(words, last - first), "words": words,
            "speaking_ms": speaking_ms,
            "pauses": [(start, end) for word, start, end in intervals
                       if not word and first < start and end < last and end - start >= PAUSE_MS]}


async def on_forced_alignments(stt: Any) -> list[dict[str, Any]]:
    """Recorded speech against its forced word times (tests/data/pace/forced_alignments.json):
    the clip as the gateway hears it, compared with the aligner's reference."""
    from bench.clips import load

    rows = []
    for clip, alignment in forced_alignments().items():
        ref = forced_reference(alignment)
        measured = await measure(stt, load(clip))
        rows.append({
            "clip": clip, "utterance": alignment["utterance"], "text": measured["text"],
            "reference_wpm": round(ref["articulation_rate"], 1),
            "measured_wpm": measured["articulation_rate"],
            "pace_error": relative_error(measured, ref, "articulation_rate"),
            "speech_rate": [round(ref["speech_rate"], 1), measured["speech_rate"]],
            "speech_rate_error": relative_error(measured, ref, "speech_rate"),
            "words": [ref["words"], measured["words"]],
            "speaking_ms": [ref["speaking_ms"], measured["speaking_ms"]],
            "pauses": [ref["pauses"], measured["pauses"]]})
    return rows


async def measure(stt: Any, audio: np.ndarray) -> dict[str, Any]:
    """The answer as the gateway hears it: one turn (the end of turn waits longer than the
    longest pause here), the VAD's voiced stretches, Whisper's words (those that start well
    after the last voiced frame dropped, as the gateway does)."""
    from audio.vad import TurnDetector, VADOptions
    from feedback.acoustic import refine_voiced
    from feedback.pace import measure_pace
    from feedback.pauses import find_pauses
    from feedback.types import Span, Turn, Word

    detector = TurnDetector(VADOptions(silence_ms=2500, max_silence_ms=5000, speculative_ms=0))
    stops = speech_stops(detector, audio, tail_s=4.0)
    stop = stops[0]
    transcript = await stt.transcribe(stop.audio, language="en", offset_ms=stop.audio_start_ms,
                                      speech_end_ms=stop.end_ms)
    words = tuple(Word(w.text, w.start_ms, w.end_ms, w.probability) for w in transcript.words)
    voiced = refine_voiced(stop.audio, stop.voiced, offset_ms=stop.audio_start_ms)
    turn = Turn(words, "en", tuple(Span(a, b) for a, b in voiced), "voice")
    pace = measure_pace(turn)
    pauses = find_pauses(turn)
    return {"turns": len(stops), "articulation_rate": pace.articulation_rate if pace else None,
            "speech_rate": pace.speech_rate if pace else None,
            "words": pace.units if pace else 0, "speaking_ms": pace.voiced_ms if pace else 0,
            "text": turn.text,
            "pauses": [(p.start_ms, p.end_ms) for p in pauses.pauses] if pauses else []}


def compare(item: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    ref = reference(item)
    pause_errors: list[dict[str, Any] | None] = []
    for start, end in ref["pauses"]:
        found = [p for p in measured["pauses"] if p[0] < end and p[1] > start]
        if not found:
            pause_errors.append(None)
            continue
        p = max(found, key=lambda q: min(q[1], end) - max(q[0], start))
        pause_errors.append({"start_ms": round(p[0] - start, 1), "end_ms": round(p[1] - end, 1),
                             "length_ms": round((p[1] - p[0]) - (end - start), 1)})
    extra = len(measured["pauses"]) - sum(1 for e in pause_errors if e is not None)
    return {"file": item["file"], "voice": item["voice"], "noise": item["noise"],
            "turns": measured["turns"],
            "reference_wpm": round(ref["articulation_rate"], 1),
            "measured_wpm": measured["articulation_rate"],
            "pace_error": relative_error(measured, ref, "articulation_rate"),
            "speech_rate_error": relative_error(measured, ref, "speech_rate"),
            "words": [ref["words"], measured["words"]],
            "speaking_ms": [ref["speaking_ms"], measured["speaking_ms"]],
            "pauses": pause_errors, "extra_pauses": extra}


async def evaluate(stt: Any) -> dict[str, Any]:
    rows = [compare(item, await measure(stt, load_audio(item))) for item in load_set()]
    recorded = await on_forced_alignments(stt)
    pace_errors = [abs(r["pace_error"]) for r in rows]
    time_errors = [abs(r["speaking_ms"][1] - r["speaking_ms"][0]) / r["speaking_ms"][0]
                   for r in rows]
    speech_errors = [abs(r["speech_rate_error"]) for r in rows]
    word_errors = [abs(r["words"][1] - r["words"][0]) / r["words"][0] for r in rows]
    boundaries = [abs(e[k]) for r in rows for e in r["pauses"] if e for k in ("start_ms", "end_ms")]
    lengths = [abs(e["length_ms"]) for r in rows for e in r["pauses"] if e]
    missed = sum(1 for r in rows for e in r["pauses"] if e is None)
    return {
        "benchmark": "pace_truth", "answers": len(rows),
        "pace": {"abs_error_p50": round(statistics.median(pace_errors), 4),
                 "abs_error_max": round(max(pace_errors), 4),
                 "within_5_percent": sum(e <= PACE_TOLERANCE for e in pace_errors),
                 # The two halves of the rate: time spent speaking (the VAD and the sound)
                 # and words counted (what Whisper wrote).
                 "speaking_time_abs_error_p50": round(statistics.median(time_errors), 4),
                 "speaking_time_within_5_percent": sum(e <= PACE_TOLERANCE for e in time_errors),
                 "word_count_abs_error_p50": round(statistics.median(word_errors), 4),
                 # Pauses included: words over first sound to last.
                 "speech_rate_abs_error_p50": round(statistics.median(speech_errors), 4),
                 "speech_rate_within_5_percent": sum(e <= PACE_TOLERANCE
                                                     for e in speech_errors)},
        "pauses": {"reference": len(lengths) + missed, "missed": missed,
                   "extra": sum(r["extra_pauses"] for r in rows),
                   "length_error_ms_p50": round(statistics.median(lengths), 1),
                   "length_error_ms_max": round(max(lengths), 1),
                   "boundary_error_ms_p50": round(statistics.median(boundaries), 1),
                   "boundary_error_ms_max": round(max(boundaries), 1),
                   "lengths_within_50_ms": sum(e <= PAUSE_TOLERANCE_MS for e in lengths)},
        "recorded_speech": recorded,
        "rows": rows,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "build":
        asyncio.run(build())
        return
    result = asyncio.run(filler_set.with_recogniser(evaluate))
    if "--rows" not in sys.argv:
        result.pop("rows")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
