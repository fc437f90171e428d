"""Fixtures for the attack18 tests: the bot's recording user directory."""

from tests.bot.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    directory,
    no_telegram_network,
)
