"""Serialised sends on one WebSocket (reply task, audio and reader may send at once)."""

from __future__ import annotations

import asyncio
import logging

from starlette.websockets import WebSocket, WebSocketState

from gateway import protocol as p

log = logging.getLogger(__name__)


class Outbox:
    """Sends typed events and binary audio, one at a time, dropping sends after close."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._lock = asyncio.Lock()
        self.closed = False

    async def send(self, event: p._Event) -> None:
        await self._send(event.to_json())

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data)

    async def error(self, code: str, reason: str) -> None:
        await self.send(p.ErrorEvent(data=p.ErrorData(error=reason, code=code)))

    async def _send(self, payload: str | bytes) -> None:
        if self.closed:
            return
        async with self._lock:
            if self._ws.application_state != WebSocketState.CONNECTED:
                self.closed = True
                return
            try:
                if isinstance(payload, bytes):
                    await self._ws.send_bytes(payload)
                else:
                    await self._ws.send_text(payload)
            except (RuntimeError, OSError) as error:  # the peer went away mid-send
                log.debug("send after disconnect dropped: %s", type(error).__name__)
                self.closed = True
