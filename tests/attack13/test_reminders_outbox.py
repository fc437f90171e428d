"""Attack on issue 13 item 4 (bill reminders) and item 3 (time lock), through the real payments core.

What the worker queued is checked again as the bot reads it (`pending_notifications`): a reminder is
a promise made at queue time, delivered later (the notifier's next round, or days later when a user
who blocked the bot comes back). Every test runs on a fresh SQLite copy and a fresh PostgreSQL
database (the console fixtures), so nothing reaches the shared session database.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.models import Bill, User
from payments import worker
from payments.demo import load_demo_data
from payments.errors import BillSettledError
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import NotificationKind, PaymentStatus
from tests.console.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    console_database_url,
    postgres_database,
    session_factory,
    sqlite_template,
)
from tests.helpers.factories import edge_summary, make_paying_user
from tests.helpers.sandbox import sandbox_gateway

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.parametrize("console_database_url", ["sqlite", "postgres"], indirect=True),
]

NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
TODAY = NOW.date()
_telegram_ids = itertools.count(913_000_001)


@pytest.fixture
def base(session_factory: sessionmaker[Session], stripe_sandbox: str) -> PaymentsService:  # noqa: F811
    """A PaymentsService on this test's own database and the sandbox."""
    gateway = sandbox_gateway(stripe_sandbox)
    load_demo_data(session_factory, gateway)
    return PaymentsService(session_factory=session_factory, gateway=gateway, config=ServiceConfig())


def _at(base: PaymentsService, moment: datetime | Callable[[], datetime], **config: Any) -> PaymentsService:
    clock = moment if callable(moment) else (lambda: moment)
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
        clock=clock,
    )


def _telegram_user(base: PaymentsService, *, due: date, bills: int = 1) -> tuple[int, int, list[int]]:
    """A Telegram user (Berlin) with a card and `bills` bills due on `due`: (user, telegram id, bills)."""
    categories = tuple((f"utility{n}", 8420 + n) for n in range(bills))
    user_id, bill_ids = make_paying_user(base.session_factory, base.gateway, bills=categories)
    telegram_id = next(_telegram_ids)
    with base.session_factory.begin() as session:
        user = session.get_one(User, user_id)
        user.telegram_user_id = telegram_id
        user.timezone = "Europe/Berlin"
        for bill_id in bill_ids.values():
            session.get_one(Bill, bill_id).due_date = due
    return user_id, telegram_id, list(bill_ids.values())


def _pending_reminders(service: PaymentsService, bill_id: int) -> list[Any]:
    """The reminders of `bill_id` the bot's notifier would send now."""
    return [
        note
        for note in service.pending_notifications(limit=500)
        if note.kind == NotificationKind.BILL_REMINDER and note.bill_id == bill_id
    ]


def test_reminders_switched_off_before_delivery_are_not_sent(base: PaymentsService) -> None:
    user_id, _, [bill_id] = _telegram_user(base, due=TODAY + timedelta(days=2))
    clock = _at(base, NOW)
    assert clock.remind_due_bills().queued == 1
    assert len(_pending_reminders(clock, bill_id)) == 1  # queued, the notifier has not run yet

    assert clock.set_reminders(user_id=user_id, enabled=False).changed  # "stop reminding me"
    # The bot's next notifier round must not send the reminder the user just switched off.
    assert _pending_reminders(_at(base, NOW + timedelta(seconds=5)), bill_id) == []


def test_a_bill_paid_before_delivery_is_not_reminded(base: PaymentsService) -> None:
    user_id, _, [bill_id] = _telegram_user(base, due=TODAY + timedelta(days=2))
    clock = _at(base, NOW)
    assert clock.remind_due_bills().queued == 1
    # The user pays the bill in chat before the notifier's round.
    summary = clock.draft_payment(
        user_id=user_id, bill_id=bill_id, amount_text=None, date_text=None, render_summary=edge_summary
    )
    paid = clock.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="ok")
    assert paid.status == PaymentStatus.SUCCEEDED
    with pytest.raises(BillSettledError):  # the core itself knows the bill is settled
        clock.pay_reminded_bill(user_id=user_id, bill_id=bill_id, conversation="atk13-paid")

    stale = _pending_reminders(_at(base, NOW + timedelta(seconds=5)), bill_id)
    # Today: "🔔 Your … bill of €84.20 is due on …" with a Pay now button, for a paid bill.
    assert stale == [], [(n.amount_text, n.due_date) for n in stale]


def test_a_reminder_is_not_delivered_after_the_bill_is_overdue(base: PaymentsService) -> None:
    _, telegram_id, [bill_id] = _telegram_user(base, due=TODAY + timedelta(days=1))
    clock = _at(base, NOW)
    clock.set_telegram_reachable(telegram_user_id=telegram_id, reachable=False)  # blocked the bot
    clock.remind_due_bills()  # the worker queues it anyway (it does not look at reachability)

    later = _at(base, NOW + timedelta(days=6))  # back a week later: the bill is five days overdue
    later.set_telegram_reachable(telegram_user_id=telegram_id, reachable=True)
    stale = _pending_reminders(later, bill_id)
    assert all(note.due_date >= (NOW + timedelta(days=6)).date() for note in stale), [
        (n.due_date, n.amount_text) for n in stale
    ]


def test_holds_pay_now_refuses_a_time_locked_held_payment(base: PaymentsService) -> None:
    """Holds: a bill whose payment is confirmed but held in the cancel window is not drafted again,
    and the held bill is not reminded."""
    user_id, _, [bill_id] = _telegram_user(base, due=TODAY + timedelta(days=2))
    locked = _at(base, NOW, time_lock=timedelta(minutes=10))
    summary = locked.draft_payment(
        user_id=user_id, bill_id=bill_id, amount_text=None, date_text=None, render_summary=edge_summary
    )
    held = locked.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="ok")
    assert held.status == PaymentStatus.APPROVED and held.time_locked
    with pytest.raises(BillSettledError):
        locked.pay_reminded_bill(user_id=user_id, bill_id=bill_id, conversation="atk13-held")
    assert locked.remind_due_bills().queued == 0


def test_holds_a_held_payment_cancelled_is_never_charged_at_the_window_edge(base: PaymentsService) -> None:
    """Holds: the user cancels a time-locked payment one second before its window ends; worker rounds
    at the edge and after charge nothing, and another user cannot cancel it."""
    user_id, _, [bill_id] = _telegram_user(base, due=TODAY + timedelta(days=2))
    stranger, _, _ = _telegram_user(base, due=TODAY + timedelta(days=2))
    lock = timedelta(minutes=10)
    locked = _at(base, NOW, time_lock=lock)
    summary = locked.draft_payment(
        user_id=user_id, bill_id=bill_id, amount_text=None, date_text=None, render_summary=edge_summary
    )
    held = locked.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="ok")
    assert held.time_locked

    with pytest.raises(Exception) as foreign:
        locked.cancel_payment(user_id=stranger, payment_id=summary.payment_id)
    assert getattr(foreign.value, "code", None), foreign.value

    _at(base, NOW + lock - timedelta(seconds=1), time_lock=lock).cancel_payment(
        user_id=user_id, payment_id=summary.payment_id
    )
    for moment in (NOW + lock, NOW + lock + timedelta(days=1)):
        worker.run_round(_at(base, moment, time_lock=lock))
    view = locked.get_payment(user_id=user_id, payment_id=summary.payment_id)
    assert view.status == PaymentStatus.CANCELLED


@pytest.mark.parametrize(("zone", "utc_hour"), [("Pacific/Kiritimati", 20), ("Pacific/Pago_Pago", 5)])
def test_holds_zones_far_from_utc_are_reminded_on_their_own_today(
    base: PaymentsService, zone: str, utc_hour: int
) -> None:
    """Holds: UTC+14 and UTC-11 with PAYCHAT_REMINDER_DAYS=0: a bill due on the user's own today is
    reminded in their morning, one due on UTC's today (their tomorrow / yesterday) is not."""
    moment = NOW.replace(hour=utc_hour)
    local_today = moment.astimezone(ZoneInfo(zone)).date()
    assert local_today != moment.date()
    user_id, _, [own, utc] = _telegram_user(base, due=local_today, bills=2)
    with base.session_factory.begin() as session:
        session.get_one(User, user_id).timezone = zone
        session.get_one(Bill, utc).due_date = moment.date()
    _at(base, moment, reminder_days=0).remind_due_bills()
    reminded = {note.bill_id for note in base.pending_notifications(limit=500) if note.user_id == user_id}
    assert reminded == {own}


def test_holds_a_forgotten_user_gets_no_queued_or_later_reminder(base: PaymentsService) -> None:
    """Holds: /forget after a reminder was queued drops it, and later rounds remind nothing."""
    user_id, _, [bill_id] = _telegram_user(base, due=TODAY + timedelta(days=2))
    clock = _at(base, NOW)
    assert clock.remind_due_bills().queued == 1
    clock.forget_user(user_id=user_id)
    assert _pending_reminders(clock, bill_id) == []
    _at(base, NOW + timedelta(days=1)).remind_due_bills()
    assert _pending_reminders(clock, bill_id) == []
