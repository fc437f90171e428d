"""Attack 19: a card number sent while one of the user's turns is still being answered stays in the
chat until that turn ends: under the cap the card-number handler (group -1) runs only once the
update holds its user's lane (bot.updates.OrderedUpdateProcessor.do_process_update, `_in_order`),
behind every earlier turn of theirs (each up to RASA_TIMEOUT_SECONDS, up to the cap of them). Past
the cap the same message is deleted at once (`_refuse` runs it outside the lane), so a user who
sends fewer messages keeps a card number on screen longer.

Real PTB long-polling the fake Bot API, the real Rasa client against the stand-in Rasa channel
holding the user's first turn.

Fixed (fix19b): the delete starts as the update arrives (bot.updates process_update, before the
slot and the lane); only the answer keeps its place in the user's order.
"""

from __future__ import annotations

import asyncio

from bot.app import build_application
from bot.services import BotServices
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

CARD = "4242 4242 4242 4242"


async def _card_deleted_while_a_turn_is_held(
    fake: FakeTelegram, directory: RecordingDirectory, user: int, cap: int
) -> bool:
    release = asyncio.Event()
    async with standin_rasa(hold=release, held=lambda _sender, message: message == "pay bill") as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        application = build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=cap), services)
        async with polling(application):
            try:
                await fake.send_text(user, "pay bill")
                await fake.wait_for(lambda: len(rasa.received) == 1)  # the turn is held at Rasa
                await fake.send_text(user, CARD)
                deleted = False
                for _ in range(50):  # 5 s, while the turn stays held
                    await asyncio.sleep(0.1)
                    if fake.deleted_ids(user):
                        deleted = True
                        break
            finally:
                release.set()
            await fake.wait_for(lambda: fake.deleted_ids(user), within=20.0)
        await client.aclose()
    return deleted


async def test_past_the_cap_a_card_number_is_deleted_while_a_turn_is_held(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    assert await _card_deleted_while_a_turn_is_held(fake, directory, 719201, cap=1)


async def test_under_the_cap_a_card_number_is_deleted_while_a_turn_is_held(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    assert await _card_deleted_while_a_turn_is_held(fake, directory, 719202, cap=10)
