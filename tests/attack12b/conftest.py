"""Fixtures for the attack12b tests: the console's (database, staff, app)."""

from tests.console.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    console_database_url,
    console_settings,
    postgres_database,
    seed,
    session_factory,
    sqlite_template,
)
