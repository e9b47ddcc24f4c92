"""Where the engine's durable store lives: `OPENSQT_DATABASE_URL`, resolved to concrete URLs.

- Unset: a SQLite file, ``sqlite:///data/opensqt-engine.sqlite`` (relative to the working
  directory; the directory is created).
- ``sqlite:///path/file.sqlite``: the engine's tables in that file; DBOS's system tables in a
  sibling file ``path/file.dbos.sqlite``. SQLite admits one writer per file at a time and DBOS
  takes its write lock for every workflow checkpoint, so one shared file would make the hot-path
  intent append queue behind workflow bookkeeping (docs/adr/004-durable-engine-store.md).
- ``postgresql://…`` (or ``postgres://…``, ``postgresql+psycopg://…``): one database for both;
  the engine's tables in the default schema with an ``engine_`` prefix, DBOS's in schema ``dbos``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from opensqt_common.settings import secrets_dir

DEFAULT_DATABASE_URL = "sqlite:///data/opensqt-engine.sqlite"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class StoreKind(enum.Enum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class DatabaseSettings(BaseSettings):
    """`OPENSQT_DATABASE_URL`: shared by every engine process of one deployment."""

    model_config = SettingsConfigDict(env_prefix="OPENSQT_", frozen=True, extra="ignore")

    database_url: str | None = Field(
        None, description="sqlite:///path or postgresql://user@host/db (default: a SQLite file in ./data)"
    )


def configured_database_url() -> str | None:
    """The URL from the environment (or a secret file named OPENSQT_DATABASE_URL), if any."""
    return DatabaseSettings(_secrets_dir=secrets_dir()).database_url


@dataclass(frozen=True, slots=True)
class StoreLocation:
    kind: StoreKind
    engine_url: sa.URL  # SQLAlchemy URL of the engine's tables (explicit driver)
    dbos_url: str  # DBOS system database URL
    sqlite_path: Path | None  # the engine's SQLite file (None on PostgreSQL)

    @property
    def display(self) -> str:
        """The engine URL with any password masked (for logs)."""
        return self.engine_url.render_as_string(hide_password=True)

    @property
    def libpq_conninfo(self) -> str:
        """A URI psycopg/libpq accepts (PostgreSQL only)."""
        if self.kind is not StoreKind.POSTGRESQL:
            raise ValueError("not a PostgreSQL store")
        return self.engine_url.set(drivername="postgresql").render_as_string(hide_password=False)


class StoreUrlError(ValueError):
    """OPENSQT_DATABASE_URL is neither a SQLite nor a PostgreSQL URL."""


def locate_store(database_url: str | None = None) -> StoreLocation:
    """Resolve a database URL (None: environment, then the SQLite default) to a StoreLocation.

    For SQLite the parent directory is created, so the default works in a fresh checkout.
    """
    raw = database_url or configured_database_url() or DEFAULT_DATABASE_URL
    try:
        url = sa.make_url(raw)
    except sa.exc.ArgumentError as error:
        raise StoreUrlError(f"cannot parse OPENSQT_DATABASE_URL {raw!r}: {error}") from error
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:":
            raise StoreUrlError("a SQLite store needs a file path (sqlite:///path/to/file.sqlite)")
        path = Path(url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        dbos_path = path.with_name(f"{path.stem}.dbos{path.suffix or '.sqlite'}")
        return StoreLocation(
            kind=StoreKind.SQLITE,
            engine_url=url.set(drivername="sqlite"),
            dbos_url=f"sqlite:///{dbos_path}",
            sqlite_path=path,
        )
    if url.drivername in _POSTGRES_SCHEMES:
        if not url.database:
            raise StoreUrlError("a PostgreSQL URL must name its database (postgresql://host/dbname)")
        engine_url = url.set(drivername="postgresql+psycopg")
        return StoreLocation(
            kind=StoreKind.POSTGRESQL,
            engine_url=engine_url,
            dbos_url=engine_url.render_as_string(hide_password=False),
            sqlite_path=None,
        )
    raise StoreUrlError(
        f"OPENSQT_DATABASE_URL must be sqlite:///… or postgresql://…, got scheme {url.drivername!r}"
    )
