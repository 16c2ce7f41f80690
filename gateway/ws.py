"""The session WebSocket: authenticate, open the session, hand frames to `Conversation`."""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from gateway.auth import AuthError, authenticate
from gateway.outbox import Outbox
from gateway.session import Conversation

log = logging.getLogger(__name__)
router = APIRouter()

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
CLOSE_BAD_SESSION_ID = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@router.websocket("/ws/session/{session_id}")
async def session_socket(websocket: WebSocket, session_id: str) -> None:
    services = websocket.app.state.services
    await websocket.accept()
    if not SESSION_ID.fullmatch(session_id):
        await websocket.close(CLOSE_BAD_SESSION_ID,
                              "session id must be 1-128 characters of A-Z a-z 0-9 _ -")
        return
    try:
        principal = authenticate(services.jwt_secret,
                                 query_token=websocket.query_params.get("token"),
                                 header=websocket.headers.get("authorization"))
    except AuthError as error:
        await websocket.close(CLOSE_UNAUTHENTICATED, str(error))
        return
    record, _ = await services.store.open_session(session_id, principal.user_id)
    if record.owner != principal.user_id:
        log.warning("user %s refused session %s owned by another user", principal.user_id,
                    session_id)
        await websocket.close(CLOSE_FORBIDDEN, "this session belongs to another user")
        return
    conversation = Conversation(record, principal, services, Outbox(websocket))
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            if frame.get("text") is not None:
                await conversation.handle_text_frame(frame["text"])
            elif frame.get("bytes") is not None:
                await conversation.handle_binary_frame(frame["bytes"])
    except WebSocketDisconnect:
        pass
    finally:
        conversation.outbox.closed = True
        await conversation.aclose()
