"""HTTP: a user's practice adding up (`GET /me/progress`, and as a page of charts)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from feedback.progress import progress
from feedback.progress_html import render_progress_html
from gateway.deps import PrincipalDep, ServicesDep
from gateway.scoring import scored_sessions

router = APIRouter()


@router.get("/me/progress")
async def my_progress(principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    """The caller's scored practice over time: per scenario (most recently practised first),
    each ended session oldest first, with its overall and per-metric scores, filler rate and
    pace. Counseling sessions are not scored and do not appear."""
    return {"user": principal.user_id, "scenarios": progress(await scored_sessions(
        services, principal.user_id))}


@router.get("/me/progress.html", response_class=HTMLResponse)
async def my_progress_page(principal: PrincipalDep, services: ServicesDep,
                           language: Literal["ko", "en"] = "ko") -> HTMLResponse:
    """The same as charts (inline SVG: nothing is loaded from anywhere else)."""
    scenarios = progress(await scored_sessions(services, principal.user_id))
    return HTMLResponse(await asyncio.to_thread(render_progress_html, scenarios, language))
