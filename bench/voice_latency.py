"""Voice-to-voice latency measured from where the words really end, against Pipecat.

Each clip of bench/clips.py (leopard_test_en, jfk, piper_en_all; leopard_test_en also over
real room tone and over fan noise at 15 dB SNR, both going on after the words) is streamed
in real time (20 ms frames, then silence, as a live microphone) over a real WebSocket to a
gateway in its own process (Whisper tiny.en, Piper, default settings), answered by
../shared/peer/stub_openai.py. Voice-to-voice is from the moment the frame holding the
annotated end of speech was sent to the first reply audio received; premature replies are
replies begun before that moment. The same clips then go through Pipecat 1.14
(../shared/peer/run_pipecat_bench.sh, same models, same stub) in the same run, and the
ratio is printed. All of it twice: a zero-delay LLM, and STUB_FIRST_MS=400.

Also: how soon reply audio is told to stop when real speech starts over it (from the
frame where the speech begins to `tts_pause` received), ingest CPU per frame, peak RSS.

    python bench/voice_latency.py [--passes 3] [--no-peer] [--delays 0,400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
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
from bench.clips import TRUE_END_S, load, variant
from tests.audio_support import EventLog, resample
from tests.support import (
    PostgresForTests,
    ServerProcess,
    free_port,
    send,
    serve_in_process,
    ws_url,
)

PEER = Path(__file__).resolve().parents[2] / "shared" / "peer"
CASES = [("leopard_test_en_16k.wav", "quiet"), ("leopard_test_en_16k.wav", "room_tone"),
         ("leopard_test_en_16k.wav", "fan_15db"), ("jfk_16k.wav", "quiet"),
         ("piper_en_all.wav", "quiet")]
STAGES = ["speech_end_to_transcript_ms", "endpoint_to_transcript_ms",
          "transcript_to_first_token_ms", "first_token_to_first_audio_ms", "voice_to_voice_ms",
          "stt_ms"]
# Pipecat's harness's reply, so both answer the same words.
# A reply begun before this point is premature: jfk's sentence is not over before "what your
# country can do for you" (7.70 s); elsewhere, the true end.
PREMATURE_BEFORE_S = {"jfk_16k.wav": 7.70}
REPLY = "That is a strong place to start. What did you learn from it? Tell me more about the team."
CLIPS = ["jfk_16k.wav", "piper_en_1.wav", "piper_en_2.wav", "piper_en_3.wav",
         "leopard_test_en_16k.wav", "stereo_diarization_16k_left.wav", "hotwords_16k.wav"]


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 1),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "n": len(ordered)}


async def one_run(base: str, audio: np.ndarray, true_end_s: float,
                  premature_before_s: float | None = None) -> dict[str, Any]:
    """Stream `audio` like a microphone; when did the reply to the last turn start to sound,
    counted from the true end of speech, and how many replies began before it?"""
    session = httpx.post(f"{base}/sessions", json={"language": "en"}).json()["session_id"]
    end_frame = int(true_end_s * 1000) // 20  # the frame holding the end of the words
    premature_frame = int((premature_before_s or true_end_s) * 1000) // 20
    tail = np.zeros(16000 * 4, np.int16)      # then silence, as a live microphone
    frames = np.concatenate([audio, tail])
    frames = frames[: len(frames) // 320 * 320].reshape(-1, 320)
    async with connect(ws_url(base, session), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        await send(ws, "speech_end_truth", stream_ms=round(true_end_s * 1000))
        loop = asyncio.get_running_loop()
        started = loop.time()
        end_sent = None
        premature = 0
        for index, frame in enumerate(frames):
            await ws.send(frame.astype("<i2").tobytes())
            if index == end_frame:
                end_sent = time.perf_counter()
            if index == premature_frame:
                premature = len(log.of_type("ai_stream_begin"))
            await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - loop.time()))
        def answered() -> bool:  # the last turn's reply has begun to sound
            turns = [e["data"]["turn"] for e in log.of_type("ai_stream_begin")]
            return bool(turns) and any(b["data"]["turn"] == turns[-1]
                                       for b in log.of_type("tts_begin"))

        await log.wait_until(answered, timeout=30)
        await log.settle(0.5)
        begin = log.of_type("tts_begin")[-1]
        first_audio = log.first_audio_arrival(begin)
        metrics = [m["data"] for m in log.of_type("turn_metrics")]
        await log.close()
    assert end_sent is not None and first_audio is not None
    return {"v2v_ms": (first_audio - end_sent) * 1000, "premature": premature,
            "turns": len(log.of_type("transcript")), "metrics": metrics,
            "transcripts": [e["data"]["text"] for e in log.of_type("transcript")],
            "late_ms": [m.get("speech_end_late_ms") for m in metrics]}


async def barge_in_runs(base: str, runs: int) -> list[float]:
    """Real speech over a reply: from the frame where it begins to `tts_pause` received."""
    speech = load("piper_en_2.wav")
    levels = np.sqrt(np.mean(speech[: len(speech) // 320 * 320].reshape(-1, 320)
                             .astype(np.float64) ** 2, axis=1))
    onset = int(np.argmax(levels > max(300.0, 0.1 * levels.max())))  # first voiced frame
    results = []
    for _ in range(runs):
        session = httpx.post(f"{base}/sessions", json={"language": "en"}).json()["session_id"]
        async with connect(ws_url(base, session), max_size=None) as ws:
            log = EventLog(ws)
            await send(ws, "audio_config", sample_rate=16000)
            await send(ws, "request_ai_response", message="Tell me about your last project.")
            await log.wait_for("tts_begin")
            await asyncio.sleep(1.0)
            loop = asyncio.get_running_loop()
            started, onset_sent = loop.time(), 0.0
            clip = np.concatenate([speech, np.zeros(16000, np.int16)])
            for index in range(len(clip) // 320):
                await ws.send(clip[index * 320:(index + 1) * 320].astype("<i2").tobytes())
                if index == onset:
                    onset_sent = time.perf_counter()
                await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - loop.time()))
            await log.wait_for("tts_pause", timeout=10)
            paused = next(at for item, at in zip(log.items, log.arrivals, strict=True)
                          if isinstance(item, dict) and item["type"] == "tts_pause")
            results.append((paused - onset_sent) * 1000)
            await log.close()
    return results


def write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(audio.astype("<i2").tobytes())


def pipecat(wav: Path, true_end_s: float, delay_ms: int, runs: int) -> dict[str, Any]:
    """The peer on the same clip: ../shared/peer/run_pipecat_bench.sh's JSON."""
    env = {**os.environ, "WAV": str(wav), "SPEECH_END_S": str(true_end_s),
           "STUB_FIRST_MS": str(delay_ms), "WARMUP": "1"}
    done = subprocess.run(["bash", str(PEER / "run_pipecat_bench.sh"), str(runs)], env=env,
                          capture_output=True, text=True, timeout=1800, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-500:]}
    result = json.loads(lines[-1])
    return {"v2v_from_speech_end_ms": result.get("v2v_from_speech_end_ms"),
            "premature": result.get("runs_bursts_before_last_voiced")}


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
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--delays", default="0,400", help="LLM first-token delays, ms")
    parser.add_argument("--no-peer", action="store_true", help="skip Pipecat")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                        help="a gateway setting for this run, e.g. STT_SEGMENT_PAUSE_MS=0")
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "voice_latency", "passes": args.passes,
                              "settings": args.set,
                              "reference": "the annotated end of speech (bench/clips.py)",
                              "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)  # as root, the embedded PostgreSQL's own user must reach it
        wavs = {}
        for name, kind in CASES:
            audio, _ = variant(name, kind)
            wavs[(name, kind)] = audio
            write_wav(Path(tmp) / f"{kind}-{name}", audio)
        postgres = PostgresForTests(Path(tmp) / "pg")
        try:
            for delay in (int(d) for d in args.delays.split(",")):
                result["runs"][f"llm_first_token_{delay}ms"] = run_delay(
                    args, delay, wavs, Path(tmp), postgres)
            if args.memory:
                result["gateway_peak_rss_mb"] = memory(postgres, Path(tmp))
        finally:
            postgres.stop()
    result["ingest_cpu_us_per_20ms_frame"] = ingest_cpu_us_per_frame()
    print(json.dumps(result, indent=2))


def run_delay(args: argparse.Namespace, delay: int, wavs: dict[tuple[str, str], np.ndarray],
              tmp: Path, postgres: PostgresForTests) -> dict[str, Any]:
    out: dict[str, Any] = {}
    stub_port = free_port()
    stub_env = {"STUB_PORT": str(stub_port), "STUB_REPLY": REPLY, "STUB_FIRST_MS": str(delay),
                "STUB_LOG": str(tmp / "stub.jsonl")}
    stub = subprocess.Popen([sys.executable, str(PEER / "stub_openai.py")],
                            env={**os.environ, **stub_env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{stub_port}/v1/models")
        env = {"DATABASE_URL": postgres.new_database(), "LLM_PROVIDER": "openai",
               "OPENAI_BASE_URL": f"http://127.0.0.1:{stub_port}/v1", "OPENAI_API_KEY": "stub",
               "MAX_AI_REQUESTS_PER_MINUTE": "100000",
               "MAX_AI_REQUESTS_PER_MINUTE_PER_USER": "1000000",
               "MAX_NEW_SESSIONS_PER_USER_PER_HOUR": "1000000", "STT_PRELOAD": "en",
               "LOG_LEVEL": "warning", "PARLEY_DATA_DIR": str(tmp / "data"),
               **dict(item.split("=", 1) for item in args.set)}
        with gateway(env) as base:
            asyncio.run(one_run(base, wavs[CASES[0]], TRUE_END_S[CASES[0][0]]))  # warm-up
            for name, kind in CASES:
                runs = [asyncio.run(one_run(base, wavs[(name, kind)], TRUE_END_S[name],
                                            PREMATURE_BEFORE_S.get(name)))
                        for _ in range(args.passes)]
                metrics = [m for r in runs for m in r["metrics"] if "voice_to_voice_ms" in m]
                out[f"{kind}/{name}"] = {
                    "parley_v2v_ms": summary([r["v2v_ms"] for r in runs]),
                    "parley_premature_replies": [r["premature"] for r in runs],
                    "parley_turns": [r["turns"] for r in runs],
                    "parley_first_transcripts": [r["transcripts"][:1] for r in runs],
                    "parley_stages_ms": {stage: summary([m[stage] for m in metrics
                                                         if m.get(stage) is not None])
                                         for stage in STAGES},
                    # the last turn's: an earlier one (jfk's "...for you.") ends before
                    # the annotated end of the whole clip
                    "parley_speech_end_late_ms": summary([r["late_ms"][-1] for r in runs
                                                          if r["late_ms"]
                                                          and r["late_ms"][-1] is not None]),
                }
            out["barge_in_stop_ms"] = summary(asyncio.run(barge_in_runs(base, 5)))
    finally:
        stub.terminate()
        stub.wait()
    if not args.no_peer:
        for name, kind in CASES:
            peer = pipecat(tmp / f"{kind}-{name}", TRUE_END_S[name], delay, args.passes)
            row = out[f"{kind}/{name}"]
            row["pipecat"] = peer
            ours = row["parley_v2v_ms"]
            theirs = (peer.get("v2v_from_speech_end_ms") or {}).get("p50")
            if ours and theirs:
                row["ratio_p50"] = round(ours["p50"] / theirs, 2)
    return out


def memory(postgres: PostgresForTests, tmp: Path) -> dict[str, float]:
    """Peak RSS with Whisper base and Piper loaded and working (an "auto" session)."""
    llm_port = free_port()
    llm_cmd = ["-m", "tests.fakes.llm_servers", "--port", str(llm_port), "--chunks", REPLY]
    with serve_in_process(llm_cmd, llm_port, {}, ready_path="/") as llm_url:
        env = {"DATABASE_URL": postgres.new_database(), "LLM_PROVIDER": "openai",
               "OPENAI_BASE_URL": f"{llm_url}/v1", "STT_PRELOAD": "auto", "LOG_LEVEL": "warning",
               "MAX_NEW_SESSIONS_PER_USER_PER_HOUR": "1000000",
               "PARLEY_DATA_DIR": str(tmp / "data")}
        with gateway(env) as base:
            audio = load("jfk_16k.wav")
            session = httpx.post(f"{base}/sessions", json={"language": "auto"}).json()
            asyncio.run(_talk(base, session["session_id"], audio))
            return {"whisper_base_and_piper": peak_rss_mb(base.pid)}


async def _talk(base: str, session: str, audio: np.ndarray) -> None:
    async with connect(ws_url(base, session), max_size=None) as ws:
        log = EventLog(ws)
        await send(ws, "audio_config", sample_rate=16000)
        data = np.concatenate([audio, np.zeros(16000 * 4, np.int16)]).astype("<i2").tobytes()
        for offset in range(0, len(data), 640):
            await ws.send(data[offset:offset + 640])
            await asyncio.sleep(0.02)
        await log.wait_for("tts_begin", timeout=60)
        await log.close()


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


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
