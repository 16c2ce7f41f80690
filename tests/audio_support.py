"""Fixture audio and helpers to stream it through a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_wav(name: str) -> np.ndarray:
    with wave.open(str(FIXTURES / name)) as source:
        assert source.getframerate() == 16000 and source.getnchannels() == 1
        return np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)


def references() -> dict[str, str]:
    return json.loads((FIXTURES / "synth_references.json").read_text(encoding="utf-8"))


def silence(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.int16)


_VOICES: dict[str, Any] = {}


async def synthesized(text: str, language: str) -> np.ndarray:
    """`text` spoken by the offline voices (Piper for English, espeak-ng for Korean), at
    16 kHz: short test clips such as backchannels ("Yeah.", "네.") made on the spot."""
    from audio import models
    from audio.tts import EspeakTTS, PiperTTS

    if language not in _VOICES:
        _VOICES[language] = PiperTTS(models.piper_joe()) if language == "en" else EspeakTTS("ko")
    tts = _VOICES[language]
    pcm = np.frombuffer(b"".join([chunk async for chunk in tts.synthesize(text)]), np.int16)
    return soxr.resample(pcm, tts.sample_rate, 16000).astype(np.int16)  # type: ignore[no-any-return]


def white_noise(seconds: float, amplitude: float = 3000, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal(int(seconds * rate)) * amplitude).clip(-32768, 32767).astype(np.int16)


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    return soxr.resample(audio, 16000, rate).astype(np.int16)  # type: ignore[no-any-return]


async def stream_audio(ws: ClientConnection, audio: np.ndarray, *, rate: int = 16000,
                       chunk_ms: int = 20, realtime: float = 0.0) -> None:
    """Send PCM16 in `chunk_ms` pieces; `realtime=1.0` paces at real time, 0 as fast as possible."""
    data = audio.astype("<i2").tobytes()
    step = rate * 2 * chunk_ms // 1000
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index, offset in enumerate(range(0, len(data), step)):
        await ws.send(data[offset:offset + step])
        if realtime:
            target = started + (index + 1) * chunk_ms / 1000 / realtime
            await asyncio.sleep(max(0.0, target - loop.time()))
        elif index % 50 == 0:
            await asyncio.sleep(0)


class Microphone:
    """A live microphone on a socket: 20 ms frames in real time, silence unless it has been
    given something to say (`say`), for as long as it is open."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._pending: list[np.ndarray] = []
        self._said = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def say(self, audio: np.ndarray) -> None:
        self._said.clear()
        self._pending.append(audio.astype(np.int16))

    async def said(self) -> None:
        """Until everything given has been sent."""
        await self._said.wait()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started, index, current = loop.time(), 0, np.zeros(0, np.int16)
        while True:
            if not len(current) and self._pending:
                current = self._pending.pop(0)
            frame, current = current[:320], current[320:]
            if not len(current) and not self._pending:
                self._said.set()
            frame = np.pad(frame, (0, 320 - len(frame)))
            try:
                await self.ws.send(frame.astype("<i2").tobytes())
            except ConnectionClosed:
                return
            index += 1
            await asyncio.sleep(max(0.0, started + index * 0.02 - loop.time()))

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class EventLog:
    """Everything the gateway sent on one socket: JSON events and binary audio, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.items: list[dict[str, Any] | bytes] = []
        self.arrivals: list[float] = []  # time.perf_counter() of each item
        self._task = asyncio.create_task(self._read())
        self._changed = asyncio.Event()
        self.closed_with: ConnectionClosed | None = None

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self.items.append(json.loads(frame) if isinstance(frame, str) else frame)
                self.arrivals.append(time.perf_counter())
                self._changed.set()
        except ConnectionClosed as closed:
            self.closed_with = closed
            self._changed.set()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [item for item in self.items if isinstance(item, dict)]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    def first_audio_arrival(self, event: dict[str, Any]) -> float | None:
        """When the first binary frame after `event` (a tts_begin) arrived."""
        start = next(i for i, item in enumerate(self.items) if item is event)
        for item, arrived in zip(self.items[start + 1:], self.arrivals[start + 1:], strict=True):
            if isinstance(item, bytes):
                return arrived
        return None

    def audio_after(self, event: dict[str, Any]) -> bytes:
        """The binary frames between `event` (a tts_begin) and the next tts_end."""
        start = next(i for i, item in enumerate(self.items) if item is event)
        chunks = []
        for item in self.items[start + 1:]:
            if isinstance(item, dict) and item["type"] == "tts_end":
                break
            if isinstance(item, bytes):
                chunks.append(item)
        return b"".join(chunks)

    async def wait_for(self, type_: str, count: int = 1, timeout: float = 120) -> list[dict[str, Any]]:
        await self.wait_until(lambda: len(self.of_type(type_)) >= count, timeout)
        return self.of_type(type_)

    async def wait_until(self, condition: Any, timeout: float = 120) -> None:
        async def until() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    async def settle(self, quiet_s: float = 1.0) -> None:
        """Wait until nothing has arrived for `quiet_s`."""
        while True:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), quiet_s)
            except TimeoutError:
                return

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def spoken_reply(ws_url: str, message: str) -> EventLog:
    """Type `message` in a session that takes audio; everything up to the reply's tts_end."""
    from websockets.asyncio.client import connect

    async with connect(ws_url, max_size=None) as ws:
        log = EventLog(ws)
        await ws.send(json.dumps({"type": "audio_config", "data": {"sample_rate": 16000}}))
        await ws.send(json.dumps({"type": "request_ai_response", "data": {"message": message}}))
        await log.wait_for("tts_end")
        await log.close()
    return log
