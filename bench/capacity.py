"""Capacity of one gateway process, measured: voice sessions, text turns, idle sockets.

Everything runs in its own process on this machine: PostgreSQL, a zero-delay LLM server
(OpenAI wire format), the gateway, and, for the second voice run, `parley speech-server`
holding Whisper and Piper. Prints JSON:

- voice: for K = 1, 2, ... concurrent sessions, each streaming a clip in real time twice
  over, voice-to-voice p50/p95 measured from where the clip's speech really ends (found by
  its energy here, not by the gateway's VAD) to the first reply audio received; the largest
  K within p95 <= 1.5 s; and the gateway's own CPU (cores busy) at that K, so
  "sessions per gateway core". Once with the engines in-process, once on the speech server.
- text turns per second per gateway core (CPU time of the gateway process per turn);
- memory per idle socket (RSS growth over 1,000 open sockets).

    python bench/capacity.py [--max-sessions 6] [--skip-voice]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import numpy as np
from voice_latency import load, summary
from websockets.asyncio.client import connect

from tests.audio_support import EventLog
from tests.support import PostgresForTests, ServerProcess, free_port, send, serve_in_process, ws_url

CLIP = "piper_en_1.wav"
REPLY = ["Thank you. ", "Tell me more about that."]
P95_BOUND_MS = 1500.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def speech_end_ms(audio: np.ndarray) -> int:
    """Where the words end: the last 20 ms frame within 35 dB of the clip's loudest frame."""
    frames = audio[: len(audio) // 320 * 320].reshape(-1, 320).astype(np.float32)
    level = 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) + 1e-9)
    voiced = np.flatnonzero(level > level.max() - 35)
    return int((voiced[-1] + 1) * 20)


async def voice_session(base: str, audio: np.ndarray, repeats: int = 2) -> list[float]:
    """Stream `audio` (then 2 s of silence) `repeats` times in real time; voice-to-voice of
    each turn from the true end of its speech to the first reply audio received."""
    end_ms = speech_end_ms(audio)
    pause = np.zeros(32000, np.int16)
    session = httpx.post(f"{base}/sessions", json={"language": "en"}).json()["session_id"]
    ends: list[float] = []
    async with connect(ws_url(base, session), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent_ms = 0
        for _ in range(repeats):
            data = np.concatenate([audio, pause]).astype("<i2").tobytes()
            clip_start = sent_ms
            for offset in range(0, len(data), 640):
                await ws.send(data[offset:offset + 640])
                sent_ms += 20
                if sent_ms - clip_start == end_ms:
                    ends.append(time.perf_counter())
                await asyncio.sleep(max(0.0, started + sent_ms / 1000 - loop.time()))
        try:
            await log.wait_until(lambda: len(log.of_type("tts_end")) >= repeats, timeout=30)
        except TimeoutError:
            pass
        arrivals = [log.first_audio_arrival(b) for b in log.of_type("tts_begin")]
        await log.close()
    return [(a - e) * 1000 for a, e in zip(arrivals, ends, strict=False) if a is not None]


def voice_capacity(base: ServerProcess, max_sessions: int) -> dict[str, Any]:
    audio = load(CLIP)
    levels: list[dict[str, Any]] = []
    for k in range(1, max_sessions + 1):
        cpu_before, wall_before = cpu_seconds(base.pid), time.monotonic()

        async def run(k: int = k) -> list[list[float]]:
            return await asyncio.gather(*(voice_session(base, audio) for _ in range(k)))

        results = asyncio.run(run())
        cores = (cpu_seconds(base.pid) - cpu_before) / (time.monotonic() - wall_before)
        v2v = [x for r in results for x in r]
        stats = summary(v2v) or {"p50": None, "p95": None, "n": 0}
        missing = 2 * k - len(v2v)
        levels.append({"sessions": k, "voice_to_voice_ms": stats, "replies_missing": missing,
                       "gateway_cores_busy": round(cores, 2)})
        if stats["p95"] is None or stats["p95"] > P95_BOUND_MS or missing:
            break
    within = [lv for lv in levels if lv["voice_to_voice_ms"]["p95"] is not None
              and lv["voice_to_voice_ms"]["p95"] <= P95_BOUND_MS and not lv["replies_missing"]]
    best = within[-1] if within else None
    return {"levels": levels, "max_sessions_within_p95_1500ms": best["sessions"] if best else 0,
            "sessions_per_gateway_core": (round(best["sessions"] / max(best["gateway_cores_busy"],
                                                                       0.05), 1) if best else 0)}


async def text_turns(base: ServerProcess, sessions: int = 20, turns: int = 25) -> dict[str, Any]:
    cpu_before = cpu_seconds(base.pid)
    started = time.monotonic()

    async def one(i: int) -> None:
        async with connect(ws_url(base, f"text-{i}-{time.time_ns()}")) as ws:
            for _ in range(turns):
                await send(ws, "request_ai_response", message="How should I prepare?")
                while True:
                    event = json.loads(await ws.recv())
                    if event["type"] in ("ai_stream_complete", "ai_stream_error"):
                        break

    await asyncio.gather(*(one(i) for i in range(sessions)))
    cpu = cpu_seconds(base.pid) - cpu_before
    total = sessions * turns
    return {"turns": total, "wall_s": round(time.monotonic() - started, 2),
            "gateway_cpu_ms_per_turn": round(cpu / total * 1000, 2),
            "turns_per_second_per_core": round(total / cpu, 1)}


async def idle_sockets(base: ServerProcess, count: int = 1000) -> dict[str, Any]:
    before = rss_mb(base.pid)
    sockets = []
    for i in range(count):
        ws = await connect(ws_url(base, f"idle-{i}-{time.time_ns()}"))
        sockets.append(ws)
    await asyncio.sleep(1.0)
    after = rss_mb(base.pid)
    for ws in sockets:
        await ws.close()
    return {"sockets": count, "rss_growth_mb": round(after - before, 1),
            "kb_per_idle_socket": round((after - before) * 1024 / count, 1)}


def whisper_parallel(jobs: int = 8) -> dict[str, Any]:
    """Throughput of the in-process recogniser with `jobs` utterances at once: one worker
    with both cores, or two workers with one core each (STT_WORKERS / STT_THREADS)."""
    from audio import models
    from audio.stt import STTOptions, WhisperSTT

    clips = [load(name) for name in ("piper_en_1.wav", "piper_en_2.wav", "piper_en_3.wav",
                                     "jfk_16k.wav")]
    results = {}
    for workers, threads in ((1, 2), (2, 1)):
        stt = WhisperSTT({"en": models.whisper_tiny_en()}, threads=threads, workers=workers,
                         options=STTOptions(max_seconds=120), max_wait_s=1e9)

        async def run(stt: WhisperSTT = stt) -> float:
            await stt.preload(("en",))
            await stt.transcribe(clips[0], language="en")  # warm
            started = time.perf_counter()
            await asyncio.gather(*(stt.transcribe(clips[i % len(clips)], language="en")
                                   for i in range(jobs)))
            return time.perf_counter() - started

        seconds = asyncio.run(run())
        audio_s = sum(len(clips[i % len(clips)]) for i in range(jobs)) / 16000
        results[f"workers_{workers}_threads_{threads}"] = {
            "wall_s": round(seconds, 2), "audio_seconds_per_second": round(audio_s / seconds, 1)}
    return results


@contextmanager
def process(argv: list[str], env: dict[str, str], ready: str) -> Iterator[ServerProcess]:
    port = free_port()
    with serve_in_process([*argv, "--port", str(port)], port, env, ready_path=ready) as base:
        yield base


def wait_ready(base: str) -> None:
    deadline = time.monotonic() + 240
    while httpx.get(f"{base}/health/ready").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway did not become ready")
        time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-sessions", type=int, default=6)
    parser.add_argument("--skip-voice", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "capacity", "cpu_cores": os.cpu_count(), "clip": CLIP}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        os.chmod(tmp, 0o711)  # as root, the embedded PostgreSQL's own user must reach it
        postgres = PostgresForTests(Path(tmp) / "pg")
        stack.callback(postgres.stop)
        llm_port = free_port()
        llm = stack.enter_context(serve_in_process(
            ["-m", "tests.fakes.llm_servers", "--port", str(llm_port), "--chunks", *REPLY],
            llm_port, {}, ready_path="/"))
        env = {"LLM_PROVIDER": "openai", "OPENAI_BASE_URL": f"{llm}/v1", "LOG_LEVEL": "warning",
               "MAX_AI_REQUESTS_PER_MINUTE": "100000",
               "MAX_AI_REQUESTS_PER_MINUTE_PER_USER": "1000000",
               "MAX_NEW_SESSIONS_PER_USER_PER_HOUR": "1000000",
               "STT_PRELOAD": "en", "PARLEY_DATA_DIR": str(Path(tmp) / "data")}
        with process(["-m", "gateway", "serve"],
                     {**env, "DATABASE_URL": postgres.new_database(), "STT_PROVIDER": "none",
                      "TTS_PROVIDER": "none"}, "/health/live") as base:
            wait_ready(base)
            result["text"] = asyncio.run(text_turns(base))
            result["idle_sockets"] = asyncio.run(idle_sockets(base))
        if not args.skip_voice:
            result["whisper_parallel_8_utterances"] = whisper_parallel()
            with process(["-m", "gateway", "serve"],
                         {**env, "DATABASE_URL": postgres.new_database()}, "/health/live") as base:
                wait_ready(base)
                result["voice_in_process"] = voice_capacity(base, args.max_sessions)
            with process(["-m", "gateway", "speech-server"], {**env, "STT_WORKERS": "2",
                                                              "STT_THREADS": "1"}, "/health") as speech:
                with process(["-m", "gateway", "serve"],
                             {**env, "DATABASE_URL": postgres.new_database(),
                              "STT_BASE_URL": f"{speech}/v1", "TTS_BASE_URL": f"{speech}/v1"},
                             "/health/live") as base:
                    wait_ready(base)
                    result["voice_speech_server"] = voice_capacity(base, args.max_sessions)
    if not args.skip_voice:
        inproc = result["voice_in_process"]["sessions_per_gateway_core"]
        apart = result["voice_speech_server"]["sessions_per_gateway_core"]
        result["sessions_per_gateway_core_ratio"] = round(apart / inproc, 1) if inproc else None
    result["targets"] = {"voice_to_voice_p95_ms": P95_BOUND_MS,
                         "sessions_per_gateway_core_ratio": 2.0}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
