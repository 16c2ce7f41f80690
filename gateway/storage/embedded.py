"""A private PostgreSQL server in `PARLEY_DATA_DIR`, for when `DATABASE_URL` is unset.

The server binaries come from the `pgserver` wheel (so a fresh machine needs no apt
step) or, failing that, from a system PostgreSQL. The cluster listens on a Unix
socket only: no port to collide with, and about 0.6 ms a simple query.
PostgreSQL refuses to run as root, so under root the cluster belongs to a
dedicated system user and every server command runs as that user.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

SERVICE_USER = "parley-pg"
DATABASE = "parley"
_MAX_SOCKET_DIR = 90  # a Unix socket path must stay under 108 bytes


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up or started."""


def find_postgres_bin() -> Path:
    """The directory holding `initdb`, `pg_ctl` and `postgres`."""
    candidates: list[Path] = []
    if env := os.environ.get("PARLEY_PG_BIN"):
        candidates.append(Path(env))
    # Located, not imported: importing pgserver starts its own machinery.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "pginstall" / "bin")
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if which := shutil.which("pg_ctl"):
        candidates.append(Path(which).resolve().parent)
    for candidate in candidates:
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    raise EmbeddedPostgresError(
        "no PostgreSQL binaries found: install the 'pgserver' package or set DATABASE_URL"
    )


@dataclass
class EmbeddedPostgres:
    """Creates (first run), starts and stops a cluster under `data_dir / "postgres"`."""

    data_dir: Path
    bin_dir: Path | None = None

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.pgdata = self.data_dir / "postgres"
        self.bin_dir = self.bin_dir or find_postgres_bin()
        self._service_user = _service_account() if os.geteuid() == 0 else None
        self.socket_dir = _socket_dir_for(self.data_dir)
        self._started_here = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/{DATABASE}?host={quote(str(self.socket_dir))}"

    def start(self) -> str:
        """Start the server (initialising the cluster first if needed); return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._service_user:
            self._grant_service_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if not self._is_running():
            self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.pgdata),
                      "-l", str(self.data_dir / "postgres.log"),
                      "-o", f"-k {self.socket_dir} -c listen_addresses=''")
            self._started_here = True
        self._ensure_database()
        return self.url

    def stop(self) -> None:
        """Stop the server if this object started it."""
        if self._started_here and self._is_running():
            self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.pgdata))
        self._started_here = False

    def _initdb(self) -> None:
        log.info("creating a PostgreSQL cluster in %s", self.pgdata)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._service_user:
            os.chown(self.pgdata, self._service_user.pw_uid, self._service_user.pw_gid)
        self.pgdata.chmod(0o700)
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-instructions")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL command through `psql` on the Unix socket; return its bare output."""
        return self._run("psql", "-h", str(self.socket_dir), "-U", "postgres", "-d", database,
                         "-v", "ON_ERROR_STOP=1", "-tAc", sql)

    def _ensure_database(self) -> None:
        found = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")
        if found.strip() != "1":
            self.psql(f"CREATE DATABASE {DATABASE}")

    def _is_running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        result = subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.pgdata)],  # type: ignore[operator]
            capture_output=True, text=True, **self._as_service_user(),
        )
        return result.returncode == 0

    def _run(self, tool: str, *args: str) -> str:
        return self._run_argv([str(self.bin_dir / tool), *args])  # type: ignore[operator]

    def _run_argv(self, argv: list[str]) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, **self._as_service_user())
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise EmbeddedPostgresError(f"{Path(argv[0]).name} failed: {' | '.join(detail)}")
        return result.stdout

    def _as_service_user(self) -> dict[str, Any]:
        if not self._service_user:
            return {}
        return {"user": self._service_user.pw_uid, "group": self._service_user.pw_gid,
                "cwd": "/", "env": {**os.environ, "HOME": "/"}}

    def _grant_service_user(self) -> None:
        """Let the service user reach the binaries and own the cluster's directories."""
        user = self._service_user
        assert user is not None
        for path in (self.data_dir, self.bin_dir.parent):  # type: ignore[union-attr]
            _allow_traversal(path)
        for path in (self.data_dir, self.socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)


def _service_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    log.warning("running as root: creating system user %r to own the embedded PostgreSQL",
                SERVICE_USER)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    SERVICE_USER], check=True, capture_output=True)
    return pwd.getpwnam(SERVICE_USER)


def _allow_traversal(path: Path) -> None:
    """Add o+x to `path` and its ancestors where missing (search only, never read)."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning("granting o+x on %s so the PostgreSQL user can reach its files", directory)
            directory.chmod(mode | stat.S_IXOTH)


def _socket_dir_for(data_dir: Path) -> Path:
    preferred = data_dir / "run"
    if len(str(preferred)) <= _MAX_SOCKET_DIR:
        return preferred
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"parley-pg-{digest}"
