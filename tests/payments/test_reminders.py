"""Issue 13, item 4: the worker reminds users of bills due soon, once per bill and window, only in the
user's waking hours, never for a bill paid or being paid, and not at all once they switched it off.

Every test runs on SQLite and PostgreSQL (the `payments_service` fixture). Clocks are moved the
way the other worker tests move them: a PaymentsService on the same database with another `clock`,
set years ahead so that only this file's bills fall in a reminder window.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditLogEntry, Bill, BillReminder, Notification, User
from payments import worker
from payments.errors import BillSettledError
from payments.reminders import in_window, within_hours
from payments.service import PaymentsService
from payments.statuses import NotificationKind, PaymentStatus
from tests.helpers.factories import edge_summary, make_paying_user

pytestmark = pytest.mark.sandbox

# 10:00 in Berlin on a day far from the real one: other tests' bills are not due around it.
NOW = datetime(2031, 3, 10, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
_telegram_ids = itertools.count(880_000_001)


def _service(base: PaymentsService, clock: Callable[[], datetime], **config: Any) -> PaymentsService:
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
        clock=clock,
    )


def _at(base: PaymentsService, moment: datetime, **config: Any) -> PaymentsService:
    return _service(base, lambda: moment, **config)


def _telegram_user(
    base: PaymentsService, *, due: date, timezone: str = "Europe/Berlin", bills: int = 1
) -> tuple[int, list[int]]:
    """A committed Telegram user with a card and `bills` open bills due on `due`."""
    categories = tuple((f"utility{n}", 8420 + n) for n in range(bills))
    user_id, bill_ids = make_paying_user(base.session_factory, base.gateway, bills=categories)
    with base.session_factory.begin() as session:
        user = session.get_one(User, user_id)
        user.telegram_user_id = next(_telegram_ids)
        user.timezone = timezone
        for bill_id in bill_ids.values():
            session.get_one(Bill, bill_id).due_date = due
    return user_id, list(bill_ids.values())


def _reminders(base: PaymentsService, bill_id: int) -> list[Notification]:
    with base.session_factory() as session:
        return list(
            session.scalars(
                select(Notification).where(
                    Notification.bill_id == bill_id,
                    Notification.kind == NotificationKind.BILL_REMINDER.value,
                )
            )
        )


def _set_due(base: PaymentsService, bill_id: int, due: date) -> None:
    with base.session_factory.begin() as session:
        session.get_one(Bill, bill_id).due_date = due


def test_the_window_and_the_hours_as_rules() -> None:
    assert in_window(TODAY, today=TODAY, days=3) and in_window(TODAY + timedelta(days=3), today=TODAY, days=3)
    assert not in_window(TODAY + timedelta(days=4), today=TODAY, days=3)
    assert not in_window(TODAY - timedelta(days=1), today=TODAY, days=3)  # overdue: not "due within"
    berlin = "Europe/Berlin"
    assert within_hours(NOW, timezone=berlin, start_hour=8, end_hour=20)  # 10:00 there
    assert not within_hours(NOW.replace(hour=19), timezone=berlin, start_hour=8, end_hour=20)  # 20:00
    assert not within_hours(NOW.replace(hour=6, minute=59), timezone=berlin, start_hour=8, end_hour=20)
    assert within_hours(NOW.replace(hour=22), timezone=berlin, start_hour=22, end_hour=6)  # wraps


def test_a_bill_due_soon_is_reminded_once_per_window(payments_service: PaymentsService) -> None:
    _, [bill_id] = _telegram_user(payments_service, due=TODAY + timedelta(days=2))

    worker.run_round(_at(payments_service, NOW))
    worker.run_round(_at(payments_service, NOW + timedelta(hours=1)))  # the same window: nothing new
    [note] = _reminders(payments_service, bill_id)
    assert note.payment_id is None and note.sent_at is None

    # The biller moved the due date: a new window, reminded again once it is near.
    _set_due(payments_service, bill_id, TODAY + timedelta(days=12))
    worker.run_round(_at(payments_service, NOW + timedelta(hours=2)))
    assert len(_reminders(payments_service, bill_id)) == 1  # 12 days away: not yet
    worker.run_round(_at(payments_service, NOW + timedelta(days=10)))
    worker.run_round(_at(payments_service, NOW + timedelta(days=11)))
    assert len(_reminders(payments_service, bill_id)) == 2
    with payments_service.session_factory() as session:
        windows = session.scalars(select(BillReminder.due_date).where(BillReminder.bill_id == bill_id))
        assert sorted(windows) == [TODAY + timedelta(days=2), TODAY + timedelta(days=12)]


def test_a_bill_is_reminded_only_once_it_is_within_the_days(payments_service: PaymentsService) -> None:
    _, [bill_id] = _telegram_user(payments_service, due=TODAY + timedelta(days=5))

    _at(payments_service, NOW).remind_due_bills()
    assert _reminders(payments_service, bill_id) == []
    _at(payments_service, NOW, reminder_days=5).remind_due_bills()  # PAYCHAT_REMINDER_DAYS=5
    assert len(_reminders(payments_service, bill_id)) == 1


def test_the_users_local_hours_and_day_decide(payments_service: PaymentsService) -> None:
    # Tokyo is 9 hours ahead: 12:00 UTC is 21:00 there, 23:30 UTC is 08:30 the next day there.
    _, [bill_id] = _telegram_user(payments_service, due=TODAY + timedelta(days=4), timezone="Asia/Tokyo")

    evening = _at(payments_service, NOW.replace(hour=12)).remind_due_bills()
    assert _reminders(payments_service, bill_id) == []  # too late there (and day 4 from their today)
    assert evening.queued == 0
    night_utc = _at(payments_service, NOW.replace(hour=23, minute=30)).remind_due_bills()
    # Their today is already tomorrow: the bill is 3 days away there, and it is morning.
    assert night_utc.queued >= 1
    assert len(_reminders(payments_service, bill_id)) == 1


def test_a_bill_waits_for_the_morning(payments_service: PaymentsService) -> None:
    _, [bill_id] = _telegram_user(payments_service, due=TODAY + timedelta(days=1))

    late = _at(payments_service, NOW.replace(hour=21)).remind_due_bills()  # 22:00 in Berlin
    assert late.waiting >= 1 and _reminders(payments_service, bill_id) == []
    _at(payments_service, NOW.replace(hour=6, minute=30) + timedelta(days=1)).remind_due_bills()  # 07:30
    assert _reminders(payments_service, bill_id) == []
    _at(payments_service, NOW.replace(hour=7) + timedelta(days=1)).remind_due_bills()  # 08:00 there
    assert len(_reminders(payments_service, bill_id)) == 1


def test_reminders_switched_off_send_nothing_and_the_switch_is_audited(
    payments_service: PaymentsService,
) -> None:
    user_id, [bill_id] = _telegram_user(payments_service, due=TODAY + timedelta(days=1))
    assert payments_service.reminders_enabled(user_id=user_id)  # on by default

    off = payments_service.set_reminders(user_id=user_id, enabled=False)
    again = payments_service.set_reminders(user_id=user_id, enabled=False)
    worker.run_round(_at(payments_service, NOW))
    assert (off.enabled, off.changed, again.changed) == (False, True, False)
    assert _reminders(payments_service, bill_id) == []
    with payments_service.session_factory() as session:
        rows = list(
            session.scalars(
                select(AuditLogEntry).where(
                    AuditLogEntry.user_id == user_id, AuditLogEntry.event == "user.reminders_changed"
                )
            )
        )
    assert [row.data for row in rows] == [{"by": "user", "before": True, "after": False}]

    on = payments_service.set_reminders(user_id=user_id, enabled=True)
    worker.run_round(_at(payments_service, NOW + timedelta(minutes=1)))
    assert on.changed and len(_reminders(payments_service, bill_id)) == 1


def test_a_paid_or_held_bill_is_not_reminded(payments_service: PaymentsService) -> None:
    clock = _at(payments_service, NOW)
    user_id, [paid, held, partly] = _telegram_user(payments_service, due=TODAY + timedelta(days=2), bills=3)
    with payments_service.session_factory.begin() as session:
        session.get_one(Bill, paid).status = "paid"
    # A scheduled payment (approved, waiting for its day) holds the whole bill.
    summary = clock.draft_payment(
        user_id=user_id, bill_id=held, amount_text=None, date_text="tomorrow", render_summary=edge_summary
    )
    result = clock.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="ok")
    assert result.status == PaymentStatus.APPROVED and result.scheduled_payment_id
    # Part of a bill paid: the rest is still owed, so it is reminded.
    part = clock.draft_payment(
        user_id=user_id, bill_id=partly, amount_text="10", date_text=None, render_summary=edge_summary
    )
    assert (
        clock.confirm_payment(user_id=user_id, payment_id=part.payment_id, consent_text="ok").status
        == PaymentStatus.SUCCEEDED
    )

    clock.remind_due_bills()
    assert _reminders(payments_service, paid) == [] and _reminders(payments_service, held) == []
    assert len(_reminders(payments_service, partly)) == 1
    # The reminder names what is left: 84.22 less the 10.00 paid.
    [told] = clock.outbox._views(Notification.bill_id == partly, limit=5)  # as the bot reads it
    assert told.amount_text == "€74.22" and told.due_date == TODAY + timedelta(days=2)


def test_two_concurrent_rounds_queue_one_reminder_per_bill(payments_service: PaymentsService) -> None:
    _, bill_ids = _telegram_user(payments_service, due=TODAY + timedelta(days=1), bills=4)
    services = [_at(payments_service, NOW), _at(payments_service, NOW)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def round_of(service: PaymentsService) -> None:
        try:
            barrier.wait(timeout=10)
            service.remind_due_bills()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=round_of, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [len(_reminders(payments_service, bill_id)) for bill_id in bill_ids] == [1, 1, 1, 1]


def test_a_worker_that_saw_the_bill_before_the_other_committed_loses_on_the_key(
    payments_service: PaymentsService,
) -> None:
    _, [bill_id] = _telegram_user(payments_service, due=TODAY + timedelta(days=1))
    first, second = _at(payments_service, NOW), _at(payments_service, NOW)
    # The second worker's candidate list was read before the first worker's reminder committed.
    stale = [c for c in second.reminders._candidates(NOW, after_id=0, limit=10_000) if c[0] == bill_id]
    assert stale and stale[0][1] is not None

    assert first.remind_due_bills().queued >= 1
    second.reminders._candidates = (  # type: ignore[method-assign]
        lambda now, *, after_id, limit: stale if after_id < bill_id else []
    )
    raced = second.remind_due_bills()
    assert (raced.queued, raced.lost_race) == (0, 1)
    assert len(_reminders(payments_service, bill_id)) == 1


def test_pay_now_drafts_that_bill_and_refuses_a_paid_one(payments_service: PaymentsService) -> None:
    user_id, [bill_id, other] = _telegram_user(payments_service, due=TODAY + timedelta(days=1), bills=2)
    clock = _at(payments_service, NOW)

    summary = clock.pay_reminded_bill(
        user_id=user_id, bill_id=bill_id, conversation="tg-reminder-test", render_summary=edge_summary
    )
    assert summary.bill_id == bill_id and summary.amount.amount_minor == 8420 and summary.confirm_nonce
    clock.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text=summary.summary_text)

    with pytest.raises(BillSettledError) as refused:
        clock.pay_reminded_bill(user_id=user_id, bill_id=bill_id, conversation="tg-reminder-test")
    assert refused.value.params["biller"] == summary.biller_name
    # Another user's bill is no more payable than a missing one.
    stranger, _ = _telegram_user(payments_service, due=TODAY)
    with pytest.raises(Exception) as foreign:
        clock.pay_reminded_bill(user_id=stranger, bill_id=other, conversation="tg-stranger")
    assert getattr(foreign.value, "code", "") == "pay_now_bill_unknown"


def test_bills_waiting_for_their_morning_never_crowd_out_the_others(
    payments_service: PaymentsService,
) -> None:
    # Two users: one where it is night (Tokyo, 18:00 UTC is 03:00), one where it is day (Berlin, 19:00).
    # The night bills come first (lower ids): with one bill per page, the day bill is on a later page.
    tomorrow = TODAY + timedelta(days=1)
    _, night_bills = _telegram_user(payments_service, due=tomorrow, timezone="Asia/Tokyo", bills=3)
    _, [day_bill] = _telegram_user(payments_service, due=TODAY + timedelta(days=1))

    done = _at(payments_service, NOW.replace(hour=18)).reminders.remind_due_bills(page=1)  # a page per bill

    assert done.waiting >= 3 and done.queued >= 1
    assert len(_reminders(payments_service, day_bill)) == 1
    assert all(_reminders(payments_service, bill_id) == [] for bill_id in night_bills)
