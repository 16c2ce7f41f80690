"""Settings, `parley serve` as a real process on an embedded PostgreSQL, migrations, tokens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from gateway.config import ConfigError, load_settings
from gateway.storage.migrations import discover
from tests.support import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(extra)
    return env


def run_parley(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, text=True,
                          capture_output=True, env=clean_env(PYTHONPATH=str(ROOT), **env),
                          timeout=120)


def test_provider_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # no .env here
    assert load_settings().resolved_llm_provider == "scripted"
    assert load_settings(gemini_api_key="g").resolved_llm_provider == "gemini"
    both = load_settings(gemini_api_key="g", openai_api_key="o")
    assert (both.resolved_llm_provider, both.resolved_llm_model) == ("openai", "gpt-4o-mini")
    assert load_settings(openai_api_key="o", llm_provider="scripted").resolved_llm_provider \
        == "scripted"
    defaults = load_settings()
    assert (defaults.max_ai_requests_per_minute, defaults.max_message_chars,
            defaults.history_turns) == (10, 2000, 10)


def test_bad_value_stops_start_up_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = run_parley("serve", cwd=tmp_path, MAX_AI_REQUESTS_PER_MINUTE="lots")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "MAX_AI_REQUESTS_PER_MINUTE" in lines[0] and "'lots'" in lines[0]
    result = run_parley("serve", cwd=tmp_path, LLM_PROVIDER="gemini")
    assert result.returncode == 2 and "GEMINI_API_KEY" in result.stderr
    with pytest.raises(ConfigError, match="LLM_TIMEOUT_S"):
        load_settings(llm_timeout_s=-1)


def test_secret_values_are_not_echoed_in_config_errors(tmp_path: Path) -> None:
    result = run_parley("serve", cwd=tmp_path, LLM_PROVIDER="claude",
                        OPENAI_API_KEY="sk-do-not-print-me")
    assert result.returncode == 2 and "LLM_PROVIDER" in result.stderr
    assert "sk-do-not-print-me" not in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_an_embedded_postgres_and_reuses_it(tmp_path: Path) -> None:
    # As root the server runs as another user, which must be able to reach the data dir's
    # parent: pytest's tmp_path is private (0700), so use a reachable one.
    import tempfile

    reachable = Path(tempfile.mkdtemp(prefix="parley-serve-"))
    reachable.chmod(0o711)
    data_dir = reachable / "parley-data"
    for attempt in range(2):  # first run creates the cluster, the second reuses it
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)], cwd=tmp_path,
            env=clean_env(PYTHONPATH=str(ROOT), PARLEY_DATA_DIR=str(data_dir)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            health = _wait_for_health(port, proc)
            assert health["database"] == "ok" and health["llm"]["provider"] == "scripted"
            assert health["llm"]["is_language_model"] is False
        finally:
            proc.send_signal(signal.SIGINT)
            output = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, output
        assert "development mode" in output
        assert ("creating a PostgreSQL cluster" in output) == (attempt == 0)
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        assert not (data_dir / "postgres" / "postmaster.pid").exists()  # stopped on exit


def _wait_for_health(port: int, proc: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.communicate()[0])
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()  # type: ignore
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the gateway did not come up")


def test_migrate_applies_each_file_once(tmp_path: Path, postgres) -> None:
    url = postgres.new_database()
    first = run_parley("migrate", cwd=tmp_path, DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert f"applied {len(discover())} migration(s)" in first.stdout
    second = run_parley("migrate", cwd=tmp_path, DATABASE_URL=url)
    assert second.stdout.strip() == "applied 0 migration(s)"


def test_token_command(tmp_path: Path) -> None:
    result = run_parley("token", "--user", "alice", "--ttl", "60", "--role", "admin",
                        cwd=tmp_path, JWT_SECRET_KEY="k" * 40)
    claims = jwt.decode(result.stdout.strip(), "k" * 40, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 60
    assert run_parley("token", "--user", "x", cwd=tmp_path).returncode == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="as a normal user, every test already takes this path")
def test_embedded_postgres_runs_as_a_normal_user() -> None:
    """As root the suite runs PostgreSQL under a service account; this checks the plain path."""
    import pwd
    import shutil
    import tempfile

    from gateway.storage.embedded import find_postgres_bin

    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 that an unprivileged user can run")
    nobody = pwd.getpwnam("nobody")
    data_dir = Path(tempfile.mkdtemp(prefix="parley-user-"))
    os.chown(data_dir, nobody.pw_uid, nobody.pw_gid)
    bin_dir = find_postgres_bin()
    script = (
        "import importlib.util, pathlib, sys\n"
        f"spec = importlib.util.spec_from_file_location('embedded', '{ROOT}/gateway/storage/embedded.py')\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['embedded'] = m\n"
        "spec.loader.exec_module(m)\n"
        f"pg = m.EmbeddedPostgres(pathlib.Path('{data_dir}'), bin_dir=pathlib.Path('{bin_dir}'))\n"
        "pg.start(); print(pg.psql('SELECT current_user, 40 + 2', 'parley').strip())\n"
        "import subprocess\n"  # the server's own OS user, without the password: refused
        "r = subprocess.run([str(pg.bin_dir / 'psql'), '-h', str(pg.socket_dir), '-U', 'postgres',"
        " '-w', '-c', 'SELECT 1'], capture_output=True, env={'PATH': '/usr/bin:/bin'})\n"
        "print('without password:', r.returncode != 0); pg.stop()\n"
    )
    try:
        result = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=120,
                                user=nobody.pw_uid, group=nobody.pw_gid, cwd="/",
                                env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["postgres|42", "without", "password:", "True"]
        assert oct((data_dir / "run").stat().st_mode & 0o777) == "0o700"
        assert (data_dir / "postgres" / "PG_VERSION").stat().st_uid == nobody.pw_uid
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_speech_server_urls_choose_the_openai_engines_unless_a_provider_is_named() -> None:
    from tests.support import isolated_settings

    settings = isolated_settings(stt_base_url="http://stt:8100/v1", tts_base_url="http://tts/v1")
    assert (settings.resolved_stt_provider, settings.resolved_tts_provider) == ("openai", "openai")
    named = isolated_settings(stt_base_url="http://stt/v1", stt_provider="whisper")
    assert named.resolved_stt_provider == "whisper"
    assert isolated_settings().resolved_stt_provider == "whisper"


def test_the_gateway_refuses_to_listen_beyond_loopback_without_a_secret(tmp_path: Path) -> None:
    result = run_parley("serve", "--host", "0.0.0.0", cwd=tmp_path)
    assert result.returncode == 2 and "JWT_SECRET_KEY" in result.stderr
    assert "127.0.0.1" in result.stderr
