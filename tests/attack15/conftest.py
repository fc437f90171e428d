"""Fixtures for the attack15 tests: the console's (database, staff, app) and the bot's (fake Telegram)."""

from tests.bot.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    assistant,
    directory,
    fake,
    no_telegram_network,
    running_bot,
)
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
