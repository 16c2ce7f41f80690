"""A private PostgreSQL server in `PARLEY_DATA_DIR`, for when `DATABASE_URL` is unset.

The server binaries come from the `pgserver` wheel (so a fresh machine needs no apt
step) or, failing that, from a system PostgreSQL. The cluster listens on a Unix
socket only: no port to collide with, and about 0.6 ms a simple query.
PostgreSQL refuses to run as root, so under root the cluster belongs to a
dedicated system user and every server command runs as that user.

It holds counseling transcripts, so it is private: password authentication (scram-sha-256,
a generated password kept 0600 in `PARLEY_DATA_DIR/postgres.password`), a socket directory
of mode 0700 owned by the server's user, and no permission changes above PARLEY_DATA_DIR
(as root, the server's user must already be able to reach it: start-up says so if not).
A cluster made by an earlier version with `trust` is switched over on its next start.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import logging
import os
import pwd
import secrets
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
    def password_file(self) -> Path:
        return self.data_dir / "postgres.password"

    @property
    def password(self) -> str:
        """The superuser's password, generated on first use and kept 0600."""
        if not self.password_file.exists():
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
        return self.password_file.read_text().strip()

    @property
    def url(self) -> str:
        return (f"postgresql://postgres:{quote(self.password, safe='')}@/{DATABASE}"
                f"?host={quote(str(self.socket_dir))}")

    def start(self) -> str:
        """Start the server (initialising the cluster first if needed); return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o700)
        if self._service_user:
            self._grant_service_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if not self._is_running():
            self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.pgdata),
                      "-l", str(self.data_dir / "postgres.log"),
                      "-o", f"-k {self.socket_dir} -c listen_addresses=''")
            self._started_here = True
        self._require_password()
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
        pwfile = self.data_dir / ".initdb-password"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._service_user:
            os.chown(pwfile, self._service_user.pw_uid, self._service_user.pw_gid)
        try:
            self._run("initdb", "-D", str(self.pgdata), "-U", "postgres",
                      "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                      "--locale=C", "--no-instructions")
        finally:
            pwfile.unlink(missing_ok=True)

    def _require_password(self) -> None:
        """Switch a cluster that still trusts local connections to password authentication."""
        hba = self.pgdata / "pg_hba.conf"
        rules = [line for line in hba.read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        if not any("trust" in line.split() for line in rules):
            return
        log.warning("switching the embedded PostgreSQL from trust to password authentication")
        escaped = self.password.replace("'", "''")
        self.psql(f"ALTER USER postgres PASSWORD '{escaped}'")
        hba.write_text("local all all scram-sha-256\n")  # keeps its owner: it is rewritten
        self._run("pg_ctl", "reload", "-D", str(self.pgdata))

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
        options = self._as_service_user()
        options["env"] = {**options.get("env", os.environ), "PGPASSWORD": self.password}
        result = subprocess.run(argv, capture_output=True, text=True, **options)
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
        """Give the service user the cluster's directories (PARLEY_DATA_DIR and below only)."""
        user = self._service_user
        assert user is not None
        assert self.bin_dir is not None
        for path in (self.data_dir.parent, self.bin_dir):
            _require_traversal(path)
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


def _require_traversal(path: Path) -> None:
    """The service user must be able to reach `path`; nothing above PARLEY_DATA_DIR is ever
    changed to make that so."""
    for directory in [path, *path.parents]:
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise EmbeddedPostgresError(
                f"running as root, the embedded PostgreSQL runs as {SERVICE_USER!r}, which "
                f"cannot reach {directory} (no o+x); put PARLEY_DATA_DIR (and the virtual "
                "environment) somewhere it can reach, run as a normal user, or set DATABASE_URL")


def _socket_dir_for(data_dir: Path) -> Path:
    preferred = data_dir / "run"
    if len(str(preferred)) <= _MAX_SOCKET_DIR:
        return preferred
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"parley-pg-{digest}"
