"""A user's rights over their counseling data: export it, delete a session, delete it all.

Deletion is real: the rows are gone (turns and reports go with their session), and the
user's rate-limit records with them. A session being served is first closed (4410) through
its owner, so nothing is written after it is deleted. Old sessions are deleted by the
retention task (RETENTION_DAYS).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from gateway.deps import OwnedSessionDep, PrincipalDep, ServicesDep
from gateway.services import Services
from gateway.session.hub import SessionHub

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_DELETED = 4410
RETENTION_EVERY_S = 3600
LONGEST_LIMIT_WINDOW_S = 3600.0  # new sessions per hour


async def _delete(hub: SessionHub, services: Services, session_id: str) -> None:
    if not await hub.close_session(session_id, CLOSE_DELETED, "this session was deleted"):
        raise HTTPException(409, "this session is live on another gateway process; close it "
                                 "there, then delete it")
    await services.store.delete_session(session_id)


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(session: OwnedSessionDep, services: ServicesDep,
                         request: Request) -> Response:
    """Delete a session and everything derived from it."""
    await _delete(request.app.state.hub, services, session.id)
    await services.limits.forget_user(session.owner, [session.id])
    log.info("session %s deleted by its owner", session.id)
    return Response(status_code=204)


@router.get("/me/data")
async def export_my_data(principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """Everything stored about the caller, as JSON: sessions, turns, reports, and the
    addresses of any recorded answers."""
    sessions = []
    for record in await services.store.sessions_of(principal.user_id):
        report = await services.store.get_report(record.id)
        sessions.append({
            "id": record.id, "scenario": record.scenario, "language": record.language,
            "status": record.status, "created_at": record.created_at.isoformat(),
            "ended_at": record.ended_at.isoformat() if record.ended_at else None,
            "flagged_for_human": record.flagged_for_human,
            "turns": [t.as_json() for t in await services.store.all_turns(record.id)],
            "report": report[0] if report else None,
            # Recorded answers (with consent): where to fetch each, not the audio itself.
            "recordings": [{"seq": seq, "codec": r.codec, "duration_ms": r.duration_ms,
                            "url": f"/sessions/{record.id}/turns/{seq}/audio"}
                           for seq, r in (await services.store.recordings(record.id)).items()],
        })
    return {"user": principal.user_id, "sessions": sessions}


@router.delete("/me/data")
async def delete_my_data(principal: PrincipalDep, services: ServicesDep,
                         request: Request) -> dict[str, Any]:
    """Delete every session of the caller and everything derived from them."""
    records = await services.store.sessions_of(principal.user_id)
    for record in records:
        await _delete(request.app.state.hub, services, record.id)
    await services.limits.forget_user(principal.user_id, [r.id for r in records])
    log.info("user %s deleted all their data (%d sessions)", principal.user_id, len(records))
    return {"deleted_sessions": len(records)}


async def retention_forever(services: Services) -> None:
    """Delete sessions older than RETENTION_DAYS (0: kept) and rate-limit events past their
    longest window, now and every hour."""
    days = services.settings.retention_days
    while True:
        try:
            await services.store.prune_limits(LONGEST_LIMIT_WINDOW_S)
            deleted = await services.store.delete_expired(days) if days > 0 else []
            if deleted:
                log.info("retention: deleted %d session(s) older than %d days", len(deleted), days)
        except Exception as error:
            log.warning("retention pass failed (%s); trying again later", type(error).__name__)
        await asyncio.sleep(RETENTION_EVERY_S)
