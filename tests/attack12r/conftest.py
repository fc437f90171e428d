"""Fixtures for the attack12r tests: the console's database fixtures (SQLite, or PostgreSQL where asked)."""

from tests.console.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    console_database_url,
    postgres_database,
    seed,
    session_factory,
    sqlite_template,
)
