"""The per-user cap's "slow down" answers (bot.updates): limited by time, never once per burst.

Real PTB long-polling the fake Bot API, the real Rasa client against the stand-in Rasa channel
holding the user's first turn (as tests/attack16/test_update_cap.py).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot import texts
from bot.app import build_application
from bot.services import BotServices
from bot.updates import OrderedUpdateProcessor
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

EVERY = 1.0  # seconds between two "slow down" answers to one user while none of their turns ends


async def test_refused_messages_are_answered_again_once_the_interval_is_over(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    user = 716501
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        application = build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=1), services)
        processor = application.update_processor
        assert isinstance(processor, OrderedUpdateProcessor)
        processor.slow_down_every = EVERY
        async with polling(application):
            try:
                await fake.send_text(user, "pay bill")
                await fake.wait_for(lambda: len(rasa.received) == 1)  # held: the user is at the cap
                await fake.send_text(user, "a")
                await fake.wait_for_messages(user, 1, within=10.0)
                await fake.send_text(user, "b")  # covered by the answer just sent
                await fake.wait_for(lambda: processor.refused == 2, within=10.0)
                await asyncio.sleep(EVERY + 0.2)
                await fake.send_text(user, "c")  # the interval is over: answered again
                await fake.wait_for_messages(user, 2, within=10.0)
                await asyncio.sleep(0.5)
                told = [m["text"] for m in fake.sent_messages(user)]
            finally:
                release.set()
            await fake.wait_for_messages(user, 3)
        await client.aclose()
    assert told == [texts.SLOW_DOWN, texts.SLOW_DOWN]
    assert processor.refused == 3
    assert rasa.received == ["pay bill"]


async def test_edits_past_the_cap_are_refused_and_a_card_number_in_one_is_still_deleted(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    """attack18: an edit counts against its user's cap like a message; past it, the edit is answered
    "slow down" (once for the burst), never "send it again as a new message", and one holding a card
    number is deleted all the same."""
    user = 716502
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        application = build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=1), services)
        processor = application.update_processor
        assert isinstance(processor, OrderedUpdateProcessor)
        async with polling(application):
            try:
                sent = await fake.send_text(user, "pay bill")
                await fake.wait_for(lambda: len(rasa.received) == 1)  # held: the user is at the cap
                for n in range(5):
                    await fake.edit_text(user, sent, f"pay bill {n}")
                await fake.edit_text(user, sent, "my card is 4242 4242 4242 4242")
                await fake.wait_for(lambda: processor.refused == 6, within=10.0)
                await fake.wait_for(lambda: (user, sent["message"]["message_id"]) in fake.deleted)
                told = [m["text"] for m in await fake.wait_for_messages(user, 2, within=10.0)]
            finally:
                release.set()
            await fake.wait_for(lambda: any(m["text"] not in told for m in fake.sent_messages(user)))
        await client.aclose()
    assert sorted(told) == sorted([texts.SLOW_DOWN, texts.CARD_NUMBER_REFUSED])
    assert texts.EDITED_MESSAGE not in told
    assert rasa.received == ["pay bill"]


class FailingSlowDownTelegram(FakeTelegram):
    """The fake Bot API; the first sendMessage of texts.SLOW_DOWN waits for `release`, then fails
    with a 502 (Telegram's 5xx); `attempts` counts every sendMessage of texts.SLOW_DOWN."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.attempts = 0

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "sendMessage":
            params = await request.post()
            if params.get("text") == texts.SLOW_DOWN:
                self.attempts += 1
                if self.attempts == 1:
                    await self.release.wait()
                    return web.json_response(
                        {"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502
                    )
        return await super()._handle(request)


async def test_refused_messages_while_a_slow_down_fails_get_one_more_attempt(
    directory: RecordingDirectory,
) -> None:
    """attack18b: one attempt in flight per user; messages refused meanwhile are not answered on
    their own, and when that attempt fails one more is made for them (not one each)."""
    user = 716503
    release = asyncio.Event()
    fake = FailingSlowDownTelegram()
    await fake.start()
    try:
        async with standin_rasa(hold=release) as rasa:
            client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
            services = BotServices(assistant=client, users=directory, session_factory=None)
            application = build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=1), services)
            processor = application.update_processor
            assert isinstance(processor, OrderedUpdateProcessor)
            processor.slow_down_every = 60.0  # the interval outlasts the test
            async with polling(application):
                try:
                    await fake.send_text(user, "pay bill")
                    await fake.wait_for(lambda: len(rasa.received) == 1)  # held: the user is at the cap
                    await fake.send_text(user, "a")  # refused; its answer is held, then fails
                    await fake.wait_for(lambda: fake.attempts == 1, within=10.0)
                    await fake.send_text(user, "b")  # refused while that answer is in flight
                    await fake.send_text(user, "c")
                    await fake.wait_for(lambda: processor.refused == 3, within=10.0)
                    fake.release.set()
                    told = [m["text"] for m in await fake.wait_for_messages(user, 1, within=10.0)]
                    attempts = fake.attempts
                finally:
                    fake.release.set()
                    release.set()
                await fake.wait_for(lambda: "echo: pay bill" in [m["text"] for m in fake.sent_messages(user)])
            await client.aclose()
    finally:
        await fake.stop()
    assert told == [texts.SLOW_DOWN]
    assert attempts == 2  # the failed one, and one more for "b" and "c"
    assert rasa.received == ["pay bill"]
