"""A throwaway PostgreSQL server for tests and benchmarks (not for production).

Preference order: `OPENSQT_TEST_POSTGRES_URL` (an existing server, e.g. a CI service) →
testcontainers when that package is installed and a Docker daemon answers → the local server
binaries (``initdb``/``pg_ctl`` from PATH or /usr/lib/postgresql/*/bin) in a temporary directory,
listening on 127.0.0.1 on a free port and on a unix socket inside that directory. PostgreSQL
refuses to run as root: as root the server runs as the ``postgres`` system user (via runuser).
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

SERVER_USER = "postgres"
SUPERUSER = "opensqt"
START_TIMEOUT_S = 60


class PostgresUnavailableError(RuntimeError):
    """No way to get a PostgreSQL server here; the message says what to install."""


def find_server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TemporaryPostgres:
    """A running server; `url(dbname)` gives a SQLAlchemy-style URL; `stop()` removes it all."""

    base_url: str  # postgresql://user@host:port (no database)
    _stop: list[Any] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return f"{self.base_url}/{database}"

    def create_database(self, name: str) -> str:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name must be [A-Za-z0-9_], got {name!r}")
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        while self._stop:
            self._stop.pop()()


def _run(command: list[str], *, as_user: str | None) -> None:
    full = ["runuser", "-u", as_user, "--", *command] if as_user else command
    result = subprocess.run(full, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        output = result.stderr.strip() or result.stdout.strip()
        raise PostgresUnavailableError(f"{Path(command[0]).name} failed ({result.returncode}): {output}")


def _start_local(bindir: Path, *, durable: bool) -> TemporaryPostgres:
    as_user: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError as error:
            raise PostgresUnavailableError(
                f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
            ) from error
        as_user = SERVER_USER
    root = Path(tempfile.mkdtemp(prefix="opensqt-pg-"))
    if as_user is not None:
        shutil.chown(root, user=as_user)
    datadir, logfile = root / "data", root / "server.log"
    port = _free_port()
    _run(
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        as_user=as_user,
    )
    options = f"-h 127.0.0.1 -p {port} -k {root} -c max_connections=200"
    if not durable:  # tests: nothing here must survive a power cut
        options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-l",
            str(logfile),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        ],
        as_user=as_user,
    )

    def stop() -> None:
        with contextlib.suppress(PostgresUnavailableError):
            _run(
                [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"], as_user=as_user
            )
        shutil.rmtree(root, ignore_errors=True)

    return TemporaryPostgres(base_url=f"postgresql://{SUPERUSER}@127.0.0.1:{port}", _stop=[stop])


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return result.returncode == 0


def _start_container() -> TemporaryPostgres:
    postgres_module: Any = importlib.import_module("testcontainers.postgres")
    container = postgres_module.PostgresContainer("postgres:15-alpine", driver=None)
    container.start()
    url = container.get_connection_url()  # postgresql://user:pass@host:port/db
    base = sa.make_url(url).set(drivername="postgresql", database=None)
    return TemporaryPostgres(base_url=base.render_as_string(hide_password=False), _stop=[container.stop])


def start_postgres(*, durable: bool = False) -> TemporaryPostgres:
    """Start (or point at) a throwaway server; the caller must `stop()` it. `durable`: keep
    PostgreSQL's production defaults (fsync, synchronous_commit) for honest benchmarks; tests
    turn them off for speed (an external or container server keeps its own settings)."""
    external = os.environ.get("OPENSQT_TEST_POSTGRES_URL")
    if external:
        url = sa.make_url(external).set(drivername="postgresql", database=None)
        return TemporaryPostgres(base_url=url.render_as_string(hide_password=False))
    if importlib.util.find_spec("testcontainers") is not None and _docker_answers():
        return _start_container()
    bindir = find_server_binaries()
    if bindir is None:
        raise PostgresUnavailableError(
            "no PostgreSQL server binaries (initdb, pg_ctl) found; install them "
            "(Debian/Ubuntu: apt-get install -y postgresql) or set OPENSQT_TEST_POSTGRES_URL"
        )
    return _start_local(bindir, durable=durable)
