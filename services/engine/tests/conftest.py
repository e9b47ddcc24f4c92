"""Engine test fixtures shared across test modules."""

# pg_fixture sits beside this file (pytest puts this directory on sys.path; mypy does not).
from pg_fixture import database_url, postgres_server  # type: ignore[import-not-found]

__all__ = ["database_url", "postgres_server"]
