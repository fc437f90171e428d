"""Fixtures for the attack19 tests: the fake Bot API and the bot's recording user directory."""

from tests.bot.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    directory,
    fake,
    no_telegram_network,
)
