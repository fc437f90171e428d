"""Attack 18b: a user past their cap floods card numbers, and every one of them is answered with a
message, ahead of other users' replies.

An update past its user's cap is meant to be "answered cheaply" (bot.updates): a refused message
gets at most one texts.SLOW_DOWN per interval, and takes no processor slot. But the card-number
handler (group -1) runs first for a refused update, and bot.handlers.refuse_card_number sends
texts.CARD_NUMBER_REFUSED for EVERY such message, outside any slot, so nothing bounds them: each
explanation (and each delete) waits for the bot's overall ~30 calls/s budget
(bot.ratelimit.RepliesFirstRateLimiter) in turn, and another user's reply queues behind the whole
flood. The delete itself is needed; one explanation per burst would do, as for "slow down".

Real PTB long-polling the fake Bot API, the real Rasa client against the stand-in Rasa channel
holding only the flooding user's first turn (so they stay at the cap of 1).

Fixed (fix18b): every card number is still deleted; past the cap its explanation goes through
bot.updates.OrderedUpdateProcessor.tell_over_cap (one per user per interval, as "slow down").
"""

from __future__ import annotations

import asyncio

from bot import texts
from bot.app import build_application
from bot.services import BotServices
from bot.updates import OrderedUpdateProcessor
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

FLOOD = 60
CARD = "4242 4242 4242 4242"


async def test_an_over_cap_card_number_flood_does_not_queue_its_answers_ahead_of_another_users_reply(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    flooder, other = 718803, 718804
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
                for _ in range(FLOOD):
                    await fake.send_text(flooder, CARD)
                await fake.wait_for(lambda: processor.refused == FLOOD, within=20.0)
                await fake.send_text(other, "hello")
                await fake.wait_for_messages(other, 1, within=30.0)
                calls = list(fake.calls)
                await fake.wait_for(lambda: len(fake.deleted_ids(flooder)) == FLOOD, within=30.0)
            finally:
                release.set()
            await fake.wait_for(
                lambda: any(m["text"] == "echo: pay bill" for m in fake.sent_messages(flooder))
            )
        await client.aclose()
    first_reply = next(
        n
        for n, c in enumerate(calls)
        if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(other)
    )
    ahead = [
        c
        for c in calls[:first_reply]
        if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(flooder)
    ]
    explained = [m for m in fake.sent_messages(flooder) if m["text"] == texts.CARD_NUMBER_REFUSED]
    assert len(fake.deleted_ids(flooder)) == FLOOD  # every card number deleted (attack19: in batches)
    # The fix may answer a burst once (as "slow down"); it must not answer each refused message.
    assert len(explained) <= 2, (
        f"{len(explained)} card-number explanations for {FLOOD} refused messages, "
        f"{len(ahead)} of the flooder's messages sent before another user's reply"
    )
