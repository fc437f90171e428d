"""Attack 19: a user past their cap floods card numbers; every one is deleted (as it must be), but
each refused update runs its card-number handler at once, outside the user's order and any slot
(bot.updates.OrderedUpdateProcessor._refuse), so all the deleteMessage calls queue together for the
bot's one overall ~30 calls/s budget (bot.ratelimit.RepliesFirstRateLimiter) and another user's
reply waits behind the whole flood: one user starves every other user's answers.

fix18b limited the explanations past the cap (one per interval) but not the deletes. Real PTB
long-polling the fake Bot API, the real Rasa client against the stand-in Rasa channel holding only
the flooder's first turn (so they stay at the cap of 1).

Fixed (fix19b): card numbers are deleted per chat in batches (bot.cardnumbers, Bot API
deleteMessages, one call in flight per chat), so a flood costs a few calls, not one per message.
"""

from __future__ import annotations

import asyncio
import time

from bot.app import build_application
from bot.services import BotServices
from bot.updates import OrderedUpdateProcessor
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

FLOOD = 240  # card numbers; at ~30 calls/s their deletes alone take 8 s of the bot's budget
CARD = "4242 4242 4242 4242"


async def test_an_over_cap_card_number_flood_does_not_delay_another_users_reply(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    flooder, other = 719101, 719102
    release = asyncio.Event()
    async with standin_rasa(hold=release, held=lambda _sender, message: message == "pay bill") as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        application = build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=1), services)
        processor = application.update_processor
        assert isinstance(processor, OrderedUpdateProcessor)
        async with polling(application):
            try:
                await fake.send_text(flooder, "pay bill")
                await fake.wait_for(lambda: len(rasa.received) == 1)  # held: the flooder is at the cap
                await asyncio.gather(*(fake.send_text(flooder, CARD) for _ in range(FLOOD)))
                await fake.wait_for(lambda: processor.refused >= FLOOD // 2, within=20.0)
                asked = time.monotonic()
                await fake.send_text(other, "hello")
                await fake.wait_for_messages(other, 1, within=60.0)
                waited = time.monotonic() - asked
                calls = list(fake.calls)
                await fake.wait_for(lambda: len(fake.deleted_ids(flooder)) == FLOOD, within=60.0)
            finally:
                release.set()
        await client.aclose()
    first_reply = next(
        n
        for n, c in enumerate(calls)
        if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(other)
    )
    deletes_ahead = [
        c
        for c in calls[:first_reply]
        if c.method in {"deleteMessage", "deleteMessages"} and str(c.params.get("chat_id")) == str(flooder)
    ]
    assert len(fake.deleted_ids(flooder)) == FLOOD  # every card number deleted
    # Another user's reply waits for at most a second or so of the flooder's calls, not all of them.
    assert waited < 3.0 and len(deletes_ahead) < 60, (
        f"another user's reply waited {waited:.1f} s, behind {len(deletes_ahead)} of the flooder's deletes"
    )


async def test_an_over_cap_card_number_flood_is_deleted_every_one(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    # Held: each of a burst of card numbers past the cap is deleted.
    flooder = 719103
    release = asyncio.Event()
    async with standin_rasa(hold=release, held=lambda _sender, message: message == "pay bill") as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        application = build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=1), services)
        async with polling(application):
            try:
                await fake.send_text(flooder, "pay bill")
                await fake.wait_for(lambda: len(rasa.received) == 1)
                sent = await asyncio.gather(*(fake.send_text(flooder, CARD) for _ in range(40)))
                await fake.wait_for(lambda: len(fake.deleted_ids(flooder)) == 40, within=30.0)
            finally:
                release.set()
        await client.aclose()
    assert fake.deleted_ids(flooder) == {int(u["message"]["message_id"]) for u in sent}
