"""HTTP: health and session history."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from audio import recording
from gateway.catalog import CatalogError, LiveCatalog
from gateway.deps import AdminDep, OwnedSessionDep, PrincipalDep, ServicesDep
from gateway.session.hub import SessionRefused

router = APIRouter()


async def _database(services: ServicesDep) -> str:
    try:
        await services.store.pool.fetchval("SELECT 1", timeout=2)
    except Exception as error:  # report, never crash, the health check
        return f"error: {type(error).__name__}"
    return "ok"


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process is up and its event loop answers (for a liveness probe)."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(services: ServicesDep, request: Request) -> JSONResponse:
    """Ready for new sessions: the database answers, the speech engines have loaded and the
    process is not draining (503 otherwise, for a load balancer's or Kubernetes' probe)."""
    database = await _database(services)
    engines = services.speech.ready.is_set()
    hub = request.app.state.hub
    ok = database == "ok" and engines and not hub.draining
    return JSONResponse({"status": "ready" if ok else "not ready", "database": database,
                         "speech_engines_loaded": engines, "draining": hub.draining,
                         "live_sessions": len(hub)},
                        status_code=200 if ok else 503)


@router.get("/health")
async def health(services: ServicesDep) -> JSONResponse:
    """Database, live engines (the scripted counterpart is not a language model), auth mode;
    HTTP 503 while the database cannot be reached."""
    llm = services.llm
    database = await _database(services)
    llm_info: dict[str, Any] = {
        "provider": llm.provider, "model": llm.model, "is_language_model": llm.is_language_model,
    }
    if not llm.is_language_model:
        llm_info["note"] = ("scripted: an offline scripted counterpart, not a language model; "
                            "set OPENAI_API_KEY or GEMINI_API_KEY for real replies")
    body: dict[str, Any] = {
        "status": "ok" if database == "ok" else "degraded",
        "llm": llm_info,
        "database": database,
        "auth": "jwt" if services.jwt_secret else "development (no JWT_SECRET_KEY)",
    }
    body.update(services.speech.health())
    return JSONResponse(body, status_code=200 if database == "ok" else 503)


@router.post("/sessions/{session_id}/end")
async def end_session(session: OwnedSessionDep, principal: PrincipalDep,
                      request: Request) -> dict[str, Any]:
    """Close and score the session through its owner; returns the report (also stored)."""
    try:
        return await request.app.state.hub.end(session.id, principal)  # type: ignore[no-any-return]
    except SessionRefused as refused:
        raise HTTPException(refused.http_status, refused.reason) from None


@router.get("/sessions/{session_id}/report")
async def session_report(session: OwnedSessionDep, services: ServicesDep) -> dict[str, Any]:
    stored = await services.store.get_report(session.id)
    if stored is None:
        raise HTTPException(404, "no report yet: end the session first "
                                 "(session_end, or POST /sessions/{id}/end)")
    return stored[0]


@router.get("/sessions/{session_id}/report.html", response_class=HTMLResponse)
async def session_report_html(session: OwnedSessionDep, services: ServicesDep) -> HTMLResponse:
    stored = await services.store.get_report(session.id)
    if stored is None:
        raise HTTPException(404, "no report yet: end the session first")
    return HTMLResponse(stored[1])


@router.get("/sessions/{session_id}/turns/{seq}/audio")
async def turn_audio(session: OwnedSessionDep, services: ServicesDep, seq: int) -> Response:
    """The user's own voice for one answer (Ogg Opus), where they consented to recording."""
    audio = await services.store.turn_audio(session.id, seq)
    if audio is None:
        raise HTTPException(404, "no recording of this answer: recording is off unless the "
                                 "user turns it on (audio_config.record_audio)")
    return Response(audio, media_type=recording.MEDIA_TYPE,
                    headers={"Cache-Control": "private, no-store"})


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep, _: AdminDep) -> Response:
    """Prometheus histograms of every stage of a turn (admin role)."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


class NewSession(BaseModel):
    session_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,128}$",
                                   description="Chosen by the client; generated if absent")
    scenario: str = Field("counseling", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    language: Literal["ko", "en", "auto"] = "ko"


@router.post("/sessions", status_code=201)
async def create_session(body: NewSession, services: ServicesDep,
                         principal: PrincipalDep) -> dict[str, Any]:
    """Create a session with its scenario and language; then open its WebSocket."""
    session_id = body.session_id or uuid.uuid4().hex
    try:  # one read: it checks the scenario and gives the opening line
        scenario, _ = await LiveCatalog(services.store).scenario(body.scenario)
    except CatalogError:
        raise HTTPException(422, [{"loc": ["body", "scenario"], "type": "value_error",
                                   "msg": f"unknown scenario {body.scenario!r}; see GET /scenarios"}]
                            ) from None
    if await services.store.get_session(session_id) is not None:
        raise HTTPException(409, f"session {session_id!r} already exists")
    if (refusal := await services.limits.new_session(principal.user_id)) is not None:
        raise HTTPException(429, refusal.reason)
    record, created = await services.store.open_session(
        session_id, principal.user_id, scenario=body.scenario, language=body.language)
    if not created:
        raise HTTPException(409, f"session {session_id!r} already exists")
    opening = scenario.opening_line.in_(record.language)
    return {"session_id": record.id, "scenario": record.scenario, "language": record.language,
            "kind": scenario.kind, "opening_line": opening,
            "websocket": f"/ws/session/{record.id}"}


@router.get("/sessions/{session_id}/turns")
async def session_turns(session: OwnedSessionDep, services: ServicesDep) -> dict[str, Any]:
    """The owner's full history of a session, oldest first."""
    turns = await services.store.all_turns(session.id)
    return {
        "session_id": session.id,
        "scenario": session.scenario,
        "language": session.language,
        "created_at": session.created_at.isoformat(),
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
        "status": session.status,
        "rapport": session.rapport,
        "flagged_for_human": session.flagged_for_human,
        "flag_reason": session.flag_reason,
        "turns": [t.as_json() for t in turns],
    }
