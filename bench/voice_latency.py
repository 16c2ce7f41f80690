"""Voice-loop latency through the real gateway, with a zero-delay local LLM server.

Streams the English fixtures in real time (20 ms frames) over real WebSockets to a
gateway running in its own process with Whisper tiny.en and Piper, and prints JSON:
p50/p95 of every stage reported in `turn_metrics` (and voice-to-voice as the client
sees it), CPU time per 20 ms frame of ingest (framing, resampling, VAD), and the
gateway's peak RSS with Whisper base and Piper loaded.

    python bench/voice_latency.py [--passes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np
from websockets.asyncio.client import connect

from audio.pcm import FrameAssembler
from audio.vad import TurnDetector
from tests.audio_support import EventLog, resample
from tests.support import (
    PostgresForTests,
    ServerProcess,
    free_port,
    send,
    serve_in_process,
    ws_url,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
LOCAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
CLIPS = ["jfk_16k.wav", "piper_en_1.wav", "piper_en_2.wav", "piper_en_3.wav",
         "leopard_test_en_16k.wav", "stereo_diarization_16k_left.wav", "hotwords_16k.wav"]
STAGES = ["speech_end_to_transcript_ms", "endpoint_to_transcript_ms",
          "transcript_to_first_token_ms", "first_token_to_first_audio_ms", "voice_to_voice_ms",
          "stt_ms"]
REPLY = ["I hear you, ", "and that sounds important. ", "What would you like to work on first?"]


def load(name: str) -> np.ndarray:
    path = SHARED / name if (SHARED / name).exists() else LOCAL / name
    with wave.open(str(path)) as source:
        return np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 1),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "n": len(ordered)}


async def one_clip(base: str, audio: np.ndarray, language: str = "en"
                   ) -> tuple[list[dict[str, Any]], list[float]]:
    """Stream one clip at real time; return its turn metrics and client-side voice-to-voice."""
    session = httpx.post(f"{base}/sessions", json={"language": language}).json()["session_id"]
    data = np.concatenate([audio, np.zeros(24000, np.int16)]).astype("<i2").tobytes()
    sent_at: list[tuple[int, float]] = []  # (stream ms at end of chunk, time sent)
    async with connect(ws_url(base, session), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        loop = asyncio.get_running_loop()
        started = loop.time()
        step = 640
        for index, offset in enumerate(range(0, len(data), step)):
            await ws.send(data[offset:offset + step])
            sent_at.append(((index + 1) * 20, time.perf_counter()))
            await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - loop.time()))
        turns = len(log.of_type("speech_stopped"))
        await log.wait_until(lambda: len([m for m in log.of_type("turn_metrics")
                                          if "voice_to_voice_ms" in m["data"]]) >= 1
                             and log.of_type("tts_end")
                             and len(log.of_type("turn_metrics")) >= turns, timeout=60)
        arrivals = _first_audio_arrivals(log)
        await log.close()
    client_v2v = []
    for stopped, first_audio in zip(log.of_type("speech_stopped"), arrivals, strict=False):
        if first_audio is None:
            continue
        end_ms = stopped["data"]["end_ms"]
        last_voiced_sent = next(t for ms, t in sent_at if ms >= end_ms)
        client_v2v.append((first_audio - last_voiced_sent) * 1000)
    return [m["data"] for m in log.of_type("turn_metrics")], client_v2v


def _first_audio_arrivals(log: EventLog) -> list[float | None]:
    """When the first audio of each reply arrived, indexed like the turns."""
    by_turn = {begin["data"]["turn"]: log.first_audio_arrival(begin)
               for begin in log.of_type("tts_begin")}
    return [by_turn.get(turn) for turn in range(1, len(log.of_type("speech_stopped")) + 1)]


def ingest_cpu_us_per_frame() -> dict[str, float]:
    """CPU time per 20 ms frame for framing + resampling + VAD, over all the clips."""
    results = {}
    audio = np.concatenate([load(name) for name in CLIPS])
    for rate in (16000, 48000):
        data = (audio if rate == 16000 else resample(audio, rate)).astype("<i2").tobytes()
        step = rate * 2 * 20 // 1000
        assembler, detector = FrameAssembler(rate), TurnDetector()
        frames = 0
        started = time.process_time()
        for offset in range(0, len(data), step):
            for frame in assembler.push(data[offset:offset + step]):
                detector.push(frame)
                frames += 1
        results[f"{rate}_hz"] = round((time.process_time() - started) / frames * 1e6, 1)
    return results


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--baseline", action="store_true",
                        help="turn off speculative transcription and the short Whisper window, "
                             "as the open frameworks run these models")
    args = parser.parse_args()
    metrics: list[dict[str, Any]] = []
    client_v2v: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)  # as root, the embedded PostgreSQL's own user must reach it
        postgres = PostgresForTests(Path(tmp) / "pg")
        try:
            llm_port = free_port()
            llm_cmd = ["-m", "tests.fakes.llm_servers", "--port", str(llm_port), "--chunks", *REPLY]
            with serve_in_process(llm_cmd, llm_port, {}, ready_path="/") as llm_url:
                env = {"DATABASE_URL": postgres.new_database(), "LLM_PROVIDER": "openai",
                       "OPENAI_BASE_URL": f"{llm_url}/v1", "MAX_AI_REQUESTS_PER_MINUTE": "100000",
                       "MAX_AI_REQUESTS_PER_MINUTE_PER_USER": "1000000",
                       "MAX_NEW_SESSIONS_PER_USER_PER_HOUR": "1000000",
                       "LOG_LEVEL": "warning", "PARLEY_DATA_DIR": str(Path(tmp) / "data")}
                if args.baseline:
                    env.update(VAD_SPECULATIVE_MS="0", STT_SHORT_WINDOW="false")
                # Latency: English sessions, Whisper tiny.en and Piper, the default settings.
                with gateway(env) as base:
                    for _ in range(args.passes):
                        for name in CLIPS:
                            turn_metrics, v2v = asyncio.run(one_clip(base, load(name)))
                            metrics += turn_metrics
                            client_v2v += v2v
                    rss_default = peak_rss_mb(base.pid)
                # Memory as the target states it: Whisper base and Piper loaded and working
                # (an "auto" session: base detects the language, Piper speaks English).
                with gateway({**env, "STT_PRELOAD": "auto"}) as base:
                    asyncio.run(one_clip(base, load("jfk_16k.wav"), language="auto"))
                    rss_base_piper = peak_rss_mb(base.pid)
        finally:
            postgres.stop()
    heard = [m for m in metrics if "voice_to_voice_ms" in m]
    result = {
        "benchmark": "voice_latency" + (" (baseline: no speculation, 30 s window)"
                                          if args.baseline else ""),
        "clips": CLIPS, "passes": args.passes, "turns": len(metrics),
        "stages_ms": {stage: summary([m[stage] for m in heard if stage in m]) for stage in STAGES},
        "voice_to_voice_client_ms": summary(client_v2v),
        "speculative_hit_rate": round(sum(bool(m.get("speculative_hit")) for m in metrics)
                                      / max(1, len(metrics)), 2),
        "ingest_cpu_us_per_20ms_frame": ingest_cpu_us_per_frame(),
        "gateway_peak_rss_mb": {"whisper_base_and_piper": rss_base_piper,
                                "default_tiny_en_base_piper_espeak": rss_default},
        "targets": {"voice_to_voice_p50_ms": 500 + 200, "ingest_cpu_us_per_frame": 50,
                    "peak_rss_mb": 450},
    }
    print(json.dumps(result, indent=2))


@contextmanager
def gateway(env: dict[str, str]) -> Iterator[ServerProcess]:
    port = free_port()
    with serve_in_process(["-m", "gateway", "serve", "--port", str(port)], port, env) as base:
        _wait_for_engines(base)
        yield base


def _wait_for_engines(base: str) -> None:
    deadline = time.monotonic() + 180
    while not httpx.get(f"{base}/health").json()["stt"]["ready"]:
        if time.monotonic() > deadline:
            raise RuntimeError("speech engines did not load")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
