"""The bot tests' network guard: PTB aimed at the real Telegram fails the test instead of going out."""

from __future__ import annotations

import pytest
from telegram.error import NetworkError

from bot.app import build_application
from bot.services import BotServices
from settings import Settings
from tests.bot.conftest import NetworkGuard, RecordingDirectory, ScriptedAssistant, is_loopback


async def test_the_default_base_url_trips_the_guard(no_telegram_network: NetworkGuard) -> None:
    settings = Settings(_env_file=None, TELEGRAM_BOT_TOKEN="123456:TEST-token", REDIS_URL="")
    assert settings.telegram_api_base.startswith("https://api.telegram.org/")  # the default
    services = BotServices(assistant=ScriptedAssistant(), users=RecordingDirectory(), session_factory=None)
    application = build_application(settings, services)

    with pytest.raises(NetworkError, match="offline test tried to reach Telegram"):
        await application.initialize()  # asks getMe first
    # Taken here so this test passes; left alone, the guard fails the test at teardown.
    assert no_telegram_network.take() == ["api.telegram.org/getMe"]


def test_only_loopback_counts_as_offline() -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.3.2.1", "::1", "localhost"])
    assert not any(is_loopback(h) for h in ["api.telegram.org", "149.154.167.220", "0.0.0.0", "", None])
