"""Secure by default, tried from outside: the real gateway with auth on, every route and the
WebSocket against bad tokens and foreign origins; the shipped deployment files; the logs;
the embedded database against another OS user; limits per person across two processes."""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from gateway.auth import mint_token
from gateway.storage.embedded import EmbeddedPostgres
from tests.support import ask, free_port, serve_in_process, ws_url

ROOT = Path(__file__).resolve().parents[1]
SECRET = "a-secret-for-the-security-tests-0123456789"


def _protocols(token: str | None = None) -> list[Subprotocol]:
    """What the page offers: Parley's subprotocol, then its bearer token where it has one."""
    return [Subprotocol(name) for name in ["parley.v1"] + ([f"bearer.{token}"] if token else [])]


def _tokens() -> dict[str, str | None]:
    now = int(time.time())
    return {
        "no_token": None,
        "bad_signature": mint_token("another-secret-that-is-long-enough-000", "alice"),
        "alg_none": jwt.encode({"sub": "alice", "iat": now, "exp": now + 600}, "",
                               algorithm="none"),  # "none" takes no key: "" is read as None
        "expired": mint_token(SECRET, "alice", ttl_s=-600),
        "no_exp": jwt.encode({"sub": "alice", "iat": now}, SECRET, algorithm="HS256"),
    }


# Every HTTP route that reads or changes data, with the status an unauthenticated call gets.
ROUTES = [("GET", "/scenarios"), ("GET", "/scenarios/counseling"), ("POST", "/sessions"),
          ("GET", "/sessions/{sid}/turns"), ("POST", "/sessions/{sid}/end"),
          ("GET", "/sessions/{sid}/report"), ("GET", "/sessions/{sid}/report.html"),
          ("DELETE", "/sessions/{sid}"), ("GET", "/me/data"), ("DELETE", "/me/data"),
          ("GET", "/metrics"), ("PUT", "/admin/scenarios/x"), ("PUT", "/admin/personas/x"),
          ("DELETE", "/admin/scenarios/x")]


async def _close_code(url: str, **kwargs: object) -> int | None:
    try:
        async with connect(url, **kwargs) as ws:  # type: ignore[arg-type]
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


@pytest.mark.parametrize("case", sorted(_tokens()))
async def test_every_route_refuses_a_bad_token(gateway, case) -> None:
    base, sid = gateway(jwt_secret_key=SECRET), f"sec-{uuid.uuid4().hex[:8]}"
    token = _tokens()[case]
    headers = {"authorization": f"Bearer {token}"} if token else {}
    for method, path in ROUTES:
        response = httpx.request(method, base + path.format(sid=sid), headers=headers, json={})
        assert response.status_code == 401, (method, path, response.status_code)
    assert await _close_code(ws_url(base, sid), subprotocols=_protocols(token)) == 4401


async def test_another_users_token_and_a_non_admin(gateway) -> None:
    base, sid = gateway(jwt_secret_key=SECRET), f"sec-{uuid.uuid4().hex[:8]}"
    alice, bob = mint_token(SECRET, "alice"), mint_token(SECRET, "bob")
    async with connect(ws_url(base, sid), subprotocols=_protocols(alice)) as ws:
        assert ws.subprotocol == "parley.v1"  # the token is never echoed
        assert (await ask(ws, "private"))[-1]["type"] == "ai_stream_complete"
    as_bob = {"authorization": f"Bearer {bob}"}
    for method, path in ROUTES:
        response = httpx.request(method, base + path.format(sid=sid), headers=as_bob, json={})
        if "{sid}" in path:
            assert response.status_code == 403, (method, path)
        elif path.startswith(("/admin", "/metrics")):
            assert response.status_code == 403, (method, path)
    assert await _close_code(ws_url(base, sid), subprotocols=_protocols(bob)) == 4403
    assert "private" not in httpx.get(f"{base}/me/data", headers=as_bob).text
    admin = mint_token(SECRET, "ops", roles=("admin",))
    assert httpx.get(f"{base}/metrics", headers={"authorization": f"Bearer {admin}"}).status_code == 200


async def test_a_foreign_origin_cannot_open_a_session(gateway) -> None:
    base = gateway(jwt_secret_key=SECRET)
    alice = mint_token(SECRET, "alice")
    protocols = _protocols(alice)
    code = await _close_code(ws_url(base, "origin-test"), subprotocols=protocols,
                             origin="http://evil.example")
    assert code == 4403
    async with connect(ws_url(base, "origin-test"), subprotocols=protocols, origin=base) as ws:
        assert (await ask(ws, "from my own page"))[-1]["type"] == "ai_stream_complete"


async def test_security_headers_and_a_csp_the_page_satisfies(gateway) -> None:
    base = gateway(jwt_secret_key=SECRET)
    response = httpx.get(base + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), "inline script in the page"
    assert not re.search(r"\son[a-z]+=", response.text), "inline event handler in the page"


async def test_nul_and_surrogates_are_a_422_naming_the_field(gateway) -> None:
    base = gateway(jwt_secret_key=SECRET)
    admin = {"authorization": f"Bearer {mint_token(SECRET, 'ops', roles=('admin',))}"}
    persona = httpx.get(f"{base}/scenarios/counseling", headers=admin).json()["persona_detail"]
    persona["id"] = "nul-persona"
    persona["name"] = {"ko": "이름\u0000", "en": "Name"}
    response = httpx.put(f"{base}/admin/personas/nul-persona", headers=admin, json=persona)
    assert response.status_code == 422 and "NUL" in response.text and "name" in response.text
    body = '{"scenario": "x\\ud800"}'
    response = httpx.post(f"{base}/sessions", headers={**admin, "content-type": "application/json"},
                          content=body)
    assert response.status_code == 422 and "scenario" in response.text


async def test_data_rights_export_and_real_deletion(gateway, postgres) -> None:
    database = postgres.new_database()
    base = gateway(jwt_secret_key=SECRET, database_url=database)
    alice = mint_token(SECRET, "alice")
    headers = {"authorization": f"Bearer {alice}"}
    for sid in ("keep-me", "delete-me"):
        async with connect(ws_url(base, sid), subprotocols=_protocols(alice)) as ws:
            await ask(ws, f"words in {sid}")
    exported = httpx.get(f"{base}/me/data", headers=headers).json()
    assert {s["id"] for s in exported["sessions"]} == {"keep-me", "delete-me"}
    assert exported["sessions"][0]["turns"][0]["user_message"].startswith("words in")
    assert httpx.delete(f"{base}/sessions/delete-me", headers=headers).status_code == 204
    import asyncpg

    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM turns WHERE session_id = 'delete-me'") == 0
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE id = 'keep-me'") == 1
        assert httpx.delete(f"{base}/me/data", headers=headers).json() == {"deleted_sessions": 1}
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE owner = 'alice'") == 0
        assert await conn.fetchval("SELECT count(*) FROM turns") == 0
    finally:
        await conn.close()


async def test_retention_deletes_old_sessions(gateway, postgres) -> None:
    import asyncpg

    database = postgres.new_database()
    base = gateway(database_url=database)
    async with connect(ws_url(base, "old-session")) as ws:
        await ask(ws, "long ago")
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("UPDATE sessions SET created_at = now() - interval '400 days',"
                           " lease_token = NULL WHERE id = 'old-session'")
        await conn.execute("UPDATE rate_events SET at = now() - interval '2 hours'")
        gateway(database_url=database, retention_days=365)  # a pass runs at start-up
        for _ in range(50):
            if httpx.get(f"{base}/sessions/old-session/turns").status_code == 404:
                break
            await asyncio.sleep(0.1)
        assert httpx.get(f"{base}/sessions/old-session/turns").status_code == 404
        assert await conn.fetchval("SELECT count(*) FROM rate_events") == 0  # past every window
    finally:
        await conn.close()


def test_the_shipped_deployment_cannot_start_open() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"]["gateway"]["environment"]
    assert env["JWT_SECRET_KEY"].startswith("${JWT_SECRET_KEY:?"), "compose must require the secret"
    assert ":?" in compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    env_line = next(line for line in dockerfile.splitlines() if line.startswith("ENV"))
    assert "PARLEY_HOST=0.0.0.0" in env_line and "JWT_SECRET_KEY=" not in dockerfile
    # ... and what the image runs refuses to listen on 0.0.0.0 without one:
    result = subprocess.run([sys.executable, "-m", "gateway", "serve"], capture_output=True,
                            text=True, timeout=60, cwd=tempfile.gettempdir(),
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT),
                                 "PARLEY_HOST": "0.0.0.0"})
    assert result.returncode == 2 and "JWT_SECRET_KEY" in result.stderr
    short = subprocess.run([sys.executable, "-m", "gateway", "serve"], capture_output=True,
                           text=True, timeout=60, cwd=tempfile.gettempdir(),
                           env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT),
                                "JWT_SECRET_KEY": "x"})
    assert short.returncode == 2 and "at least 32 bytes" in short.stderr


def test_tokens_and_messages_never_reach_the_logs(postgres, tmp_path) -> None:
    """The real `parley serve`, its access log on: a token in the query (old clients), in the
    Authorization header and in the subprotocol; a long message. The log holds none of it."""
    alice = mint_token(SECRET, "alice")
    port = free_port()
    log_path = tmp_path / "gateway.log"
    env = {"DATABASE_URL": postgres.new_database(), "JWT_SECRET_KEY": SECRET,
           "PARLEY_DATA_DIR": str(tmp_path / "data"), "STT_PROVIDER": "none",
           "TTS_PROVIDER": "none", "LOG_LEVEL": "info"}
    message = "이것은 오십 자가 넘는 아주 사적인 상담 내용입니다. " * 4
    with open(log_path, "w") as log_file, serve_in_process(
            ["-m", "gateway", "serve", "--port", str(port)], port, env,
            ready_path="/health/live", stderr=log_file) as base:
        httpx.get(f"{base}/sessions/x/turns", params={"token": alice})
        httpx.get(f"{base}/me/data", headers={"authorization": f"Bearer {alice}"})

        async def talk() -> None:
            async with connect(ws_url(base, "logged", alice)) as ws:
                await ask(ws, message)
            async with connect(ws_url(base, "logged"), subprotocols=_protocols(alice)) as ws:
                await ask(ws, message)

        asyncio.run(talk())
    text = log_path.read_text()
    assert "GET /me/data" in text and "WebSocket /ws/session/logged" in text  # the log is on
    assert alice not in text and alice.split(".")[2] not in text
    assert message[:51] not in text


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another OS user")
def test_another_os_user_cannot_read_the_embedded_database() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="parley-private-pg-"))
    data_dir.chmod(0o755)
    server = EmbeddedPostgres(data_dir / "data")
    server.start()
    try:
        assert oct(server.socket_dir.stat().st_mode & 0o777) == "0o700"
        assert oct(server.password_file.stat().st_mode & 0o777) == "0o600"
        nobody = pwd.getpwnam("nobody")
        psql = str(server.bin_dir / "psql")  # type: ignore[operator]
        attempt = subprocess.run(
            [psql, "-h", str(server.socket_dir), "-U", "postgres", "-d", "parley", "-w",
             "-c", "SELECT 1"], capture_output=True, text=True, timeout=30,
            user=nobody.pw_uid, group=nobody.pw_gid, cwd="/", env={"PATH": "/usr/bin:/bin"})
        assert attempt.returncode != 0
        assert "1 row" not in attempt.stdout
        rules = [line.split() for line in (server.pgdata / "pg_hba.conf").read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
        assert rules and all(rule[-1] == "scram-sha-256" for rule in rules)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_the_per_user_limit_holds_across_ten_sessions_and_two_processes(
        gateway, postgres) -> None:
    database = postgres.new_database()
    one = gateway(jwt_secret_key=SECRET, database_url=database,
                  max_ai_requests_per_minute_per_user=12)
    two = gateway(jwt_secret_key=SECRET, database_url=database,
                  max_ai_requests_per_minute_per_user=12)
    alice = mint_token(SECRET, "alice")
    outcomes = []
    for i in range(10):
        base = one if i % 2 else two
        async with connect(ws_url(base, f"limit-{i}"), subprotocols=_protocols(alice)) as ws:
            for _ in range(2):
                events = await ask(ws, "hello")
                outcomes.append(events[-1]["data"].get("code") or events[-1]["type"])
    assert outcomes.count("ai_stream_complete") == 12
    assert outcomes.count("rate_limited") == 8
