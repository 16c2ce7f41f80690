"""JWT auth on the WebSocket and the HTTP API; sessions belong to their first user."""

from __future__ import annotations

import uuid

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.auth import mint_token
from tests.support import ask, ws_url

SECRET = "test-jwt-secret-that-is-long-enough-0123456789"


async def close_code(url: str, **kwargs: object) -> tuple[int, str]:
    async with connect(url, **kwargs) as ws:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_owner_only(gateway) -> None:
    base, sid = gateway(jwt_secret_key=SECRET), f"a-{uuid.uuid4().hex[:8]}"
    alice, bob = mint_token(SECRET, "alice"), mint_token(SECRET, "bob")
    async with connect(ws_url(base, sid, alice)) as ws:
        assert (await ask(ws, "private thoughts"))[-1]["type"] == "ai_stream_complete"
    # Bob can neither open Alice's session nor read it.
    assert (await close_code(ws_url(base, sid, bob)))[0] == 4403
    assert httpx.get(f"{base}/sessions/{sid}/turns", params={"token": bob}).status_code == 403
    # Alice can, with the query token or the Authorization header.
    turns = httpx.get(f"{base}/sessions/{sid}/turns",
                      headers={"Authorization": f"Bearer {alice}"}).json()["turns"]
    assert turns[0]["user_message"] == "private thoughts"
    async with connect(ws_url(base, sid), additional_headers={"Authorization": f"Bearer {alice}"}
                       ) as ws:
        assert (await ask(ws, "again"))[-1]["type"] == "ai_stream_complete"


@pytest.mark.parametrize("token", [None, "garbage", "expired", "wrong-secret"])
async def test_bad_tokens_are_refused(gateway, token) -> None:
    base, sid = gateway(jwt_secret_key=SECRET), f"b-{uuid.uuid4().hex[:8]}"
    value = {"expired": mint_token(SECRET, "alice", ttl_s=-120),  # past the 30 s leeway,
             "wrong-secret": mint_token("another-secret-of-sufficient-length-xyz", "alice"),
             }.get(token or "", token)
    code, reason = await close_code(ws_url(base, sid, value))
    assert code == 4401 and "token" in reason
    response = httpx.get(f"{base}/sessions/{sid}/turns", params={"token": value} if value else {})
    assert response.status_code == 401


async def test_development_mode_needs_no_token(gateway) -> None:
    base = gateway()
    assert "development" in httpx.get(f"{base}/health").json()["auth"]
