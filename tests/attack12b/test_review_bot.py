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
from bot.rendering import summary_tap, with_nonce
from bot.services import BotServices
from payments.offers import ReissuedOffer
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


class OpenOffers:
    """payments' claim of the tapped summary after a lost answer (payments.confirming, tested against
    the real core in tests/payments/test_confirming.py), recorded: offered again under "n-8", or not."""

    def __init__(self, still_open: bool) -> None:
        self.still_open = still_open
        self.asked: list[dict[str, object]] = []

    def reissue_unanswered_offer(
        self, *, user_id: int, conversation: str, payment_id: int, nonce: str | None
    ) -> ReissuedOffer | None:
        self.asked.append(
            dict(user_id=user_id, conversation=conversation, payment_id=payment_id, nonce=nonce)
        )
        return ReissuedOffer(payment_id=payment_id, nonce="n-8") if self.still_open else None


async def _confirm_left_unanswered(
    fake: FakeTelegram, directory: RecordingDirectory, offers: OpenOffers, user: int
) -> tuple[list[str], dict[str, object], list[dict[str, object]]]:
    """Summary, Confirm with no answer (Rasa holds it once), then every button under the answer tapped."""
    first_confirm = asyncio.Event()
    held = lambda _sender, message: message == CONFIRM and not first_confirm.is_set()  # noqa: E731
    never = asyncio.Event()
    async with standin_rasa(hold=never, held=held, scripted={"pay my phone bill": SUMMARY}) as rasa:
        client = RasaClient(rasa.url, "s", 1.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None, summary_offers=offers)
        async with polling(build_application(bot_settings(fake), services)):
            try:
                await fake.send_text(user, "pay my phone bill")
                [summary] = await fake.wait_for_messages(user, 1)
                [[confirm, _cancel]] = summary["reply_markup"]["inline_keyboard"]
                await fake.tap(user, summary, confirm["callback_data"])
                _, answer = await fake.wait_for_messages(user, 2)
                first_confirm.set()
                buttons = [b for row in answer["reply_markup"]["inline_keyboard"] for b in row]
                for button in buttons:
                    await fake.tap(user, answer, button["callback_data"])
                await fake.wait_for_messages(user, 3)
            finally:
                never.set()
        await client.aclose()
    return rasa.received, answer, buttons


async def test_a_confirm_left_unanswered_whose_summary_is_still_open_is_offered_again(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    # payments holds the summary open: the Confirm was not carried out, so Try again is safe (its
    # nonce is used at most once) and the user is not left waiting for news that never comes.
    offers = OpenOffers(still_open=True)
    received, answer, buttons = await _confirm_left_unanswered(fake, directory, offers, user=626004)
    assert answer["text"] == texts.NO_ANSWER_TAP_NOT_CARRIED_OUT
    assert [b["text"] for b in buttons] == [texts.TRY_AGAIN]
    # Try again sends the same Confirm with the summary's fresh nonce (the tapped one was closed).
    assert received == ["pay my phone bill", CONFIRM, '/affirm{"draft_id":7,"confirm_nonce":"n-8"}']
    [asked] = offers.asked
    assert asked["conversation"] == "tg-626004" and asked["payment_id"] == 7 and asked["nonce"] == "n-7"


async def test_a_confirm_left_unanswered_whose_summary_was_used_points_to_the_payment(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    offers = OpenOffers(still_open=False)
    received, answer, buttons = await _confirm_left_unanswered(fake, directory, offers, user=626005)
    assert answer["text"] == texts.NO_ANSWER_PAYMENT
    assert [b["text"] for b in buttons] == [texts.PAYMENT_STATUS]
    assert received == ["pay my phone bill", CONFIRM, "/payment_history"]


def test_only_a_summary_payload_with_an_integer_draft_and_a_nonce_names_a_tap() -> None:
    assert summary_tap(CONFIRM) == (7, "n-7")
    assert summary_tap(CANCEL) == (7, "n-7")
    for payload in (
        "/affirm",
        '/affirm{"draft_id": 7}',
        '/affirm{"confirm_nonce": "n-7"}',
        '/affirm{"draft_id": true, "confirm_nonce": "n-7"}',
        '/affirm{"draft_id": "7", "confirm_nonce": "n-7"}',
        '/affirm{"draft_id": 7, "confirm_nonce": 7}',
        '/affirm{"draft_id": 7, "confirm_nonce": "n-7"',
        '/confirm_mandate{"mandate_offer": 3, "confirm_nonce": "n"}',
        '/affirm["draft_id", "confirm_nonce"]',
    ):
        assert summary_tap(payload) is None, payload


def test_a_summary_offered_again_is_sent_again_with_its_fresh_nonce_only() -> None:
    assert summary_tap(with_nonce(CONFIRM, "n-8")) == (7, "n-8")
    assert with_nonce(CANCEL, "n-8") == '/deny{"draft_id":7,"confirm_nonce":"n-8"}'
    assert with_nonce("/change", "n-8") == "/change"
    assert with_nonce('/affirm{"draft_id": "7", "confirm_nonce": "n-7"}', "n-8").endswith('"n-7"}')
