"""Tests of bot/: real python-telegram-bot against the fake Telegram Bot API server."""
