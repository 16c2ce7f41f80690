"""One client socket as the owner sees it: typed sends, one at a time, and a close."""

from __future__ import annotations

import itertools
import logging

from starlette.websockets import WebSocket, WebSocketState

from gateway import protocol as p

log = logging.getLogger(__name__)

_ids = itertools.count(1)


class Connection:
    """A session's WebSocket. Only the session's owner sends on it."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self.id = next(_ids)
        self.closed = False

    async def send(self, event: p._Event) -> None:
        await self._send(event.to_json())

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data)

    async def error(self, code: str, reason: str) -> None:
        await self.send(p.ErrorEvent(data=p.ErrorData(error=reason, code=code)))

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self._ws.application_state == WebSocketState.CONNECTED:
                await self._ws.close(code, reason)
        except (RuntimeError, OSError):
            pass

    async def _send(self, payload: str | bytes) -> None:
        if self.closed:
            return
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
