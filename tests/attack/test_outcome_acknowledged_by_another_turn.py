"""Item 4: a lost turn's payment outcome is acknowledged by the user's next, unrelated turn.

The bot acknowledges "the outcomes held since this turn started" whenever a turn's reply is
delivered (`acknowledge_turn_outcomes(user_id, since)`): by time, not by turn. A Confirm whose
Rasa turn outlives the bot's timeout is answered "not processed" before its charge has settled
(Rasa keeps running the action: the channel gives up on the action call, the action server does
not). The user writes again ("hi", or taps "Try again"); Rasa handles that turn after the
Confirm's, so the charge settles while it is under way, and its delivered reply marks the success
as told. Nobody ever tells the user their card was charged: they were told "not processed".

Reproduced with the real bot (PTB) against the fake Telegram Bot API and the real payments core
(database + Stripe sandbox); the assistant stands in for Rasa with exactly that timing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from bot.services import BotServices
from payments.service import PaymentsService
from rasa_client import AssistantTurn, AssistantUnavailableError, Reply
from tests.bot.conftest import ScriptedAssistant, bot_running, bot_settings, fake, no_telegram_network, turn  # noqa: F401
from tests.bot.test_notifications import ROUND_SECONDS, _telegram_draft
from tests.helpers.fake_telegram import FakeTelegram

HOLD = timedelta(seconds=2)


class SlowConfirmAssistant(ScriptedAssistant):
    """Rasa as the bot sees it when a Confirm's action outlives the bot's timeout.

    "yes, pay it": the bot's request times out at once, while the action goes on charging in the
    background. Any later message of the same sender waits for that turn (Rasa's per-sender lock),
    then is answered normally.
    """

    def __init__(self, service: PaymentsService, user_id: int, payment_id: int) -> None:
        super().__init__()
        self.service, self.user_id, self.payment_id = service, user_id, payment_id
        self.confirming: asyncio.Task[Any] | None = None
        self.next_turn_sent = asyncio.Event()
        self.charged = asyncio.Event()

    async def _confirm_later(self) -> None:
        # The action is still running when the bot gives up; it settles while the next turn waits.
        await self.next_turn_sent.wait()
        await asyncio.to_thread(
            self.service.confirm_payment, user_id=self.user_id, payment_id=self.payment_id, consent_text="yes"
        )
        self.charged.set()

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        self.received.append((sender_id, text))
        if self.confirming is None:
            self.confirming = asyncio.create_task(self._confirm_later())
            raise AssistantUnavailableError("the Rasa request timed out")
        self.next_turn_sent.set()
        await self.charged.wait()  # Rasa's lock: this turn runs after the Confirm's
        return turn(Reply(text="Hello! What would you like to pay?"))


async def test_a_charge_settled_after_the_bot_gave_up_is_told_even_when_the_user_writes_again(
    payments_service: PaymentsService,
    fake: FakeTelegram,  # noqa: F811
) -> None:
    telegram_id, user_id, payment_id = await asyncio.to_thread(_telegram_draft, payments_service)
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(payments_service.config, outcome_hold=HOLD),
    )
    assistant = SlowConfirmAssistant(service, user_id, payment_id)
    services = BotServices(assistant=assistant, users=service, session_factory=None, notifications=service)
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, services):
        await fake.send_text(telegram_id, "yes, pay it")
        [not_processed] = await fake.wait_for_messages(telegram_id, 1)
        await fake.send_text(telegram_id, "hi")
        await fake.wait_for_messages(telegram_id, 2)
        await asyncio.sleep(HOLD.total_seconds() + 20 * ROUND_SECONDS)  # past the hold: the notifier's turn

    texts = [message["text"] for message in fake.sent_messages(telegram_id)]
    assert "not processed" in not_processed["text"]  # the Confirm itself was answered as lost
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == "succeeded"
    assert any("went through" in text for text in texts), texts
