"""Attack 18: the per-user update cap (bot.updates, BOT_MAX_UPDATES_PER_USER) counts only new
messages and taps in a private chat (`starts_turn`). An edited message is "not counted and never
refused", yet each one takes a processor slot (PTB's BaseUpdateProcessor semaphore) while it waits
for its user's "other" lane and while its answer (texts.EDITED_MESSAGE, a sendMessage) is on its way.
One user editing a message over and over while Telegram is slow to take that chat's replies (a
flood wait for the chat) holds every slot, and the other users' messages wait behind the flood:
exactly what the cap was added to prevent ("one user flooding messages took the slots other users'
updates need").

Real PTB long-polling the fake Bot API over HTTP (sendMessage to the flooding user's chat held
until released: Telegram slow for that chat), the real Rasa client against the stand-in channel.
The control shows the cap does protect the other user from a flood of NEW messages.

Fixed: every update from a user counts against the cap (bot.updates), edits and group messages
included; an over-cap one is answered without a slot (nothing at all in a group), and a group gets
one "private chats only" answer per interval (bot.handlers.GROUP_ANSWER_EVERY_SECONDS).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web

from bot import handlers
from bot.app import build_application, concurrent_updates_for
from bot.services import BotServices
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

FLOODER, OTHER = 718001, 718002


class SlowChatTelegram(FakeTelegram):
    """The fake Bot API; sendMessage to `slow_chat` is answered only once `release` is set."""

    def __init__(self, slow_chat: int) -> None:
        super().__init__()
        self.slow_chat = slow_chat
        self.release = asyncio.Event()
        self.held = 0  # sendMessage calls to slow_chat that arrived (answered once released)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "sendMessage":
            params = await request.post()
            if str(params.get("chat_id")) == str(self.slow_chat):
                self.held += 1
                await self.release.wait()
        return await super()._handle(request)


GROUP = {"id": -1007180000, "type": "supergroup", "title": "Flood"}


async def _flood(fake: FakeTelegram, count: int, *, kind: str) -> None:
    base: dict[str, Any] = {
        "message_id": 5,
        "date": int(time.time()),
        "chat": {"id": FLOODER, "type": "private", "first_name": "Flood"},
        "from": {"id": FLOODER, "is_bot": False, "first_name": "Flood", "language_code": "en"},
        "text": "pay my phone bill",
    }
    for n in range(count):
        if kind == "edits":
            await fake.edit_text(FLOODER, {"message": base}, f"pay my phone bill {n}")
        elif kind == "group":  # addressed to the bot: each one is answered "private chats only"
            await fake.send_chat_text(FLOODER, GROUP, f"/bills@paychat_test_bot {n}")
        else:
            await fake.send_text(FLOODER, f"pay my phone bill {n}")


async def _other_user_answered_during_flood(directory: RecordingDirectory, *, kind: str) -> tuple[bool, int]:
    """Whether OTHER was answered while FLOODER's flood waited on Telegram; and how many answers to
    the flooded chat had been sent by then."""
    fake = SlowChatTelegram(GROUP["id"] if kind == "group" else FLOODER)
    await fake.start()
    try:
        async with standin_rasa() as rasa:
            client = RasaClient(rasa.url, "s", 30.0, max_in_flight=1, max_waiting=1)
            services = BotServices(assistant=client, users=directory, session_factory=None)
            settings = bot_settings(
                fake, RASA_MAX_IN_FLIGHT=1, RASA_MAX_WAITING=1, BOT_MAX_UPDATES_PER_USER=3
            )
            slots = concurrent_updates_for(settings)
            try:
                async with polling(build_application(settings, services)):
                    await _flood(fake, slots + 30, kind=kind)
                    # The flood is in the handlers (answers waiting on Telegram) before the other one writes.
                    await fake.wait_for(lambda: fake.held >= 1, within=20)
                    await fake.send_text(OTHER, "hello")
                    try:
                        await fake.wait_for_messages(OTHER, 1, within=20)
                        return True, fake.held
                    except AssertionError:
                        return False, fake.held
                    finally:
                        fake.release.set()
            finally:
                fake.release.set()
                await client.aclose()
    finally:
        fake.release.set()
        await fake.stop()


async def test_a_flood_of_edits_does_not_starve_other_users(directory: RecordingDirectory) -> None:
    answered, _held = await _other_user_answered_during_flood(directory, kind="edits")
    assert answered, "another user's message got no answer while one user flooded edits"


async def test_a_flood_addressed_to_the_bot_in_a_group_does_not_starve_other_users(
    directory: RecordingDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fixed with attack18: group messages count against their sender's cap, and the group gets one
    "private chats only" per interval (here longer than the test), the rest skipped, not queued."""
    monkeypatch.setattr(handlers, "GROUP_ANSWER_EVERY_SECONDS", 3600.0)
    answered, held = await _other_user_answered_during_flood(directory, kind="group")
    assert answered, "another user's message got no answer while one user flooded a group"
    assert held == 1, f"{held} private-chats-only answers to one group, one expected"


async def test_control_a_flood_of_new_messages_does_not_starve_other_users(
    directory: RecordingDirectory,
) -> None:
    answered, _held = await _other_user_answered_during_flood(directory, kind="messages")
    assert answered, "another user's message got no answer while one user flooded messages"
