"""The console's fixtures (a migrated database, seeded staff, the app) for the attacks on it."""

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
