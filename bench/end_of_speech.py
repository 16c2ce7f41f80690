"""How late each end-of-speech detector finds the end of the words, against annotations.

Streams every clip of bench/clips.py in each variant (quiet, real room tone going on after
the words, fan noise at 15 dB SNR) frame by frame through the turn detector, with webrtcvad
alone (the old detector) and with webrtcvad gated by Silero VAD (the default), and prints
JSON: for each, the detected end of the last turn minus the true end, in ms (positive:
late). No clock is involved: the figures are the same on any machine.

    python bench/end_of_speech.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio.vad import SpeechStopped, TurnDetector, VADOptions
from bench.clips import TRUE_END_S, VARIANTS, variant


def detected_end_ms(audio, true_end_ms: int, *, silero: bool) -> int | None:
    """The end of the turn that holds the true end (None: that turn never ended)."""
    options = VADOptions()
    detector = TurnDetector(options, 2, silero=silero)
    step = options.frame_samples
    for offset in range(0, len(audio) - step + 1, step):
        for event in detector.push(audio[offset:offset + step]):
            if isinstance(event, SpeechStopped) and event.end_ms >= true_end_ms - 300:
                return event.end_ms
    return None


def main() -> int:
    rows = []
    for name in TRUE_END_S:
        for kind in VARIANTS:
            audio, end_s = variant(name, kind)
            row: dict[str, Any] = {"clip": name, "variant": kind}
            for label, silero in (("webrtcvad", False), ("webrtcvad+silero", True)):
                end = detected_end_ms(audio, round(end_s * 1000), silero=silero)
                row[label] = None if end is None else end - round(end_s * 1000)
            rows.append(row)
    summary = {}
    for label in ("webrtcvad", "webrtcvad+silero"):
        for kind in VARIANTS:
            late = [r[label] for r in rows if r["variant"] == kind]
            found = [x for x in late if x is not None]
            summary[f"{label}/{kind}"] = {
                "late_ms_p50": statistics.median(found) if found else None,
                "late_ms_max": max(found) if found else None,
                "never_ended": len(late) - len(found)}
    print(json.dumps({"rows": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
