"""Fixtures for bot tests: the fake Telegram server, a scripted stand-in assistant, a running bot.

The stand-in assistant is only for tests of the bot's own behaviour (rendering, ordering,
duplicates, failures); the end-to-end tests in test_e2e_telegram.py use the real Rasa stack.
Every test here runs behind `no_telegram_network`: a PTB request to anything but a loopback
address (api.telegram.org, say) is refused before it leaves and fails the test.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from telegram.request import HTTPXRequest

from bot.app import build_application
from bot.services import BotServices
from rasa_client import AssistantTurn, AssistantUnavailableError, Reply
from settings import Settings
from tests.helpers.fake_telegram import FakeTelegram, fake_telegram_server, polling


class NetworkUsedError(AssertionError):
    """A test made python-telegram-bot call a host that is not this machine."""


@dataclass
class NetworkGuard:
    """The PTB requests refused during one test, as `host/method` (the URL carries the token)."""

    refused: list[str] = field(default_factory=list)

    def take(self) -> list[str]:
        """The refusals so far, forgotten afterwards (for a test that trips the guard on purpose)."""
        refused, self.refused = self.refused, []
        return refused


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_telegram_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Refuse every PTB request to a non-loopback host and fail the test that made one."""
    guard = NetworkGuard()
    real_do_request = HTTPXRequest.do_request

    async def guarded(self: HTTPXRequest, url: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        parts = urlsplit(url)
        if not is_loopback(parts.hostname):
            where = f"{parts.hostname}/{parts.path.rsplit('/', 1)[-1]}"
            guard.refused.append(where)
            # PTB turns this into a NetworkError it may retry or log quietly, so teardown fails too.
            raise NetworkUsedError(f"offline test tried to reach Telegram at {where}")
        return await real_do_request(self, url, *args, **kwargs)

    monkeypatch.setattr(HTTPXRequest, "do_request", guarded)
    yield guard
    if guard.refused:
        pytest.fail(f"test tried to reach the network through python-telegram-bot: {guard.refused}")


def turn(*replies: Reply) -> AssistantTurn:
    """An assistant turn with the given replies."""
    return AssistantTurn(replies=list(replies), parse={}, slots={}, events=[])


@dataclass
class ScriptedAssistant:
    """Answers each message with `answer(text)`; records (sender, text); can be down or slow."""

    answer: Callable[[str], AssistantTurn] = lambda text: turn(Reply(text=f"echo: {text}"))
    received: list[tuple[str, str]] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    delays: dict[str, float] = field(default_factory=dict)
    closed: bool = False

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        """Answer like the Rasa client would."""
        if self.down:
            raise AssistantUnavailableError("stand-in is down")
        self.received.append((sender_id, text))
        self.metadata.append(dict(metadata or {}))
        await asyncio.sleep(self.delays.get(text, 0))
        return self.answer(text)

    async def aclose(self) -> None:
        """Mark closed."""
        self.closed = True


@dataclass
class UserView:
    """What ensure_telegram_user returns, as far as the bot reads it."""

    id: int
    is_test: bool


@dataclass
class RecordingDirectory:
    """A stand-in user directory that records ensure_telegram_user calls."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    reachability: list[tuple[int, bool]] = field(default_factory=list)

    def ensure_telegram_user(
        self, *, telegram_user_id: int, name: str, language_code: str | None
    ) -> UserView:
        """Record the call and return a user."""
        self.calls.append(
            {"telegram_user_id": telegram_user_id, "name": name, "language_code": language_code}
        )
        return UserView(id=telegram_user_id % 1000, is_test=True)

    def set_telegram_reachable(self, *, telegram_user_id: int, reachable: bool) -> bool:
        """Record the call."""
        self.reachability.append((telegram_user_id, reachable))
        return True


def bot_settings(fake: FakeTelegram, **overrides: Any) -> Settings:
    """Settings pointing the bot at the fake Telegram server (no Redis unless given)."""
    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE": fake.base_url,
        "REDIS_URL": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Telegram Bot API server."""
    async with fake_telegram_server() as server:
        yield server


@pytest.fixture
def assistant() -> ScriptedAssistant:
    """The scripted stand-in assistant."""
    return ScriptedAssistant()


@pytest.fixture
def directory() -> RecordingDirectory:
    """The recording stand-in user directory."""
    return RecordingDirectory()


@pytest.fixture
async def running_bot(
    fake: FakeTelegram, assistant: ScriptedAssistant, directory: RecordingDirectory
) -> AsyncIterator[Any]:
    """The real bot Application long-polling the fake server, talking to the stand-in assistant."""
    services = BotServices(assistant=assistant, users=directory, session_factory=None)
    async with polling(build_application(bot_settings(fake), services)) as application:
        yield application


@asynccontextmanager
async def bot_running(settings: Settings, services: BotServices | None = None) -> AsyncIterator[Any]:
    """Run the real bot Application with these settings until the block ends."""
    async with polling(build_application(settings, services)) as application:
        yield application
