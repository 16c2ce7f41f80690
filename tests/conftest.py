"""Shared fixtures: one real PostgreSQL for the session, gateways and fake LLM servers."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from tests.fakes.llm_servers import FakeLLMServer
from tests.support import ENV_VARS, PostgresForTests, isolated_settings, serve_in_thread

# A developer's environment never leaks into tests.
for _name in ENV_VARS:
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresForTests]:
    # Not under pytest's basetemp: pytest makes that private (0700) on every run, which
    # would lock out the unprivileged user the server runs as when the tests run as root.
    data_dir = Path(tempfile.mkdtemp(prefix="parley-test-pg-"))
    pg = PostgresForTests(data_dir)
    yield pg
    pg.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def fake_llm() -> Iterator[tuple[FakeLLMServer, str]]:
    server = FakeLLMServer()
    with serve_in_thread(server.app) as url:
        yield server, url


GatewayFactory = Callable[..., str]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Assembled model files, shared by every gateway of the session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def stt(models_dir: Any) -> Iterator[Any]:
    """One recogniser as the gateway has it (`bench.filler_set.recogniser`), shared by every
    feedback measure in a module and closed after it."""
    from bench import filler_set

    recogniser = filler_set.recogniser(models_dir)
    yield recogniser
    asyncio.run(recogniser.aclose())


@pytest.fixture
def gateway(postgres: PostgresForTests, tmp_path: Any, models_dir: Any) -> Iterator[GatewayFactory]:
    """Start a real gateway with the given settings overrides; returns its base URL.

    Speech engines are off unless a test asks for them (`stt_provider="whisper"`...).
    """
    with ExitStack() as stack:

        def start(**overrides: Any) -> str:
            overrides.setdefault("database_url", postgres.new_database())
            overrides.setdefault("parley_data_dir", tmp_path / "data")
            overrides.setdefault("parley_models_dir", models_dir)
            overrides.setdefault("stt_provider", "none")
            overrides.setdefault("tts_provider", "none")
            # Tests run as one development user across many sessions; the per-user limits
            # are tested on their own (test_security), with their own values.
            overrides.setdefault("max_ai_requests_per_minute_per_user", 10_000)
            overrides.setdefault("max_new_sessions_per_user_per_hour", 10_000)
            settings = isolated_settings(**overrides)
            return stack.enter_context(serve_in_thread(create_app(settings)))

        yield start
