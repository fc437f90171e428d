"""Fixtures for the attack15b tests: the console's (database, staff, app)."""

from tests.console.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    client,
    console_database_url,
    console_settings,
    fake_channel,
    postgres_database,
    seed,
    session_factory,
    sqlite_template,
)
