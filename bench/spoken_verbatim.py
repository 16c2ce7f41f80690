"""Real transcripts, spoken: filled pauses where people really put them.

    python bench/spoken_verbatim.py build PATH/speech-datasets/earnings22  # tests/data/verbatim/spoken
    python bench/spoken_verbatim.py eval     # recall/precision, JSON, and `calibration`

The filler set (`bench/filler_set.py`) puts its fillers before whole phrases, at a clause's
start. People put them anywhere: "we buy, uh, close to 800,000 tons", "there's a, uh, a
quality, uh, improvement project", "it was announced a cou- uh, uh, two or three weeks
back". This set takes its sentences, fillers and cut-off words from real verbatim
transcripts (Earnings-22's Subset 10, CC BY-SA 4.0; `bench/verbatim_fillers.py`), eight
excerpts of 20-60 words from each of the ten calls, spread over the call, one speaker each,
whatever they hold (one call has 4 filled pauses in an hour, so some excerpts have none).
Each is said by one of the filler set's English voices (Piper at three rates, five espeak-ng
variants), run by run of words between fillers, so every filler's time is known: Piper's or
espeak-ng's "Uh."/"Um." (a third drawn out, as the filler set's last answers), 0-6 dB under
the words before it, 30-300 ms from its neighbours (a person's "uh" often runs into the
words around it); a cut-off word ("cou-") is the word said and cut after 120-220 ms; 400-800
ms between sentences. Quiet, room tone or fan noise at 15 dB SNR, as the filler set.

The acoustic model was never fitted on this set: every excerpt is held out, though the
voices are the filler set's. Parley hears each excerpt as the gateway does, turn by turn
through its VAD (`filler_set.by_turns`); a report matches a true filled pause within
±150 ms, one for one.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.verbatim_fillers import Timed, Token, score

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "verbatim" / "spoken"
CALLS = ("4453225", "4469088", "4470684", "4474506", "4479944", "4481952", "4482383",
         "4482613", "4483937", "4485192")
PER_CALL = 8
MIN_WORDS, MAX_WORDS = 20, 60
RATE = 16_000
SENTENCE_END = (".", "?", "!", "…")


def _lines(text: str) -> list[tuple[str, str, str]]:
    """(word as written, speaker, punctuation after it) for each token of a Rev .nlp."""
    header = text.splitlines()[0].split("|")
    at = header.index("punctuation")
    return [(f[0], f[1], f[at]) for f in (line.split("|") for line in text.splitlines()[1:])
            if len(f) > at and f[0] and not f[0].startswith("<")]


def choose(lines: list[tuple[str, str, str]], count: int) -> list[tuple[int, int]]:
    """Up to `count` excerpts [first, last] of whole sentences, MIN_WORDS-MAX_WORDS tokens,
    one speaker, spread evenly over the transcript."""
    starts = [i for i in range(1, len(lines))
              if lines[i - 1][2] in SENTENCE_END or lines[i - 1][1] != lines[i][1]]
    candidates = []
    for start in starts:
        last = None
        for end in range(start, min(start + MAX_WORDS, len(lines))):
            if lines[end][1] != lines[start][1]:
                break
            if lines[end][2] in SENTENCE_END and end - start + 1 >= MIN_WORDS:
                last = end
                break
        if last is not None:
            candidates.append((start, last))
    picked: list[tuple[int, int]] = []
    for k in range(count):
        start, last = candidates[int((k + 0.5) * len(candidates) / count)]
        if not picked or start > picked[-1][1]:
            picked.append((start, last))
    return picked


async def say(lines: list[tuple[str, str, str]], voice: tuple[str, Any],
              rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The excerpt said by `voice`, run by run, and its pieces with their times."""
    from bench import filler_set

    _, tts = voice
    pieces: list[tuple[str, str, np.ndarray]] = []
    phrase: list[str] = []
    previous: np.ndarray | None = None

    async def flush() -> None:
        nonlocal phrase, previous
        if phrase:
            previous = await filler_set._say(tts, " ".join(phrase).rstrip(","))
            pieces.append(("phrase", " ".join(phrase), previous))
            phrase = []

    for word, speaker, punctuation in lines:
        token = Token.of(word, speaker)
        if token is None or token.backchannel:
            continue
        if token.filled:
            await flush()
            drawn_out = rng.random() < 1 / 3
            text = token.text.capitalize() + ("..." if drawn_out else ".")
            spoken = await filler_set._say(
                filler_set._drawn_out(tts, rng) if drawn_out else tts, text)
            if previous is not None:
                spoken = filler_set._as_loud(spoken, previous, float(rng.uniform(-6, 0)))
            pieces.append(("filler", text, spoken))
        elif word.endswith("-"):
            await flush()
            whole = await filler_set._say(tts, word.rstrip("-"))
            pieces.append(("distractor", "cutoff", whole[: int(rng.uniform(0.12, 0.22) * RATE)]))
        else:
            phrase.append(word + punctuation)
            if punctuation in SENTENCE_END:
                await flush()
    await flush()
    audio, spans, cursor = [np.zeros(int(0.3 * RATE))], [], int(0.3 * RATE)
    for n, (kind, text, sound) in enumerate(pieces):
        audio.append(sound)
        spans.append({"kind": kind, "text": text, "start_ms": cursor * 1000 // RATE,
                      "end_ms": (cursor + len(sound)) * 1000 // RATE})
        ends_sentence = kind == "phrase" and text.endswith(SENTENCE_END)
        next_is_filler = n + 1 < len(pieces) and pieces[n + 1][0] != "phrase"
        gap = int(rng.uniform(0.4, 0.8) * RATE) if ends_sentence else (
            int(rng.uniform(0.03, 0.3) * RATE) if kind != "phrase" or next_is_filler
            else int(rng.uniform(0.1, 0.3) * RATE))
        audio.append(np.zeros(gap))
        cursor += len(sound) + gap
    return np.concatenate([*audio, np.zeros(int(0.3 * RATE))]), spans


async def build(root: Path) -> None:
    """Make the set from Earnings-22's transcripts under `root` (speech-datasets/earnings22).
    Excerpts already made stay as they are (Piper is random)."""
    from bench import filler_set

    await build_excerpt()
    DATA.mkdir(parents=True, exist_ok=True)
    labels_path = DATA / "labels.json"
    kept = {i["file"]: i for i in json.loads(labels_path.read_text())} if labels_path.exists() else {}
    voices = filler_set._voices("en")
    labels = []
    for c, call in enumerate(CALLS):
        text = (root / "transcripts" / "nlp_references" / f"{call}.nlp").read_text(encoding="utf-8")
        lines = _lines(text)
        for k, (first, last) in enumerate(choose(lines, PER_CALL)):
            index = c * PER_CALL + k
            if (name := f"{call}_{k}.opus") in kept:
                labels.append(kept[name])
                continue
            rng = np.random.default_rng(5000 + index)
            voice = voices[index % len(voices)]
            clip, spans = await say(lines[first:last + 1], voice, rng)
            (DATA / name).write_bytes(filler_set.save(clip))
            labels.append({"file": name, "language": "en", "voice": voice[0],
                           "noise": ("quiet", "room_tone", "fan_15db")[index % 3],
                           "call": call, "tokens": [first + 1, last + 1],  # .nlp line numbers
                           "text": " ".join(w + p for w, _, p in lines[first:last + 1]),
                           "pieces": spans})
    labels_path.write_text(json.dumps(labels, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(labels)} excerpts in {DATA}")


EXCERPT = DATA.parent / "earnings22_4469088_excerpt.nlp"


async def build_excerpt() -> None:
    """The one transcript excerpt the repo keeps as text (tests/data/verbatim), said once by
    Piper in quiet (`<name>.opus`, its pieces in `<name>.json`), for the tests of
    `bench/verbatim_fillers.py`'s untimed placing. Kept as it is once made."""
    from bench import filler_set

    said = EXCERPT.with_suffix(".opus")
    if said.exists():
        return
    lines = _lines(EXCERPT.read_text(encoding="utf-8"))
    clip, spans = await say(lines, filler_set._voices("en")[0], np.random.default_rng(7))
    said.write_bytes(filler_set.save(clip))
    EXCERPT.with_suffix(".json").write_text(json.dumps(
        {"file": said.name, "voice": filler_set._voices("en")[0][0], "noise": "quiet",
         "pieces": spans}, indent=1) + "\n")


def load_set() -> list[dict[str, Any]]:
    return json.loads((DATA / "labels.json").read_text())  # type: ignore[no-any-return]


async def evaluate(stt: Any, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    from bench import filler_set

    rows = []
    for item in items or load_set():
        audio = filler_set.load_audio(item, DATA)
        reported = await filler_set.by_turns(stt, audio, "en")
        truth = tuple(Timed(p["start_ms"], p["end_ms"]) for p in item["pieces"]
                      if p["kind"] == "filler")
        counts = score(truth, [(start, end) for _, start, end, _ in reported])
        rows.append({**counts, "file": item["file"], "voice": item["voice"],
                     "noise": item["noise"], "reported": reported})
    return {"en": summary(rows), "rows": rows}


async def calibration(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The same reports (`evaluate`'s rows) scored twice on each excerpt whose every filler
    the untimed placing of `bench/verbatim_fillers.py` can place (one that opens an excerpt
    has no word before it): against the fillers' true times (±150 ms), and as that harness
    scores a real call, against windows placed from the words around them. Where the two
    agree, the harness's figures on real calls can be read as exact ones."""
    from bench import filler_set
    from bench.verbatim_fillers import anchors, filler_window, place

    items = {item["file"]: item for item in load_set()}
    exact, placed = [], []
    for row in rows:
        item = items[row["file"]]
        tokens = [token for word in item["text"].split() if (token := Token.of(word, "0"))]
        if tokens and tokens[0].filled:
            continue  # no word before it, so no window: not worth the anchors' decode
        audio = filler_set.load_audio(item, DATA)
        times = place(tokens, await asyncio.to_thread(anchors, audio))
        windows = [filler_window(times, i) for i, token in enumerate(tokens) if token.filled]
        truth = tuple(Timed(p["start_ms"], p["end_ms"]) for p in item["pieces"]
                      if p["kind"] == "filler")
        if len(windows) != len(truth) or None in windows:
            continue
        spans = [(start, end) for _, start, end, _ in row["reported"]]
        exact.append({**score(truth, spans), "file": row["file"]})
        placed.append({**score(tuple(w for w in windows if w), spans, tolerance_ms=0),
                       "file": row["file"]})
    return {"exact_times": summary(exact), "placed_from_the_words": summary(placed)}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fillers = sum(r["fillers"] for r in rows)
    hits = sum(r["hits"] for r in rows)
    false = sum(r["false"] for r in rows)
    return {"excerpts": len(rows), "fillers": fillers, "found": hits, "false": false,
            "recall": round(hits / fillers, 3) if fillers else None,
            "precision": round(hits / (hits + false), 3) if hits + false else None}


def main() -> None:
    from bench import filler_set

    if sys.argv[1:2] == ["build"]:
        asyncio.run(build(Path(sys.argv[2])))
    elif sys.argv[1:2] == ["eval"]:
        async def both(stt: Any) -> dict[str, Any]:
            result = await evaluate(stt)
            return {**result, "calibration": await calibration(result["rows"])}

        print(json.dumps(asyncio.run(filler_set.with_recogniser(both)), ensure_ascii=False,
                         indent=1))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
