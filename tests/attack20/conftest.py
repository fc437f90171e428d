"""Fixtures for the attack20 tests: the fake Bot API (tests/bot) and the payments sandbox (tests/helpers)."""

from tests.bot.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    assistant,
    fake,
    no_telegram_network,
)
