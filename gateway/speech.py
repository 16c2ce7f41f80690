"""Speaking a reply while it is still being written, paced like playback, cut on barge-in.

Audio is sent at most `lead_ms` ahead of real-time playback, so when the user talks over
the reply the gateway knows what they actually heard (to within `lead_ms`), and the
stored reply is cut to the sentences whose audio went out.
"""

from __future__ import annotations

import asyncio
import logging
import time

from audio.sentences import SentenceSplitter
from audio.tts import TTS, TTSError
from gateway import protocol as p
from gateway.outbox import Outbox

log = logging.getLogger(__name__)

SLICE_MS = 100  # audio per binary frame


class ReplySpeaker:
    """Feed it the reply's text deltas; it sends tts_begin, paced PCM frames and tts_end."""

    def __init__(self, tts: TTS, outbox: Outbox, *, utterance_id: str, turn: int,
                 lead_ms: int = 500) -> None:
        self.tts = tts
        self.outbox = outbox
        self.utterance_id = utterance_id
        self.turn = turn
        self.lead_ms = lead_ms
        self.first_audio_at: float | None = None
        self.audio_ms = 0.0
        self.heard_chars = 0  # the reply's length up to the end of the last sentence spoken
        self._splitter = SentenceSplitter()
        self._queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"speak-{utterance_id}")

    def feed(self, delta: str) -> None:
        for piece in self._splitter.push(delta):
            self._queue.put_nowait(piece)

    async def finish(self) -> None:
        """The text is complete: speak the rest and wait until the last frame is sent."""
        for piece in self._splitter.flush():
            self._queue.put_nowait(piece)
        self._queue.put_nowait(None)
        await asyncio.shield(self._task)

    async def cancel(self) -> None:
        """Stop at once (barge-in); tell the client its playback should stop too."""
        if not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            if self.first_audio_at is not None:
                await self._end(interrupted=True)

    async def _run(self) -> None:
        started = 0.0
        sample_rate = self.tts.sample_rate
        bytes_per_slice = sample_rate * 2 * SLICE_MS // 1000
        while (item := await self._queue.get()) is not None:
            sentence, ends_at = item
            try:
                async for chunk in self.tts.synthesize(sentence):
                    if self.first_audio_at is None:
                        await self.outbox.send(p.TTSBegin(data=p.TTSBeginData(
                            utterance_id=self.utterance_id, turn=self.turn,
                            sample_rate=sample_rate)))
                        self.first_audio_at = started = time.perf_counter()
                    self.heard_chars = ends_at
                    for offset in range(0, len(chunk), bytes_per_slice):
                        piece = chunk[offset:offset + bytes_per_slice]
                        ahead_ms = self.audio_ms - (time.perf_counter() - started) * 1000
                        if ahead_ms > self.lead_ms:
                            await asyncio.sleep((ahead_ms - self.lead_ms) / 1000)
                        await self.outbox.send_bytes(piece)
                        self.audio_ms += len(piece) / 2 / sample_rate * 1000
            except TTSError as error:
                log.warning("speech synthesis failed for turn %d: %s", self.turn, error)
                await self.outbox.error("tts_failed", str(error))
        if self.first_audio_at is not None:
            await self._end(interrupted=False)

    async def _end(self, *, interrupted: bool) -> None:
        await self.outbox.send(p.TTSEnd(data=p.TTSEndData(
            utterance_id=self.utterance_id, interrupted=interrupted,
            audio_ms=round(self.audio_ms))))
