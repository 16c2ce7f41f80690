"""FastAPI dependencies: the shared services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from gateway.auth import AuthError, Principal, authenticate
from gateway.services import Services
from gateway.storage import SessionRecord


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def get_principal(
    request: Request, services: ServicesDep,
    token: Annotated[str | None, Query(description="JWT, for browsers")] = None,
) -> Principal:
    try:
        return authenticate(services.token_rules, query_token=token,
                            header=request.headers.get("authorization"))
    except AuthError as error:
        raise HTTPException(401, str(error), headers={"WWW-Authenticate": "Bearer"}) from None


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_owned_session(
    session_id: str, services: ServicesDep, principal: PrincipalDep
) -> SessionRecord:
    """The session, if it exists and belongs to the caller (404 / 403 otherwise)."""
    record = await services.store.get_session(session_id)
    if record is None:
        raise HTTPException(404, f"no session {session_id!r}")
    if record.owner != principal.user_id:
        raise HTTPException(403, "this session belongs to another user")
    return record


OwnedSessionDep = Annotated[SessionRecord, Depends(get_owned_session)]


def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this needs a token with the 'admin' role")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
