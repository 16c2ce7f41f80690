"""Transcribing a long utterance sentence by sentence: what it saves, what it costs.

    python bench/stt_by_sentence.py     # JSON: per clip and in total, both ways

Each clip goes through the gateway's own `Listening` stage (webrtcvad + Silero, speculative
transcription at every pause, Whisper tiny.en / base as in the default session) twice:
with `STT_BY_SENTENCE` on (after a pause that ends a finished sentence, later
transcriptions decode only the audio after it) and off (every transcription decodes the
utterance from its start). Reported for each: the word error rate of the final transcripts
against the clip's reference text, the decode time of the final transcript of each
utterance (what the reply waits for when the speculation is a hit).

The audio is pushed as fast as it is processed, with the semantic end of turn off, so an
utterance ends after VAD_SILENCE_MS of silence: the result does not depend on the
machine's speed. The clips: the Piper answers of ../shared/fixtures (piper_en_all is one
17 s answer), jfk, the LibriSpeech sentence of leopard_test_en, leopard_test_ko, and the
twelve answers of tests/data/pace (three phrases each, Piper and espeak-ng voices, quiet,
room tone and fan noise).
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

from bench import pace_truth
from bench.voice_quality import edit_distance, units
from tests.audio_support import load_wav, silence

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
REFERENCES = {
    **json.loads((FIXTURES / "synth_references.json").read_text()),
    "jfk_16k.wav": "And so, my fellow Americans, ask not what your country can do for you, "
                   "ask what you can do for your country.",
    "leopard_test_en_16k.wav": "Mr quilter is the apostle of the middle classes and we are "
                               "glad to welcome his gospel",
    "leopard_test_ko_16k.wav": "그는 이리저리 피하면서 길 한 옆으로 걸어갔다",
}
FIXTURE_CLIPS = [("piper_en_1.wav", "en"), ("piper_en_2.wav", "en"), ("piper_en_3.wav", "en"),
                 ("piper_en_all.wav", "en"), ("jfk_16k.wav", "en"),
                 ("leopard_test_en_16k.wav", "en"), ("leopard_test_ko_16k.wav", "ko")]


def clips() -> list[tuple[str, str, np.ndarray, str]]:
    """(name, language, audio, reference text)."""
    out = [(name, language, load_wav(name), REFERENCES[name]) for name, language in FIXTURE_CLIPS]
    for item in pace_truth.load_set():
        reference = " ".join(piece["text"] for piece in item["pieces"])
        out.append((item["file"], item["language"], pace_truth.load_audio(item), reference))
    return out


async def listen(audio: np.ndarray, language: str, by_sentence: bool, stt: Any) -> dict[str, Any]:
    from gateway.session.events import Message, TranscriptReady
    from gateway.session.listening import Listening
    from tests.support import isolated_settings

    finals: list[Any] = []
    problems: list[str] = []

    async def post(message: Message) -> None:
        if isinstance(message, TranscriptReady):
            finals.append(message.turn.transcript)
        else:
            problems.append(repr(message)[:120])

    settings = isolated_settings(stt_by_sentence=by_sentence, semantic_turn_end=False)
    listening = Listening(settings, stt, None, language, post)
    audio = np.concatenate([audio, silence(1.5)])
    for frame in audio[: len(audio) // 320 * 320].reshape(-1, 320):
        await listening.push(frame.astype("<i2").tobytes())
    await asyncio.gather(*listening._tasks)  # the last utterance's transcript
    await listening.aclose()
    return {"text": " ".join(t.text for t in finals),
            "final_decode_ms": [round(t.stt_ms) for t in finals],
            "problems": problems}


async def main() -> None:
    from gateway.engines import build_engines
    from tests.support import isolated_settings

    # Audio pushed faster than real time queues its transcriptions: let them wait.
    stt = build_engines(isolated_settings(stt_queue_max_wait_s=600, stt_max_seconds=60,
                                          tts_provider="none")).stt
    assert stt is not None
    results: list[dict[str, Any]] = []
    totals = {mode: [0, 0] for mode in ("on", "off")}
    for name, language, audio, reference in clips():
        row: dict[str, Any] = {"clip": name, "language": language}
        expected = units(reference, language)
        for mode, by_sentence in (("on", True), ("off", False)):
            heard = await listen(audio, language, by_sentence, stt)
            errors = edit_distance(expected, units(heard["text"], language))
            totals[mode][0] += errors
            totals[mode][1] += len(expected)
            row[mode] = {**heard, "error_rate": round(errors / len(expected), 3)}
        results.append(row)
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    summary = {
        mode: {"error_rate": round(errors / length, 3),
               "final_decode_ms_p50": statistics.median(
                   ms for row in results for ms in row[mode]["final_decode_ms"]),
               "final_decode_ms_max": max(
                   ms for row in results for ms in row[mode]["final_decode_ms"])}
        for mode, (errors, length) in totals.items()}
    print(json.dumps({"clips": results, "summary": summary}, ensure_ascii=False, indent=1))
    await stt.aclose()


if __name__ == "__main__":
    asyncio.run(main())
