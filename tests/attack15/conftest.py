"""Fixtures for the attack15 tests: the console's (migrated database, seeded staff, the app)."""

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
