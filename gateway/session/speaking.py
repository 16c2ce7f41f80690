"""Speaking a reply while it is still being written.

A stage: feed it the reply's text as it streams; it voices it sentence by sentence and puts
what it yields into the owner's inbox, then `SpeechDone`. Two voices:

- `Speaking` synthesises here and yields `SpeechAudio` slices no further than `lead_ms`
  ahead of real-time playback (or `SpeechFailed`). Because of the pacing, the owner knows
  what the user has actually heard (to within `lead_ms`) when they talk over the reply, and
  stores the reply cut to the sentences whose audio went out.
- `BrowserSpeaking` yields each sentence as text (`SpeechSentence`) the moment it is
  complete, for the page to speak with the Web Speech API: for languages where the gateway's
  only voice is a last resort. The page reports what it has spoken (`tts_spoken`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Literal

from audio.sentences import SentenceSplitter
from audio.tts import TTS, TTSError
from gateway.session.events import Message, SpeechAudio, SpeechDone, SpeechFailed, SpeechSentence

log = logging.getLogger(__name__)

SLICE_MS = 100  # audio per binary frame


class _Sentences(ABC):
    """Text in, whole sentences out to a task that voices them, then `SpeechDone`."""

    mode: Literal["server", "browser"]

    def __init__(self, seq: int, post: Callable[[Message], Awaitable[None]]) -> None:
        self.seq = seq
        self._post = post
        self._splitter = SentenceSplitter()
        self._queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"speak-{seq}")

    def feed(self, delta: str) -> None:
        for piece in self._splitter.push(delta):
            self._queue.put_nowait(piece)

    def finish(self) -> None:
        """The text is complete: speak the rest, then report `SpeechDone`."""
        for piece in self._splitter.flush():
            self._queue.put_nowait(piece)
        self._queue.put_nowait(None)

    async def cancel(self) -> None:
        """Stop at once (barge-in)."""
        if not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @abstractmethod
    async def _run(self) -> None:
        """Voice the queued sentences; post `SpeechDone` after the last."""


class Speaking(_Sentences):
    """The voice of one reply, synthesised here and sent as audio."""

    mode = "server"

    def __init__(self, tts: TTS, seq: int, post: Callable[[Message], Awaitable[None]], *,
                 lead_ms: int = 500) -> None:
        self.tts = tts
        self.lead_ms = lead_ms
        super().__init__(seq, post)

    async def _run(self) -> None:
        started: float | None = None
        sent_ms = 0.0
        while (item := await self._queue.get()) is not None:
            sentence, ends_at = item
            try:
                async for chunk in self.tts.synthesize(sentence):
                    # Read per chunk: a speech server says its rate with its first audio.
                    sample_rate = self.tts.sample_rate
                    bytes_per_slice = sample_rate * 2 * SLICE_MS // 1000
                    for offset in range(0, len(chunk), bytes_per_slice):
                        piece = chunk[offset:offset + bytes_per_slice]
                        if started is None:
                            started = time.perf_counter()
                        ahead_ms = sent_ms - (time.perf_counter() - started) * 1000
                        if ahead_ms > self.lead_ms:
                            await asyncio.sleep((ahead_ms - self.lead_ms) / 1000)
                        await self._post(SpeechAudio(self.seq, piece, sample_rate, ends_at))
                        sent_ms += len(piece) / 2 / sample_rate * 1000
            except TTSError as error:
                log.warning("speech synthesis failed for turn %d: %s", self.seq, error)
                await self._post(SpeechFailed(self.seq, str(error)))
        await self._post(SpeechDone(self.seq))


class BrowserSpeaking(_Sentences):
    """The voice of one reply, spoken by the page: each sentence goes out as text the moment
    it is complete (`SpeechSentence`); the page says which it has spoken (`tts_spoken`)."""

    mode = "browser"

    async def _run(self) -> None:
        index = 0
        while (item := await self._queue.get()) is not None:
            sentence, ends_at = item
            await self._post(SpeechSentence(self.seq, index, sentence, ends_at))
            index += 1
        await self._post(SpeechDone(self.seq))


Speaker = Speaking | BrowserSpeaking
