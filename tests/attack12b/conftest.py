"""Fixtures for the attack12b tests: the console's (database, staff, app) and the bot's (fake Telegram)."""

from tests.bot.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    directory,
    fake,
    no_telegram_network,
)
from tests.console.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    console_database_url,
    console_settings,
    postgres_database,
    seed,
    session_factory,
    sqlite_template,
)
