"""Bill reminders on Telegram (issue 13, item 4): the real bot (PTB) against the fake Telegram Bot API,
the real payments service on the test database. The worker's reminder reaches the chat with a
"Pay now" button; a tap sends that bill's pay_bill payload to the assistant (a stand-in here; the
real conversation is in tests/e2e/test_reminders_e2e.py); a forged one goes nowhere; /reminders
on|off sends the switch's intents. A bill a standing mandate could not pay (item 8) carries the same
button, tapped the same way (the action's answers to a stale or foreign bill: tests/actions).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot import texts
from bot.notify import pay_now_payload
from bot.services import BotServices
from db.models import Bill, Biller, Notification, User
from payments.service import PaymentsService
from payments.statuses import NotificationKind
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, bot_running, bot_settings
from tests.helpers.factories import make_paying_user, unique
from tests.helpers.fake_telegram import FakeTelegram

_telegram_ids = itertools.count(750_000_001)
ROUND_SECONDS = 0.1
# 10:00 in Berlin, years away from the real day (only this file's bills are due around it).
NOW = datetime(2032, 5, 10, 8, 0, tzinfo=UTC)


def _reminded_user(base: PaymentsService) -> tuple[int, int, int]:
    """A Telegram user with two bills due in two days, reminded by a worker round at NOW;
    (telegram id, reminded bill id, the other bill id)."""
    user_id, bills = make_paying_user(
        base.session_factory, base.gateway, bills=(("electricity", 8420), ("water", 3150))
    )
    telegram_id = next(_telegram_ids)
    with base.session_factory.begin() as session:
        session.get_one(User, user_id).telegram_user_id = telegram_id
        session.get_one(Bill, bills["electricity"]).due_date = date(2032, 5, 12)
        session.get_one(Bill, bills["water"]).due_date = date(2032, 6, 30)  # not due soon
    at_now = PaymentsService(
        session_factory=base.session_factory, gateway=base.gateway, config=base.config, clock=lambda: NOW
    )
    assert at_now.remind_due_bills().queued >= 1
    return telegram_id, bills["electricity"], bills["water"]


def _keyboard_data(message: dict[str, Any]) -> list[tuple[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def test_a_reminder_carries_pay_now_and_a_tap_starts_paying_that_bill(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    telegram_id, bill_id, other_bill = await asyncio.to_thread(_reminded_user, payments_service)
    assistant = ScriptedAssistant()
    services = BotServices(
        assistant=assistant, users=RecordingDirectory(), session_factory=None, notifications=payments_service
    )
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, services):
        [sent] = await fake.wait_for_messages(telegram_id, 1)
        reminder = dict(sent)  # as sent: the tap below removes its keyboard from the stored message
        await asyncio.sleep(5 * ROUND_SECONDS)  # later rounds send nothing more
        assert len(fake.sent_messages(telegram_id)) == 1

        # A forged tap: another bill's payload under the reminder is not a button it offered.
        await fake.tap(telegram_id, reminder, pay_now_payload(other_bill))
        await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
        await fake.tap(telegram_id, reminder, pay_now_payload(bill_id))
        await fake.wait_for(lambda: assistant.received)
        tapped = await fake.wait_for(lambda: "reply_markup" not in fake.sent_messages(telegram_id)[0])

    assert reminder["text"].startswith("🔔 Your ") and "€84.20" in reminder["text"]
    assert "12 May 2032" in reminder["text"]  # the due day in the user's locale
    assert _keyboard_data(reminder) == [(texts.PAY_NOW, f'/pay_bill{{"reminded_bill_id":{bill_id}}}')]
    assert fake.calls_to("answerCallbackQuery")[0].params["text"] == texts.BUTTON_NOT_OFFERED
    # Only the offered tap reached the assistant: that bill's pay_bill payload, as this user.
    assert assistant.received == [(f"tg-{telegram_id}", pay_now_payload(bill_id))]
    assert assistant.metadata[0]["tap"]["callback_id"]
    assert tapped  # the reminder's keyboard went with the tap (one tap per keyboard)
    with payments_service.session_factory() as session:  # delivered and marked sent
        [sent_at] = session.scalars(select(Notification.sent_at).where(Notification.bill_id == bill_id))
    assert sent_at is not None


def _asked_user(base: PaymentsService) -> tuple[int, int, int]:
    """A Telegram user whose phone autopay (cap €40) met a bill of €40.01: the worker asked them;
    (telegram id, that bill's id, another open bill's id)."""
    user_id, bills = make_paying_user(
        base.session_factory, base.gateway, bills=(("phone", 1000), ("water", 3150))
    )
    telegram_id = next(_telegram_ids)
    with base.session_factory.begin() as session:
        session.get_one(User, user_id).telegram_user_id = telegram_id
        old = session.get_one(Bill, bills["phone"])
        old.status = "void"  # only bills arriving after the mandate are its business
        biller = session.get_one(Biller, old.biller_id).name
    offer = base.mandates.propose(user_id=user_id, biller_text=biller, cap_text="40")
    base.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    bill = base.autopay.issue_bill(
        user_id=user_id, biller_name=biller, reference=unique("B"), amount_minor=4001,
        due_date=date.today() + timedelta(days=10),
    )  # fmt: skip
    assert base.run_mandates().asked == (bill.id,)
    return telegram_id, bill.id, bills["water"]


async def test_a_bill_autopay_could_not_pay_carries_pay_now_like_a_reminder(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    telegram_id, bill_id, other_bill = await asyncio.to_thread(_asked_user, payments_service)
    assistant = ScriptedAssistant()
    services = BotServices(
        assistant=assistant, users=RecordingDirectory(), session_factory=None, notifications=payments_service
    )
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, services):
        [sent] = await fake.wait_for_messages(telegram_id, 1)
        asked = dict(sent)  # as sent: the tap below removes its keyboard from the stored message
        await fake.tap(telegram_id, asked, pay_now_payload(other_bill))  # forged: not under this message
        await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
        await fake.tap(telegram_id, asked, pay_now_payload(bill_id))
        await fake.wait_for(lambda: assistant.received)
        tapped = await fake.wait_for(lambda: "reply_markup" not in fake.sent_messages(telegram_id)[0])

    assert asked["text"].startswith("📄 A new ") and "€40.01" in asked["text"]
    assert _keyboard_data(asked) == [(texts.PAY_NOW, f'/pay_bill{{"reminded_bill_id":{bill_id}}}')]
    assert fake.calls_to("answerCallbackQuery")[0].params["text"] == texts.BUTTON_NOT_OFFERED
    assert assistant.received == [(f"tg-{telegram_id}", pay_now_payload(bill_id))]
    assert assistant.metadata[0]["tap"]["callback_id"] and tapped
    with payments_service.session_factory() as session:
        [kind] = session.scalars(select(Notification.kind).where(Notification.bill_id == bill_id))
    assert kind == NotificationKind.BILL_NEEDS_YOU.value


async def test_the_reminders_command_sends_the_switch_or_explains_it(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    user = next(_telegram_ids)
    await fake.send_text(user, "/reminders")
    [usage] = await fake.wait_for_messages(user, 1)
    await fake.send_text(user, "/reminders off")
    await fake.send_text(user, "/reminders ON")
    await fake.wait_for(lambda: len(assistant.received) == 2)

    assert usage["text"] == texts.REMINDERS_USAGE
    assert [text for _, text in assistant.received] == ["/reminders_off", "/reminders_on"]
