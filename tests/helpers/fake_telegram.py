"""The fake Telegram Bot API lives in testing/fake_telegram.py (the benchmarks use it too)."""

from testing.fake_telegram import (
    BOT_USER,
    ApiCall,
    FakeTelegram,
    _ApiError,
    fake_telegram_server,
    polling,
)

__all__ = ["BOT_USER", "ApiCall", "FakeTelegram", "_ApiError", "fake_telegram_server", "polling"]
