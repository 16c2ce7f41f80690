"""A hostile client, fuzzed with hypothesis: every frame works or gets an error; nothing closes.

Each example opens a socket and sends 50 frames drawn from every client message type (with
values in and out of range), frames built to be invalid in a known way (huge integers,
out-of-range timestamps, NUL and lone surrogates, deep nesting, bad JSON, unknown types,
empty and over-long messages, unknown emotions), and binary frames of random bytes. After
each frame it sends a sentinel frame of an unknown type and reads up to the sentinel's
error, so every answer is attributed to the frame that caused it. 200 examples: 10,000
frames per run; derandomized in CI (CI=true), random locally.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from tests.support import ws_url

FRAMES_PER_EXAMPLE = 50
EXAMPLES = 200
SENTINEL = json.dumps({"type": "sync_sentinel"})
EMOTIONS = ["happy", "sad", "angry", "anxious", "neutral", "surprised", "disgusted", "fearful"]
ASYNC_CODES = {"stt_unavailable", "not_speech", "stt_budget_exceeded"}  # from earlier audio
KNOWN_TYPES = {"request_ai_response", "emotion_update", "vad_metrics", "audio_config",
               "interrupt", "session_start", "session_end"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                      children, max_size=3),
    max_leaves=8)


def _frame(type_: str, data: Any) -> str:
    return json.dumps({"type": type_, "data": data}, ensure_ascii=False)


def _raw(type_: str, data_json: str) -> str:
    return f'{{"type": "{type_}", "data": {data_json}}}'


# (frame, must_error): frames of the contract with arbitrary values ...
well_formed = st.one_of(
    st.builds(lambda m, e, t: (_frame("request_ai_response", {"message": m, "emotion": e,
                                                              "timestamp": t}), False),
              st.text(min_size=1, max_size=60).filter(lambda s: s.strip() and "\x00" not in s),
              st.sampled_from([*EMOTIONS, None]),
              st.none() | st.integers(0, 4_102_444_800_000)),
    st.builds(lambda e, c: (_frame("emotion_update", {"emotion": e, "confidence": c}), False),
              st.sampled_from(EMOTIONS), st.none() | st.floats(0, 1)),
    st.builds(lambda d: (_frame("vad_metrics", d), False), st.dictionaries(st.text(max_size=8),
                                                                           json_values, max_size=4)),
    st.builds(lambda r: (_frame("audio_config", {"sample_rate": r}), False),
              st.sampled_from([8000, 16000, 24000, 48000])),
    st.just((_frame("interrupt", {}), False)),
    st.builds(lambda s, lang: (_frame("session_start", {"scenario": s, "language": lang}), False),
              st.sampled_from(["counseling", "job_interview", "customer_call"]),
              st.sampled_from(["ko", "en", "auto"])),
    st.builds(lambda t, d: (_frame(t, d), False),  # any type with any data: may or may not work
              st.sampled_from(["request_ai_response", "emotion_update", "audio_config",
                               "session_start", "vad_metrics", "interrupt"]), json_values),
    st.builds(lambda b: (b, False), st.binary(max_size=4000)),
)
# ... and frames that are invalid by construction.
invalid = st.one_of(
    st.builds(lambda n: (_raw("request_ai_response",
                              f'{{"message": "hi", "timestamp": {"9" * n}}}'), True),
              st.integers(21, 6000)),
    st.builds(lambda t: (_frame("request_ai_response", {"message": "hi", "timestamp": t}), True),
              st.integers(max_value=-1) | st.integers(min_value=253_402_300_800_000)),
    st.builds(lambda a, b: (_frame("request_ai_response", {"message": f"{a}\x00{b}"}), True),
              st.text(max_size=10), st.text(max_size=10)),
    st.builds(lambda field: (_raw("session_start" if field == "scenario" else
                                  "request_ai_response", f'{{"{field}": "x\\ud800y"}}'), True),
              st.sampled_from(["scenario", "message"])),
    st.builds(lambda s: (_frame("session_start", {"scenario": f"a{s}\x00"}), True), st.text(max_size=5)),
    st.builds(lambda depth: ("[" * depth + "]" * depth, True), st.integers(17, 3000)),
    st.builds(lambda s: (s, True), st.text(max_size=40).filter(lambda s: not _is_json(s))),
    st.builds(lambda t: (_frame(t, {}), True),
              st.text(max_size=20).filter(lambda t: t not in KNOWN_TYPES)),
    st.builds(lambda m: (_frame("request_ai_response", {"message": m}), True),
              st.sampled_from(["", "   ", "\n\t"])),
    st.builds(lambda n: (_frame("request_ai_response", {"message": "가" * n}), True),
              st.integers(2001, 5000)),
    st.builds(lambda e: (_frame("emotion_update", {"emotion": e}), True),
              st.text(max_size=10).filter(lambda e: e not in EMOTIONS)),
    st.builds(lambda r: (_frame("audio_config", {"sample_rate": r}), True),
              st.integers().filter(lambda r: r not in (8000, 16000, 24000, 32000, 44100, 48000))),
)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


STATS = {"frames": 0, "must_error": 0}


@pytest.fixture
def fuzz_gateway(gateway) -> str:
    return gateway(max_ai_requests_per_minute=100_000,  # type: ignore[no-any-return]
                   max_ai_requests_per_minute_per_user=100_000,
                   max_new_sessions_per_user_per_hour=100_000)


async def _run(base: str, frames: list[tuple[str | bytes, bool]]) -> None:
    async with connect(ws_url(base, f"fuzz-{uuid.uuid4().hex[:10]}"), max_queue=None) as ws:
        for frame, must_error in frames:
            await ws.send(frame)
            await ws.send(SENTINEL)
            errors = []
            while True:
                message = await asyncio.wait_for(ws.recv(), 30)
                if isinstance(message, bytes):
                    continue
                event = json.loads(message)
                if event["type"] == "error" and "sync_sentinel" in event["data"]["error"]:
                    break
                if event["type"] in ("error", "ai_stream_error") \
                        and event["data"].get("code") not in ASYNC_CODES:
                    errors.append(event["data"])
            if must_error:
                assert errors, f"no error event for {str(frame)[:120]!r}"
                assert all(e["code"] and e["error"] for e in errors)
            STATS["frames"] += 1
            STATS["must_error"] += must_error
        assert ws.close_code is None  # the socket is still open after all of it


@settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("CI") == "true",
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(frames=st.lists(st.one_of(well_formed, invalid), min_size=FRAMES_PER_EXAMPLE,
                       max_size=FRAMES_PER_EXAMPLE))
def test_every_frame_works_or_gets_an_error(fuzz_gateway: str, frames) -> None:
    asyncio.run(_run(fuzz_gateway, frames))


def test_the_fuzzing_covered_ten_thousand_frames() -> None:
    """Runs after the property above (same module, file order): it saw 10,000 frames."""
    assert STATS["frames"] >= FRAMES_PER_EXAMPLE * EXAMPLES, STATS
    assert STATS["must_error"] > 1000, STATS
