"""End to end (issue 13, item 4): a worker round reminds a Telegram user of a bill due soon, "Pay now"
starts paying that bill, Confirm pays it; "stop reminding me" switches reminders off, and the next
window reminds nothing. Real python-telegram-bot (long polling the fake Telegram API), the real Rasa
server with the trained model, the action server, the Stripe sandbox and the stack's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot import texts
from db.engine import make_engine
from db.models import Bill, Biller, Notification, Payment, User
from payments import worker
from payments.service import PaymentsService, build_service
from payments.statuses import NotificationKind
from tests.bot.test_e2e_telegram import TURN_WAIT, bot_on, bot_settings, button, with_keyboard
from tests.helpers.fake_telegram import FakeTelegram, fake_telegram_server
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BERLIN = ZoneInfo("Europe/Berlin")  # the demo users' zone


@pytest.fixture
def engine(assistant_stack: AssistantStack) -> Iterator[Engine]:
    """An engine on the stack's database."""
    engine = make_engine(assistant_stack.database_url)
    yield engine
    engine.dispose()


def _bills_due(engine: Engine, telegram_user_id: int, *, electricity: date, others: date) -> tuple[int, int]:
    """Date the user's demo bills: the electricity one on `electricity`, the rest on `others`;
    (user id, electricity bill id)."""
    with Session(engine) as session, session.begin():
        user_id = session.scalars(select(User.id).where(User.telegram_user_id == telegram_user_id)).one()
        bills = session.execute(
            select(Bill, Biller.category)
            .join(Biller, Bill.biller_id == Biller.id)
            .where(Bill.user_id == user_id)
        ).all()
        electricity_id = 0
        for bill, category in bills:
            bill.due_date = electricity if category == "electricity" else others
            electricity_id = bill.id if category == "electricity" else electricity_id
    assert electricity_id
    return user_id, electricity_id


def _worker_round(stack: AssistantStack, at: datetime) -> None:
    """One worker round, as `python -m payments.worker` runs it, at the moment `at`."""
    built = build_service(stack.settings)
    worker.run_round(
        PaymentsService(session_factory=built.session_factory, gateway=built.gateway, config=built.config,
                        clock=lambda: at)
    )  # fmt: skip


def _reminders_of(engine: Engine, user_id: int) -> list[int | None]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Notification.bill_id).where(
                    Notification.user_id == user_id, Notification.kind == NotificationKind.BILL_REMINDER.value
                )
            )
        )


async def test_remind_pay_now_confirm_then_stop_reminding(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    user = 555401
    today = datetime.now(BERLIN).date()
    morning = datetime.combine(today, time(10, 0), tzinfo=BERLIN)  # within the user's hours
    async with fake_telegram_server() as fake:
        # The notifier delivers the outbox every 0.2 s (5 s by default).
        fast_notifier = {"telegram_notify_interval_seconds": 0.2}
        settings = bot_settings(assistant_stack, fake).model_copy(update=fast_notifier)
        async with bot_on(settings):
            await fake.send_text(user, "/start")  # demo mode: the user gets demo bills
            await fake.wait_for_messages(user, 1, TURN_WAIT)
            user_id, bill_id = _bills_due(
                engine, user, electricity=today + timedelta(days=2), others=today + timedelta(days=40)
            )

            _worker_round(assistant_stack, morning)
            reminder = dict(await fake.wait_for(with_keyboard(fake, user, texts.PAY_NOW), TURN_WAIT))
            await fake.tap(user, reminder, button(reminder, texts.PAY_NOW))
            summary = dict(await fake.wait_for(with_keyboard(fake, user, "Confirm"), TURN_WAIT))
            await fake.tap(user, summary, button(summary, "Confirm"))
            await fake.wait_for(lambda: _paid(engine, bill_id), TURN_WAIT)

            await fake.send_text(user, "stop reminding me")
            off = await fake.wait_for(lambda: _said(fake, user, "won't remind you"), TURN_WAIT)
            # The next window: another bill due in two days, a day later, in the morning.
            _bills_due(engine, user, electricity=today + timedelta(days=30), others=today + timedelta(days=2))
            _worker_round(assistant_stack, morning + timedelta(days=1))

    assert "Stadtwerke" in reminder["text"] and "€84.20" in reminder["text"]
    assert "Stadtwerke" in summary["text"] and "84.20" in summary["text"]
    assert off
    with Session(engine) as session:
        assert session.get_one(User, user_id).reminders_enabled is False
        [payment] = session.scalars(select(Payment).where(Payment.user_id == user_id)).all()
    assert (payment.bill_id, payment.status) == (bill_id, "succeeded")
    assert _reminders_of(engine, user_id) == [bill_id]  # one reminder: none in the next window


def _paid(engine: Engine, bill_id: int) -> bool:
    with Session(engine) as session:
        return bool(
            session.scalars(
                select(Payment.id).where(Payment.bill_id == bill_id, Payment.status == "succeeded")
            ).first()
        )


def _said(fake: FakeTelegram, chat_id: int, words: str) -> bool:
    return any(words in message["text"] for message in fake.sent_messages(chat_id))
