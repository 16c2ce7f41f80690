"""Graceful shutdown: SIGTERM drains the process before uvicorn stops it.

On SIGTERM the gateway stops taking sessions (`/health/ready` answers 503, so a load
balancer or Kubernetes sends no more), lets the replies in flight finish for up to
DRAIN_S, then closes every socket with 1012 ("restarting: reconnect"), which the page
answers by reconnecting through the load balancer to another process. A second signal, or
SIGINT, stops at once as before.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Any, drain_s: float) -> None:
        super().__init__(config)
        self.app = app
        self.drain_s = drain_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        hub = getattr(self.app.state, "hub", None)
        if sig != signal.SIGTERM or self._loop is None or hub is None or self._draining:
            super().handle_exit(sig, frame)
            return
        log.info("SIGTERM: draining for up to %g s", self.drain_s)
        self._loop.call_soon_threadsafe(self._start_drain, hub)

    def _start_drain(self, hub: Any) -> None:
        self._draining = asyncio.ensure_future(self._drain(hub))

    async def _drain(self, hub: Any) -> None:
        try:
            await hub.drain(self.drain_s)
        finally:
            self.should_exit = True
