"""HTTP: health and session history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.deps import OwnedSessionDep, ServicesDep

router = APIRouter()


@router.get("/health")
async def health(services: ServicesDep) -> dict[str, Any]:
    """Liveness, and which engines are live (the scripted counterpart is not a language model)."""
    llm = services.llm
    database = "ok"
    try:
        await services.store.pool.fetchval("SELECT 1")
    except Exception as error:  # report, never crash, the health check
        database = f"error: {type(error).__name__}"
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
    body.update(services.extras.get("health", {}))
    return body


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
        "turns": [t.as_json() for t in turns],
    }
