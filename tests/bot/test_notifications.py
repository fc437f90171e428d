"""The notifier: the real bot (PTB) against the fake Telegram server and the real payments service
on the test database and the sandbox. A payment a staff member approves after the chat turn is
told to its user exactly once; a chat Telegram refuses keeps its notification for the next round
without holding up anyone else's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import timedelta
from typing import Any

from bot.notify import notification_text
from bot.services import BotServices
from db.models import User, utcnow
from payments.service import PaymentsService
from payments.statuses import NotificationKind, PaymentStatus
from payments.views import NotificationView
from rasa_client import AssistantTurn, AssistantUnavailableError, Reply
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, bot_running, bot_settings, turn
from tests.helpers.factories import make_paying_user
from tests.helpers.fake_telegram import FakeTelegram, _ApiError

# Telegram ids of their own, away from the demo users and from tests/payments.
_telegram_ids = itertools.count(740_000_001)
ROUND_SECONDS = 0.1


class BlockingTelegram(FakeTelegram):
    """The fake Bot API, refusing sendMessage to the chats in `blocked` like a user who blocked the
    bot (403), or, with `error` set, failing it with that (status, description) instead."""

    def __init__(self, error: tuple[int, str] = (403, "Forbidden: bot was blocked by the user")) -> None:
        super().__init__()
        self.blocked: set[int] = set()
        self.error = error

    def _answer(self, method: str, p: dict[str, Any]) -> Any:
        if method == "sendMessage" and p.get("chat_id") in self.blocked:
            raise _ApiError(*self.error)
        return super()._answer(method, p)


def _approving_service(base: PaymentsService) -> PaymentsService:
    """The session's service, with a threshold low enough that an 84.20 € bill waits for approval."""
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, second_approval_minor=5_000),
    )


def _awaiting_approval(service: PaymentsService) -> tuple[int, int]:
    """A Telegram user's 84.20 € payment, consented and waiting for staff; (telegram id, payment id)."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    telegram_id = next(_telegram_ids)
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.telegram_user_id = telegram_id
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="yes")
    assert result.status == PaymentStatus.AWAITING_APPROVAL
    return telegram_id, result.payment_id


def _services(service: PaymentsService) -> BotServices:
    return BotServices(
        assistant=ScriptedAssistant(), users=RecordingDirectory(), session_factory=None, notifications=service
    )


async def test_an_approved_payment_is_told_once_with_amount_and_biller(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    service = _approving_service(payments_service)
    telegram_id, payment_id = await asyncio.to_thread(_awaiting_approval, service)
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, _services(service)):
        await asyncio.sleep(3 * ROUND_SECONDS)
        assert fake.sent_messages(telegram_id) == []  # nothing to tell while it waits for staff

        result = await asyncio.to_thread(service.approve_payment, payment_id=payment_id, approver="staff:ana")
        assert result.status == PaymentStatus.SUCCEEDED
        [message] = await fake.wait_for_messages(telegram_id, 1)
        await asyncio.sleep(10 * ROUND_SECONDS)  # later rounds find nothing more for this user

    told, receipt = message["text"].split("\n\n")
    assert told == f"✅ Your payment of €84.20 to {result.biller_name} went through."
    assert result.receipt is not None and receipt.startswith(f"🧾 Receipt {result.receipt.reference}\n")
    assert receipt.endswith(f"Payment provider reference: {result.payment_intent_id}")
    assert len(fake.sent_messages(telegram_id)) == 1
    pending = await asyncio.to_thread(service.pending_notifications, limit=500)
    assert all(n.payment_id != payment_id for n in pending)


async def test_a_failing_chat_keeps_its_notification_and_does_not_block_others(
    payments_service: PaymentsService,
) -> None:
    service = _approving_service(payments_service)
    blocked_id, blocked_payment = await asyncio.to_thread(_awaiting_approval, service)
    other_id, other_payment = await asyncio.to_thread(_awaiting_approval, service)
    # The refused one is approved first, so it comes first in every round.
    await asyncio.to_thread(service.reject_payment, payment_id=blocked_payment, approver="a", reason="x")
    await asyncio.to_thread(service.reject_payment, payment_id=other_payment, approver="a", reason="x")

    fake = BlockingTelegram(error=(500, "Internal Server Error"))  # a failure that may pass: retried
    fake.blocked.add(blocked_id)
    await fake.start()
    try:
        settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
        async with bot_running(settings, _services(service)):
            [told] = await fake.wait_for_messages(other_id, 1)
            await fake.wait_for(lambda: len(fake.calls_to("sendMessage", blocked_id)) >= 3)
            assert fake.sent_messages(blocked_id) == []

            fake.blocked.clear()  # unblocked: the next round delivers it, once
            [late] = await fake.wait_for_messages(blocked_id, 1)
            await asyncio.sleep(5 * ROUND_SECONDS)
    finally:
        await fake.stop()

    assert "was not approved, nothing was charged" in told["text"] and "€84.20" in told["text"]
    assert "was not approved, nothing was charged" in late["text"] and "€84.20" in late["text"]
    assert len(fake.sent_messages(other_id)) == 1 and len(fake.sent_messages(blocked_id)) == 1


def _view(kind: NotificationKind, failure_message: str | None) -> NotificationView:
    return NotificationView(
        id=1,
        user_id=1,
        payment_id=1,
        telegram_user_id=1,
        kind=kind,
        biller_name="Stadtwerke",
        amount_text="€84.20",
        failure_message=failure_message,
        locale="en_IE",
    )


def test_a_failure_is_told_with_its_reason() -> None:
    told = notification_text(_view(NotificationKind.FAILED, "Your card was declined"))
    assert told == (
        "❌ Your payment of €84.20 to Stadtwerke didn't go through. Your card was declined. "
        "Nothing was charged."
    )
    assert "declined it." in notification_text(_view(NotificationKind.FAILED, None))


def test_a_mandates_code_is_worded_for_the_autopay() -> None:
    note = dataclasses.replace(
        _view(NotificationKind.STEP_UP_CODE, None), payment_id=None, code="482913", mandate_id=7
    )
    told = notification_text(note)
    assert told.startswith("🔐 482913 is your one-time code to set up autopay for Stadtwerke up to €84.20")
    assert "payment of" not in told
    change = notification_text(dataclasses.replace(note, mandate_change=True))
    assert change.startswith("🔐 482913 is your one-time code to change your autopay for Stadtwerke to up")
    assert "set up" not in change


def test_every_kind_has_a_text() -> None:
    for kind in NotificationKind:
        assert "€84.20" in notification_text(_view(kind, None))


# --- an outcome reached in the user's own turn is told even when the turn's reply is lost ----------


class ConfirmingAssistant(ScriptedAssistant):
    """Confirms the user's draft through the real payments core, then loses (or delivers) the answer."""

    def __init__(self, service: PaymentsService, user_id: int, payment_id: int, *, lose_answer: bool) -> None:
        super().__init__()
        self.service, self.user_id, self.payment_id = service, user_id, payment_id
        self.lose_answer = lose_answer

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        self.received.append((sender_id, text))
        result = await asyncio.to_thread(
            self.service.confirm_payment, user_id=self.user_id, payment_id=self.payment_id, consent_text="yes"
        )
        if self.lose_answer:  # Rasa acted, then the connection reset before its answer arrived
            raise AssistantUnavailableError("connection reset after the request")
        # As Rasa answers a tapped Confirm: the parse names the draft the summary's button carried.
        answered = turn(Reply(text=f"Done ✅ Paid {result.amount_text} to {result.biller_name}."))
        entities = [{"entity": "draft_id", "value": str(self.payment_id)}]
        return dataclasses.replace(answered, parse={"entities": entities})


def _telegram_draft(service: PaymentsService) -> tuple[int, int, int]:
    """A Telegram user's 84.20 € draft; (telegram id, user id, payment id)."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    telegram_id = next(_telegram_ids)
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.telegram_user_id = telegram_id
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    return telegram_id, user_id, summary.payment_id


def _paying_services(service: PaymentsService, assistant: ScriptedAssistant) -> BotServices:
    return BotServices(assistant=assistant, users=service, session_factory=None, notifications=service)


async def test_a_payment_whose_reply_was_lost_is_told_instead_of_not_processed(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    telegram_id, user_id, payment_id = await asyncio.to_thread(_telegram_draft, payments_service)
    assistant = ConfirmingAssistant(payments_service, user_id, payment_id, lose_answer=True)
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, _paying_services(payments_service, assistant)):
        await fake.send_text(telegram_id, "yes, pay it")
        [message] = await fake.wait_for_messages(telegram_id, 1)
        await asyncio.sleep(10 * ROUND_SECONDS)  # the notifier finds nothing more to tell

    assert message["text"].startswith("✅ Your payment of €84.20 to ") and "went through" in message["text"]
    assert "not processed" not in message["text"]
    assert len(fake.sent_messages(telegram_id)) == 1
    later = dataclasses.replace(payments_service.config)
    after_hold = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=later,
        clock=lambda: utcnow() + later.outcome_hold + timedelta(seconds=1),
    )
    assert payment_id not in {n.payment_id for n in after_hold.pending_notifications(limit=500)}


async def test_a_delivered_reply_acknowledges_its_outcome_so_it_is_told_once(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    telegram_id, user_id, payment_id = await asyncio.to_thread(_telegram_draft, payments_service)
    # Held outcomes fall due at once: only the acknowledgement keeps this one from a second message.
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(payments_service.config, outcome_hold=timedelta(seconds=2)),
    )
    assistant = ConfirmingAssistant(service, user_id, payment_id, lose_answer=False)
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, _paying_services(service, assistant)):
        await fake.send_text(telegram_id, "yes, pay it")
        [message] = await fake.wait_for_messages(telegram_id, 1)
        await asyncio.sleep(3.0)  # past the hold: an unacknowledged outcome would be sent now

    assert message["text"].startswith("Done ✅ Paid €84.20")
    assert len(fake.sent_messages(telegram_id)) == 1


class SlowConfirmingAssistant(ConfirmingAssistant):
    """The front end gives up on the turn (its timeout); the confirm still finishes a moment later."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        self.received.append((sender_id, text))

        async def confirm_late() -> None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(
                self.service.confirm_payment,
                user_id=self.user_id,
                payment_id=self.payment_id,
                consent_text="yes",
            )

        self.late = asyncio.get_running_loop().create_task(confirm_late())
        raise AssistantUnavailableError("Rasa did not answer within the bot's timeout")


async def test_a_turn_longer_than_the_bots_timeout_still_reaches_the_user(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    telegram_id, user_id, payment_id = await asyncio.to_thread(_telegram_draft, payments_service)
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(payments_service.config, outcome_hold=timedelta(seconds=1)),
    )
    assistant = SlowConfirmingAssistant(service, user_id, payment_id, lose_answer=True)
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, _paying_services(service, assistant)):
        await fake.send_text(telegram_id, "yes, pay it")
        first, second = await fake.wait_for_messages(telegram_id, 2)
        await asyncio.sleep(10 * ROUND_SECONDS)

    assert "not processed" in first["text"]  # nothing was settled yet when the bot gave up
    assert "went through" in second["text"]  # the outbox tells the outcome once its hold ends
    assert len(fake.sent_messages(telegram_id)) == 2


def test_a_bill_reminder_tells_the_due_day_in_the_users_locale() -> None:
    from datetime import date

    note = dataclasses.replace(
        _view(NotificationKind.BILL_REMINDER, None), payment_id=None, bill_id=7, due_date=date(2026, 12, 3)
    )
    assert "3 December 2026" in notification_text(note) and "Stadtwerke" in notification_text(note)


async def test_a_send_refused_while_the_user_unblocks_does_not_record_them_blocked(
    payments_service: PaymentsService,
) -> None:
    """attack20: the notifier's "blocked" finding has no order of its own; an unblock the bot took
    while the refused send was on its way is newer and must stay recorded."""
    service = _approving_service(payments_service)
    telegram_id, payment_id = await asyncio.to_thread(_awaiting_approval, service)
    await asyncio.to_thread(service.reject_payment, payment_id=payment_id, approver="a", reason="x")

    fake = BlockingTelegram()
    fake.blocked.add(telegram_id)
    fake.delays["sendMessage"] = 1.0  # the notification's send is answered 403 after a second
    await fake.start()
    services = BotServices(
        assistant=ScriptedAssistant(), users=service, session_factory=None, notifications=service
    )
    try:
        settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS="60")  # one round in this test
        async with bot_running(settings, services):
            await fake.wait_for(lambda: fake.most_in_flight.get("sendMessage", 0) >= 1)
            await fake.member_status(telegram_id, "kicked", "member")  # unblocked meanwhile
            await fake.wait_for(lambda: services.reachability.last(telegram_id) is not None)
            await fake.wait_for(lambda: fake.calls_to("sendMessage", telegram_id))  # the 403 is out
            await asyncio.sleep(0.5)
            await fake.wait_for(lambda: not services.reachability.busy())
    finally:
        await fake.stop()

    with service.session_factory() as session:
        user = session.query(User).filter_by(telegram_user_id=telegram_id).one()
        assert user.telegram_unreachable_since is None
