"""The session WebSocket: authenticate, then hand every frame to the session's owner.

The handler never acts on a frame itself: it reads, puts the frame into the owner's inbox
and reads the next (the bounded inbox is the socket's back-pressure). The owner answers.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from gateway.auth import SUBPROTOCOL, AuthError, authenticate
from gateway.origins import origin_allowed
from gateway.session import events as ev
from gateway.session.connection import Connection
from gateway.session.hub import SessionRefused

log = logging.getLogger(__name__)
router = APIRouter()

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
CLOSE_BAD_SESSION_ID = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@router.websocket("/ws/session/{session_id}")
async def session_socket(websocket: WebSocket, session_id: str) -> None:
    services = websocket.app.state.services
    hub = websocket.app.state.hub
    protocols = websocket.headers.get("sec-websocket-protocol")
    offered = {item.strip() for item in (protocols or "").split(",")}
    # Never echo the protocol that carries the token: `parley.v1` is the one selected.
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, websocket.headers.get("host"), services.settings):
        log.warning("refused a WebSocket from origin %r", (origin or "")[:80])
        await websocket.close(CLOSE_FORBIDDEN, "this origin may not open sessions")
        return
    if not SESSION_ID.fullmatch(session_id):
        await websocket.close(CLOSE_BAD_SESSION_ID,
                              "session id must be 1-128 characters of A-Z a-z 0-9 _ -")
        return
    try:
        principal = authenticate(services.token_rules,
                                 query_token=websocket.query_params.get("token"),
                                 header=websocket.headers.get("authorization"),
                                 subprotocols=protocols)
    except AuthError as error:
        await websocket.close(CLOSE_UNAUTHENTICATED, str(error))
        return
    connection = Connection(websocket)
    try:
        await hub.attach(session_id, principal, connection)
    except SessionRefused as refused:
        await websocket.close(refused.close_code, refused.reason)
        return
    owner = hub.live(session_id)
    try:
        while owner is not None and not connection.closed:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            if frame.get("text") is not None:
                await owner.post(ev.TextFrame(connection, frame["text"]))
            elif frame.get("bytes") is not None:
                await owner.post(ev.AudioFrame(connection, frame["bytes"]))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        connection.closed = True
        if owner is not None and not owner.done.is_set():
            await owner.post(ev.Detach(connection))
