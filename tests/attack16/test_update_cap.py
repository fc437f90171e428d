"""Attack on the per-user update cap (bot.updates.OrderedUpdateProcessor, BOT_MAX_UPDATES_PER_USER):
real PTB long-polling the fake Bot API over HTTP, the real Rasa client against the stand-in Rasa
channel on loopback (tests/rasa_client/standin.py), as tests/attack12b/test_review_bot.py does.

The cap refuses an update before any handler runs, so the handlers that must run for every update
(group -2/-1 and the chat-member handler) are skipped too.
"""

from __future__ import annotations

import asyncio

from bot import texts
from bot.app import build_application
from bot.services import BotServices
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

CAP = 2
CARD_TEXT = "my card is 4242 4242 4242 4242 exp 12/29"


async def test_a_card_number_sent_past_the_cap_is_still_deleted(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    user = 716001
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        settings = bot_settings(fake, BOT_MAX_UPDATES_PER_USER=CAP)
        async with polling(build_application(settings, services)):
            try:
                for n in range(CAP):
                    await fake.send_text(user, f"pay bill {n}")
                await fake.wait_for(lambda: len(rasa.received) == 1)  # the user's turns are in progress
                card = await fake.send_text(user, CARD_TEXT)
                await fake.wait_for_messages(user, 1, within=10.0)  # the bot reacted to the card message
                await asyncio.sleep(1.0)
                deleted = [c.params["message_id"] for c in fake.calls_to("deleteMessage", user)]
            finally:
                release.set()
            await fake.wait_for_messages(user, 1 + CAP)
        await client.aclose()
    assert deleted == [card["message"]["message_id"]]


async def test_blocking_the_bot_while_capped_is_still_recorded(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    user = 716002
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        settings = bot_settings(fake, BOT_MAX_UPDATES_PER_USER=CAP)
        async with polling(build_application(settings, services)):
            try:
                for n in range(CAP):
                    await fake.send_text(user, f"pay bill {n}")
                await fake.wait_for(lambda: len(rasa.received) == 1)
                await fake.member_status(user, "member", "kicked")
                await asyncio.sleep(2.0)
                recorded = list(directory.reachability)
                told = [m["text"] for m in fake.sent_messages(user)]
            finally:
                release.set()
            await asyncio.sleep(1.0)
        await client.aclose()
    assert (user, False) in recorded
    assert texts.SLOW_DOWN not in told  # nobody to tell: they blocked the bot


async def test_a_message_resent_after_replies_is_never_silently_dropped(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    user = 716003
    release = asyncio.Event()
    slow = "pay my rent"  # a turn that takes long (held until released)
    held = lambda _sender, message: message == slow  # noqa: E731
    async with standin_rasa(hold=release, held=held) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        settings = bot_settings(fake, BOT_MAX_UPDATES_PER_USER=3)
        async with polling(build_application(settings, services)):
            try:
                await fake.send_text(user, "hello")
                await fake.send_text(user, "what do I owe")
                await fake.send_text(user, slow)
                await fake.send_text(user, "one more")  # past the cap: "slow down"
                first = await fake.wait_for_messages(user, 3, within=15.0)
                # The user saw replies and the "slow down"; as told, they send it again.
                await fake.send_text(user, "one more")
                await asyncio.sleep(3.0)
                after = [m["text"] for m in fake.sent_messages(user)][len(first) :]
            finally:
                release.set()
            await asyncio.sleep(1.0)
        await client.aclose()
    assert sorted(m["text"] for m in first) == sorted([texts.SLOW_DOWN, "echo: hello", "echo: what do I owe"])
    # The resent message is either read (reaches the assistant later) or answered now; never nothing.
    assert after or "one more" in rasa.received


GROUP = {"id": -1001716, "type": "group", "title": "Flatmates"}


async def test_a_capped_users_group_message_gets_no_answer_in_the_group(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    user = 716004
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        settings = bot_settings(fake, BOT_MAX_UPDATES_PER_USER=CAP)
        async with polling(build_application(settings, services)):
            try:
                for n in range(CAP):
                    await fake.send_text(user, f"pay bill {n}")  # in their private chat
                await fake.wait_for(lambda: len(rasa.received) == 1)
                await fake.send_chat_text(user, GROUP, "who's cooking tonight?")  # not for the bot
                await asyncio.sleep(2.0)
                in_group = [m["text"] for m in fake.sent_messages(GROUP["id"])]
            finally:
                release.set()
            await fake.wait_for_messages(user, CAP)
        await client.aclose()
    assert in_group == []
