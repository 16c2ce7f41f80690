"""Fair, bounded admission in front of a shared engine (Whisper, Piper).

One engine serves every session of a process. Jobs are admitted in arrival order to its
`workers`; the queue's depth is visible (a metric), and a job that would wait longer than
`max_wait_s` (judged from the recent service time) is refused at once with `EngineBusy`,
so the session can tell the user instead of answering seconds late.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class EngineBusy(Exception):
    """The engine's queue is too long for this job to be worth waiting for."""


class Admission:
    def __init__(self, name: str, *, workers: int = 1, max_wait_s: float = 3.0,
                 initial_service_s: float = 0.3) -> None:
        self.name = name
        self.workers = workers
        self.max_wait_s = max_wait_s
        self.waiting = 0
        self.running = 0
        self.refused = 0
        self._service_s = initial_service_s  # moving average of one job's time
        self._slots = asyncio.Semaphore(workers)

    @property
    def depth(self) -> int:
        """Jobs admitted and not finished (running and waiting)."""
        return self.waiting + self.running

    def expected_wait_s(self) -> float:
        ahead = self.waiting + self.running - self.workers + 1
        return max(0, ahead) * self._service_s / self.workers

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        if self.expected_wait_s() > self.max_wait_s:
            self.refused += 1
            raise EngineBusy(f"{self.name} is busy: {self.depth} job(s) ahead, about "
                             f"{self.expected_wait_s():.1f} s of waiting")
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.running -= 1
            self._service_s = 0.8 * self._service_s + 0.2 * (time.perf_counter() - started)
            self._slots.release()
