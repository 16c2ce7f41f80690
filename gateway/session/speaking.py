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

    def __init__(self, seq: int, post: Callable[[Message], Awaitable[None]], *,
                 held: bool = False) -> None:
        self.seq = seq
        self._post = post
        self._splitter = SentenceSplitter()
        self._queue: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
        self._playing = asyncio.Event()  # clear: prepare, but post nothing
        if not held:
            self._playing.set()
        self._rewind = False
        self._task = asyncio.create_task(self._run(), name=f"speak-{seq}")

    @property
    def paused(self) -> bool:
        return not self._playing.is_set()

    def pause(self) -> None:
        """Post nothing more until `resume()` (the user may be talking over the reply)."""
        self._playing.clear()

    def resume(self, *, rewind: bool = False) -> None:
        """Go on; with `rewind`, from the start of the sentence being spoken (what was sent
        of it ahead of playback was dropped by the client when it paused)."""
        self._rewind = self._rewind or rewind
        self._playing.set()

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
                 lead_ms: int = 500, held: bool = False) -> None:
        self.tts = tts
        self.lead_ms = lead_ms
        super().__init__(seq, post, held=held)

    async def _run(self) -> None:
        self._started: float | None = None
        self._sent_ms = 0.0
        while (item := await self._queue.get()) is not None:
            sentence, ends_at = item
            slices: list[tuple[bytes, int]] = []  # the sentence so far: a rewind replays it
            posted = 0
            try:
                async for chunk in self.tts.synthesize(sentence):
                    # Read per chunk: a speech server says its rate with its first audio.
                    sample_rate = self.tts.sample_rate
                    step = sample_rate * 2 * SLICE_MS // 1000
                    slices += [(chunk[o:o + step], sample_rate) for o in range(0, len(chunk), step)]
                    posted = await self._post_slices(slices, posted, ends_at)
                await self._post_slices(slices, posted, ends_at)
            except TTSError as error:
                log.warning("speech synthesis failed for turn %d: %s", self.seq, error)
                await self._post(SpeechFailed(self.seq, str(error)))
        await self._post(SpeechDone(self.seq))

    async def _post_slices(self, slices: list[tuple[bytes, int]], posted: int,
                           ends_at: int) -> int:
        """Post `slices[posted:]` paced like playback, waiting while paused; returns how many
        of them have been posted."""
        while posted < len(slices):
            if not self._playing.is_set():
                await self._playing.wait()
            if self._rewind:
                self._rewind, posted = False, 0
                self._started, self._sent_ms = None, 0.0  # playback starts over
            piece, sample_rate = slices[posted]
            if self._started is None:
                self._started = time.perf_counter()
            ahead_ms = self._sent_ms - (time.perf_counter() - self._started) * 1000
            if ahead_ms > self.lead_ms:
                await asyncio.sleep((ahead_ms - self.lead_ms) / 1000)
                continue  # paused meanwhile? look again
            await self._post(SpeechAudio(self.seq, piece, sample_rate, ends_at))
            self._sent_ms += len(piece) / 2 / sample_rate * 1000
            posted += 1
        return posted


class BrowserSpeaking(_Sentences):
    """The voice of one reply, spoken by the page: each sentence goes out as text the moment
    it is complete (`SpeechSentence`); the page says which it has spoken (`tts_spoken`)."""

    mode = "browser"

    async def _run(self) -> None:
        index = 0
        while (item := await self._queue.get()) is not None:
            sentence, ends_at = item
            await self._playing.wait()  # held (a preemptive reply) until confirmed
            await self._post(SpeechSentence(self.seq, index, sentence, ends_at))
            index += 1
        await self._post(SpeechDone(self.seq))


Speaker = Speaking | BrowserSpeaking
