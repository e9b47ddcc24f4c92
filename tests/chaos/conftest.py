"""Chaos tests: the `chaos` marker, the helper modules' import paths, and the stores.

The chaos suite reuses the end-to-end helpers (tests/e2e/e2e_support.py) and the venue
replicas (the `venues` package under tests/), imported under the same names pytest gives
them when it collects those directories.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opensqt_engine.durable.pgtemp import TemporaryPostgres, start_postgres

TESTS = Path(__file__).resolve().parents[1]
for path in (TESTS, TESTS / "e2e"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

_database_numbers = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: kills service processes with SIGKILL and checks what survives")


@pytest.fixture(scope="session")
def chaos_postgres() -> Iterator[TemporaryPostgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The engine's store: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'engine.sqlite'}"
    server: TemporaryPostgres = request.getfixturevalue("chaos_postgres")
    return server.create_database(f"opensqt_chaos_{next(_database_numbers)}")
