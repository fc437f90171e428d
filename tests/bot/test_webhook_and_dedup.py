"""Webhook mode checks Telegram's secret token; replayed update ids are remembered (memory or Redis)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import build_application, webhook_options
from bot.services import BotServices
from bot.updates import SEEN_TTL_SECONDS, MemorySeenUpdates, RedisSeenUpdates
from scripts import procs
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, bot_settings
from tests.helpers.fake_telegram import FakeTelegram

ALICE = 424301
SECRET = "webhook-secret-" + "x" * 20
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def test_webhook_mode_refuses_to_start_without_a_secret(fake: FakeTelegram) -> None:
    settings = bot_settings(fake, TELEGRAM_WEBHOOK_URL="https://bot.example.org/telegram")
    with pytest.raises(SystemExit, match="TELEGRAM_WEBHOOK_SECRET"):
        webhook_options(settings)


async def test_webhook_accepts_only_updates_carrying_the_secret_token(
    fake: FakeTelegram, assistant: ScriptedAssistant, directory: RecordingDirectory
) -> None:
    port = procs.free_port()
    settings = bot_settings(
        fake,
        TELEGRAM_WEBHOOK_URL="https://bot.example.org/telegram/hook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_PORT=port,
    )
    options = webhook_options(settings)
    services = BotServices(assistant=assistant, users=directory, session_factory=None)
    application = build_application(settings, services)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    await application.updater.start_webhook(**options)  # type: ignore[union-attr]
    await application.start()
    try:
        [set_webhook] = fake.calls_to("setWebhook")
        assert set_webhook.params["url"] == "https://bot.example.org/telegram/hook"
        assert set_webhook.params["secret_token"] == SECRET

        update = {
            "update_id": 77,
            "message": {
                "message_id": 1, "date": 0, "text": "hello via webhook",
                "chat": {"id": ALICE, "type": "private"},
                "from": {"id": ALICE, "is_bot": False, "first_name": "A"},
            },
        }
        url = f"http://127.0.0.1:{port}/telegram/hook"
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, content=json.dumps(update),
                                       headers={"Content-Type": "application/json",
                                                "X-Telegram-Bot-Api-Secret-Token": "wrong"})
            assert forged.status_code == 403
            genuine = await client.post(url, content=json.dumps(update),
                                        headers={"Content-Type": "application/json",
                                                 "X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert genuine.status_code == 200
        [reply] = await fake.wait_for_messages(ALICE, 1)
        assert reply["text"] == "echo: hello via webhook"
        assert assistant.received == [(f"tg-{ALICE}", "hello via webhook")]
    finally:
        await application.updater.stop()  # type: ignore[union-attr]
        await application.stop()
        await application.shutdown()


async def test_memory_seen_updates_forgets_the_oldest_beyond_capacity() -> None:
    seen = MemorySeenUpdates(capacity=2)
    assert [await seen.first_time(i) for i in (1, 2, 1, 3)] == [True, True, False, True]
    assert await seen.first_time(1)  # evicted by 3: a redelivery that old is handled again


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """TEST_REDIS_URL (default a spare database on the local Redis); fails loudly if unreachable."""
    import redis.asyncio as redis

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        await client.ping()
    except redis.RedisError as err:
        # Not a skip: CI starts Redis, and RedisSeenUpdates would hide its absence behind memory.
        pytest.fail(f"Redis at {url} is unreachable ({err}); start it or set TEST_REDIS_URL")
    finally:
        await client.aclose()
    yield url


@pytest.mark.redis
async def test_redis_seen_updates_survive_a_restart(redis_url: str) -> None:
    import redis.asyncio as redis

    namespace = f"paychat-test:{secrets.token_hex(6)}"
    first = RedisSeenUpdates(redis_url, namespace)
    try:
        assert await first.first_time(9001)
        assert not await first.first_time(9001)
    finally:
        await first.aclose()
    after_restart = RedisSeenUpdates(redis_url, namespace)
    try:
        assert not await after_restart.first_time(9001)
        assert await after_restart.first_time(9002)
    finally:
        await after_restart.aclose()
    # The ids really are in Redis with a TTL (not in the memory fallback), and are cleaned up.
    client = redis.Redis.from_url(redis_url)
    try:
        keys = sorted(k.decode() for k in await client.keys(f"{namespace}:*"))
        assert keys == [f"{namespace}:9001", f"{namespace}:9002"]
        assert 0 < await client.ttl(keys[0]) <= SEEN_TTL_SECONDS
        await client.delete(*keys)
    finally:
        await client.aclose()
