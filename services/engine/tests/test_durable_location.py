"""OPENSQT_DATABASE_URL resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensqt_engine.durable import DEFAULT_DATABASE_URL, StoreKind, StoreUrlError, locate_store


def test_default_is_a_sqlite_file_under_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENSQT_DATABASE_URL", raising=False)
    location = locate_store(None)
    assert DEFAULT_DATABASE_URL == "sqlite:///data/opensqt-engine.sqlite"
    assert location.kind is StoreKind.SQLITE
    assert location.sqlite_path == Path("data/opensqt-engine.sqlite")
    assert (tmp_path / "data").is_dir()
    assert location.dbos_url == "sqlite:///data/opensqt-engine.dbos.sqlite"


def test_the_environment_variable_selects_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSQT_DATABASE_URL", f"sqlite:///{tmp_path}/x/engine.db")
    location = locate_store(None)
    assert location.sqlite_path == tmp_path / "x" / "engine.db"
    assert location.dbos_url == f"sqlite:///{tmp_path}/x/engine.dbos.db"
    explicit = locate_store(f"sqlite:///{tmp_path}/other.sqlite")  # the parameter wins
    assert explicit.sqlite_path == tmp_path / "other.sqlite"


@pytest.mark.parametrize(
    "url", ["postgresql://u:secret@db:5432/opensqt", "postgres://u:secret@db:5432/opensqt"]
)
def test_postgresql_urls_use_psycopg_and_one_database(url: str) -> None:
    location = locate_store(url)
    assert location.kind is StoreKind.POSTGRESQL
    assert location.engine_url.drivername == "postgresql+psycopg"
    assert location.dbos_url == "postgresql+psycopg://u:secret@db:5432/opensqt"
    assert location.libpq_conninfo == "postgresql://u:secret@db:5432/opensqt"
    assert "secret" not in location.display
    assert location.sqlite_path is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "must be sqlite"),
        ("postgresql://u@h", "must name its database"),
        ("sqlite://", "needs a file path"),
        ("not a url", "cannot parse"),
    ],
)
def test_unusable_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(StoreUrlError, match=message):
        locate_store(url)
