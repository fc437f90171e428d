"""Issue 12 review, the Telegram side: real PTB long-polling the fake Bot API over HTTP, the real Rasa
client against a stand-in Rasa channel on loopback (tests/rasa_client/standin.py).

- One user flooding messages held PTB's update slots while their messages waited behind each other
  (bot.updates), so another user's message waited for the flood: now one user's updates are capped
  (BOT_MAX_UPDATES_PER_USER) and the flooder is told to slow down.
- A Confirm tap that reached Rasa without an answer (AssistantNoAnswerError) was answered with "Try
  again", which sends the Confirm a second time: now the answer points to the payment's status.
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

FLOODER = 626001
OTHER = 626002
FLOOD = 80


async def test_one_user_flooding_does_not_hold_another_users_message(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    # Rasa holds the flooder's calls until released and answers everyone else at once. PTB handles
    # 2 + 1 + 64 = 67 updates at once here (bot.app.concurrent_updates_for): fewer than the flood.
    release = asyncio.Event()
    flooder = f"tg-{FLOODER}"
    async with standin_rasa(hold=release, held=lambda sender, _message: sender == flooder) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=2, max_waiting=1)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        settings = bot_settings(fake, RASA_MAX_IN_FLIGHT=2, RASA_MAX_WAITING=1, BOT_MAX_UPDATES_PER_USER=4)
        application = build_application(settings, services)
        async with polling(application):
            try:
                for n in range(FLOOD):
                    await fake.send_text(FLOODER, f"flood {n}")
                await fake.send_text(OTHER, "hello, I am someone else")
                # Promptly: long before the flood is worked off (it is held until released).
                [answer] = await fake.wait_for_messages(OTHER, 1, within=15.0)
                assert answer["text"] == "echo: hello, I am someone else"
                told = await fake.wait_for_messages(FLOODER, 1, within=15.0)
                assert [m["text"] for m in told] == [texts.SLOW_DOWN]
            finally:
                release.set()
            # The capped ones are answered once Rasa answers; every other one was refused, not lost.
            answered = await fake.wait_for_messages(FLOODER, 5)
            await asyncio.sleep(0.5)  # nothing more comes
            processor = application.update_processor
        await client.aclose()
    texts_sent = [m["text"] for m in fake.sent_messages(FLOODER)]
    assert texts_sent == [m["text"] for m in answered]
    assert texts_sent == [texts.SLOW_DOWN] + [f"echo: flood {n}" for n in range(4)]
    assert [m for m in rasa.received if m.startswith("flood")] == [f"flood {n}" for n in range(4)]
    assert processor.refused == FLOOD - 4  # type: ignore[attr-defined]


CONFIRM = '/affirm{"draft_id": 7, "confirm_nonce": "n-7"}'
CANCEL = '/deny{"draft_id": 7, "confirm_nonce": "n-7"}'
SUMMARY = [
    {
        "text": "Pay 40.00 EUR to Phone Co from Visa •4242 today?",
        "buttons": [{"title": "Confirm", "payload": CONFIRM}, {"title": "Cancel", "payload": CANCEL}],
    }
]


async def test_a_confirm_tap_left_unanswered_points_to_the_payment_not_to_a_second_confirm(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    user = 626003
    never = asyncio.Event()
    scripted = {"pay my phone bill": SUMMARY}
    held = lambda _sender, message: message == CONFIRM  # noqa: E731
    async with standin_rasa(hold=never, held=held, scripted=scripted) as rasa:
        client = RasaClient(rasa.url, "s", 1.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        async with polling(build_application(bot_settings(fake), services)):
            try:
                await fake.send_text(user, "pay my phone bill")
                [summary] = await fake.wait_for_messages(user, 1)
                [[confirm, _cancel]] = summary["reply_markup"]["inline_keyboard"]
                await fake.tap(user, summary, confirm["callback_data"])
                _, answer = await fake.wait_for_messages(user, 2)
                # Every button under the answer is tapped: none sends the Confirm again.
                buttons = [b for row in answer["reply_markup"]["inline_keyboard"] for b in row]
                for button in buttons:
                    await fake.tap(user, answer, button["callback_data"])
                messages = await fake.wait_for_messages(user, 3)
            finally:
                never.set()
        await client.aclose()
    # The Confirm reached Rasa once (one charge at most); the status button asked for /history.
    assert rasa.received == ["pay my phone bill", CONFIRM, "/payment_history"]
    assert messages[-1]["text"] == "echo: /payment_history"
    assert answer["text"] == texts.NO_ANSWER_PAYMENT
    assert [b["text"] for b in buttons] == [texts.PAYMENT_STATUS]
