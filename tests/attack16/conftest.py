"""Fixtures for the attack16 tests: the bot's (fake Telegram, recording user directory)."""

from tests.bot.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    directory,
    fake,
    no_telegram_network,
)
