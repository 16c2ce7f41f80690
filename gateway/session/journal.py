"""A session's writes, applied in order by one task, and retried through database outages.

The owner never waits on the database mid-turn: it puts a write here and goes on. Writes
are applied one at a time in the order they were put; a write that fails because the
database cannot be reached is retried (with backoff) until it goes through, so a 30 s
outage delays the record but loses nothing of it. Every write is idempotent (see
`OwnerWrites`), so retrying one whose outcome the outage hid is safe. A write the database
refuses for good (a bug, never user input: input is validated before it gets here) is
logged and dropped so it cannot block the writes behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

log = logging.getLogger(__name__)

Write = Callable[[], Awaitable[bool]]

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 1.0


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached (worth retrying)."""
    return isinstance(error, OSError | TimeoutError | asyncpg.InterfaceError
                      | asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError
                      | asyncpg.TooManyConnectionsError | asyncpg.AdminShutdownError
                      | asyncpg.CrashShutdownError)


@dataclass
class _Entry:
    what: str
    write: Write
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Journal:
    """Ordered, retried writes for one session. `on_refused` is called when a fenced write
    did not apply (the owner lost its lease)."""

    def __init__(self, session_id: str, on_refused: Callable[[str], None]) -> None:
        self.session_id = session_id
        self._on_refused = on_refused
        self._queue: deque[_Entry] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.failing = False  # the last attempt could not reach the database
        self._task = asyncio.create_task(self._run(), name=f"journal-{session_id}")

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, what: str, write: Write) -> asyncio.Future[bool]:
        """Queue `write` (named `what` in logs); the future says whether it applied (False
        at once for a write put after the journal stopped)."""
        entry = _Entry(what, write)
        if self._task.done():
            entry.done.set_result(False)
            return entry.done
        self._queue.append(entry)
        self._idle.clear()
        self._wake.set()
        return entry.done

    async def flush(self) -> None:
        """Wait until every write put so far has been applied (or dropped)."""
        await self._idle.wait()

    def abandon(self) -> None:
        """Drop what is queued and stop (the owner lost its lease: nothing of it may land)."""
        for entry in self._queue:
            if not entry.done.done():
                entry.done.set_result(False)
        self._queue.clear()
        self._closed = True
        self._task.cancel()
        self._idle.set()

    async def aclose(self) -> None:
        """Apply what is queued, then stop."""
        self._closed = True
        self._wake.set()
        await asyncio.gather(asyncio.shield(self._task), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            entry = self._queue[0]
            applied = await self._apply(entry)
            self._queue.popleft()
            if not entry.done.done():
                entry.done.set_result(applied)

    async def _apply(self, entry: _Entry) -> bool:
        delay = RETRY_FIRST_S
        while True:
            try:
                applied = await entry.write()
            except Exception as error:
                if not is_unreachable(error):
                    log.error("session %s: %s was refused by the database (%s); dropped",
                              self.session_id, entry.what, type(error).__name__)
                    return False
                if not self.failing:
                    log.warning("session %s: the database is unreachable (%s); %d write(s)"
                                " held until it is back", self.session_id,
                                type(error).__name__, len(self._queue))
                    self.failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if self.failing:
                log.info("session %s: the database is back; writing what was held",
                         self.session_id)
                self.failing = False
            if not applied:
                self._on_refused(entry.what)
            return applied
