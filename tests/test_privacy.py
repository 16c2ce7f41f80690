"""No log line holds more than 50 characters of what was said, nor any secret."""

from __future__ import annotations

import logging
import uuid

from websockets.asyncio.client import connect

from gateway.auth import mint_token
from tests.support import ask, ws_url

JWT = "jwt-secret-for-privacy-test-0123456789abcdef"
API_KEY = "sk-privacy-test-key-abcdefghijklmnopqrstuvwxyz"


def longest_shared_run(haystack: str, needle: str) -> int:
    """Length of the longest substring of `needle` found in `haystack`."""
    best = 0
    for start in range(len(needle)):
        length = best + 1
        while start + length <= len(needle) and needle[start:start + length] in haystack:
            best = length
            length += 1
    return best


async def test_logs_hold_at_most_50_characters_of_user_text(gateway, fake_llm, caplog) -> None:
    server, url = fake_llm
    caplog.set_level(logging.DEBUG)
    base = gateway(llm_provider="openai", openai_api_key=API_KEY, openai_base_url=f"{url}/v1",
                   jwt_secret_key=JWT, log_level="debug")
    message = ("요즘 잠을 잘 못 자요. 회사에서 있었던 일이 자꾸 생각나고 "
               "누구에게도 말하지 못한 비밀이 있어요. ") * 3
    reply = "That sounds hard to carry alone, and I am glad you said it out loud to me today. " * 3
    server.script.chunks = [reply]
    token = mint_token(JWT, "carol")
    async with connect(ws_url(base, f"pv-{uuid.uuid4().hex[:8]}", token)) as ws:
        await ask(ws, message)
        server.script.break_after = 0
        await ask(ws, message)
    # Everything the gateway process logged (the test's own WebSocket client excluded).
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name != "websockets.client")
    assert "turn 1" in logs  # the turn was logged, with a preview
    assert longest_shared_run(logs, message) <= 50
    assert longest_shared_run(logs, reply) <= 50
    for secret in (JWT, API_KEY, token):
        assert secret not in logs
