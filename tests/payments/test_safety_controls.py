"""Issue 13, items 1 and 3: limits per payment, day and month (typed refusals, atomic under two
threads) and the time lock (held, cancellable, charged by the worker only after its window).

Every test runs on SQLite and PostgreSQL (the `payments_service` fixture). Clocks are moved the way
the other worker tests move them: a PaymentsService on the same database with another `clock`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditLogEntry, Notification, Payment, ScheduledPayment, User, utcnow
from payments import worker
from payments.dates import DayRelation, first_of_next_month, start_of_day, today_in
from payments.errors import PaymentNotHeldError, PaymentsError
from payments.limits import DailyLimitError, LimitError, MonthlyLimitError, PerPaymentLimitError
from payments.money import Money
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.helpers.factories import edge_summary, make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY

pytestmark = pytest.mark.sandbox

LOCK = timedelta(minutes=10)


def _service(
    base: PaymentsService,
    cls: type[PaymentsService] = PaymentsService,
    clock: Callable[[], datetime] = utcnow,
    **config: Any,
) -> PaymentsService:
    return cls(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
        clock=clock,
    )


def _set_user(service: PaymentsService, user_id: int, **values: Any) -> None:
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)


def _intents(service: PaymentsService, sandbox_url: str, payment_id: int) -> list[str]:
    """Every PaymentIntent in the sandbox made with this payment's idempotency key."""
    with service.session_factory() as session:
        key = session.get_one(Payment, payment_id).idempotency_key
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return [
        str(pi.id)
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("paychat_idempotency_key") == key
    ]


def _draft(service: PaymentsService, user_id: int, bill_id: int, amount: str, day: str | None = None) -> int:
    return service.draft_payment(
        user_id=user_id, bill_id=bill_id, amount_text=amount, date_text=day, render_summary=edge_summary
    ).payment_id


def _refusal(call: Callable[[], object]) -> PaymentsError:
    with pytest.raises(PaymentsError) as caught:
        call()
    return caught.value


# --- limits ----------------------------------------------------------------------------------------


def test_over_the_daily_limit_says_the_limit_what_is_left_and_tomorrow_at_midnight(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, daily_limit_minor=10_000, monthly_limit_minor=10_000_000)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("water", 50_000),))
    first = _draft(service, user_id, bills["water"], "70")
    assert service.confirm_payment(user_id=user_id, payment_id=first, consent_text="y").status == "succeeded"

    refused = _refusal(lambda: _draft(service, user_id, bills["water"], "40"))

    assert isinstance(refused, DailyLimitError) and refused.code == "limit_daily"
    assert refused.limit == Money(10_000, "EUR") and refused.remaining == Money(3_000, "EUR")
    today = today_in("Europe/Berlin", utcnow())
    assert refused.resets is not None
    assert refused.resets.at == start_of_day(today + timedelta(days=1), "Europe/Berlin")
    assert refused.resets.at.tzinfo is not None and refused.resets.at.utcoffset() == timedelta(0)
    assert (refused.resets.day, refused.resets.time_text) == (DayRelation.TOMORROW, "00:00")


def test_over_the_monthly_limit_resets_on_the_first_of_next_month_in_the_users_zone(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, daily_limit_minor=10_000_000, monthly_limit_minor=30_000)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    _set_user(service, user_id, timezone="Pacific/Auckland")
    first = _draft(service, user_id, bills["rent"], "200")
    assert service.confirm_payment(user_id=user_id, payment_id=first, consent_text="y").status == "succeeded"

    refused = _refusal(lambda: _draft(service, user_id, bills["rent"], "150"))

    assert isinstance(refused, MonthlyLimitError) and refused.code == "limit_monthly"
    assert refused.limit == Money(30_000, "EUR") and refused.remaining == Money(10_000, "EUR")
    local_today = today_in("Pacific/Auckland", utcnow())
    assert refused.resets is not None
    assert refused.resets.at == start_of_day(first_of_next_month(local_today), "Pacific/Auckland")
    assert refused.resets.time_text == "00:00"
    # What is left still goes through.
    left = _draft(service, user_id, bills["rent"], "100")
    assert service.confirm_payment(user_id=user_id, payment_id=left, consent_text="y").status == "succeeded"


def test_days_and_months_are_counted_in_the_users_zone(payments_service: PaymentsService) -> None:
    # 31 Jan 2027, 22:30 UTC: still January in Berlin (23:30), already 1 February in Tokyo (07:30).
    moment = datetime(2027, 1, 31, 22, 30, tzinfo=UTC)
    service = _service(
        payments_service, clock=lambda: moment, daily_limit_minor=10_000_000, monthly_limit_minor=30_000
    )
    users = {}
    for zone in ("Europe/Berlin", "Asia/Tokyo"):
        user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("gas", 90_000),))
        _set_user(service, user_id, timezone=zone)
        users[zone] = (user_id, bills["gas"])
        # 250.00 already paid on 31 January (a succeeded payment of that day, in the user's calendar).
        held = _draft(service, user_id, bills["gas"], "250", "2027-02-03")
        with service.session_factory.begin() as session:
            payment = session.get_one(Payment, held)
            payment.status, payment.pay_on = PaymentStatus.SUCCEEDED.value, date(2027, 1, 31)

    berlin_user, berlin_bill = users["Europe/Berlin"]
    refused = _refusal(lambda: _draft(service, berlin_user, berlin_bill, "100"))
    assert isinstance(refused, MonthlyLimitError) and refused.remaining == Money(5_000, "EUR")
    # February begins at midnight in Berlin: 23:00 UTC, half an hour from now, the user's tomorrow.
    assert refused.resets is not None and refused.resets.at == datetime(2027, 1, 31, 23, 0, tzinfo=UTC)
    assert refused.resets.day == DayRelation.TOMORROW

    tokyo_user, tokyo_bill = users["Asia/Tokyo"]
    draft = service.draft_payment(user_id=tokyo_user, bill_id=tokyo_bill, amount_text="100", date_text=None)
    assert draft.pay_on == date(2027, 2, 1)  # a new month in Tokyo: January's payment does not count


def test_a_users_own_limits_replace_the_configured_ones(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, bills=(("phone", 90_000),)
    )
    _set_user(payments_service, user_id, per_payment_limit_minor=5_000)
    refused = _refusal(lambda: _draft(payments_service, user_id, bills["phone"], "60"))
    assert isinstance(refused, PerPaymentLimitError) and refused.limit == Money(5_000, "EUR")
    assert refused.resets is None  # a single payment's limit never resets
    _set_user(payments_service, user_id, per_payment_limit_minor=None, daily_limit_minor=4_000)
    refused = _refusal(lambda: _draft(payments_service, user_id, bills["phone"], "60"))
    assert isinstance(refused, DailyLimitError) and refused.limit == Money(4_000, "EUR")
    _set_user(payments_service, user_id, daily_limit_minor=None, monthly_limit_minor=3_000)
    refused = _refusal(lambda: _draft(payments_service, user_id, bills["phone"], "60"))
    assert isinstance(refused, MonthlyLimitError) and refused.limit == Money(3_000, "EUR")
    _set_user(payments_service, user_id, monthly_limit_minor=None)
    assert _draft(payments_service, user_id, bills["phone"], "60")


class SlowLimitService(PaymentsService):
    """Holds each transaction open for a moment after the limit check, so racing approvals overlap."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check = self.ledger.check_amount

        def slow_check(session: Session, user: User, *, amount: Money, owed: Money, pay_on: date) -> None:
            check(session, user, amount=amount, owed=owed, pay_on=pay_on)
            time.sleep(0.3)

        self.ledger.check_amount = slow_check  # type: ignore[method-assign]


def test_two_confirmations_at_once_cannot_both_pass_the_monthly_limit(
    payments_service: PaymentsService,
) -> None:
    # Two bills, two different days of one month: only the month's limit stands between them.
    moment = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    service = _service(
        payments_service,
        SlowLimitService,
        clock=lambda: moment,
        daily_limit_minor=10_000_000,
        monthly_limit_minor=300_000,
        second_approval_minor=10_000_000,
    )
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("electricity", 200_000), ("water", 200_000))
    )
    drafts = [
        _draft(service, user_id, bills["electricity"], "2000", "2027-03-20"),
        _draft(service, user_id, bills["water"], "2000", "2027-03-21"),
    ]
    barrier = threading.Barrier(2)

    def confirm(payment_id: int) -> PaymentStatus | BaseException:
        barrier.wait()
        try:
            return service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="yes").status
        except PaymentsError as error:
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(confirm, drafts))

    scheduled = [o for o in outcomes if o == PaymentStatus.APPROVED]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(scheduled) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], MonthlyLimitError) and refused[0].remaining == Money(100_000, "EUR")
    # Tidy: the scheduled one is cancelled so no later worker round of the session charges it.
    for payment_id in drafts:
        service.cancel_payment(user_id=user_id, payment_id=payment_id)


def test_a_limit_resets_at_the_first_instant_of_the_users_day_dst_included() -> None:
    assert start_of_day(date(2026, 12, 1), "Europe/Berlin") == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 7, 1), "Europe/Berlin") == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    # Havana skipped midnight on 10 March 2024 (00:00 → 01:00 CDT): that day began at 05:00 UTC.
    assert start_of_day(date(2024, 3, 10), "America/Havana") == datetime(2024, 3, 10, 5, 0, tzinfo=UTC)
    assert first_of_next_month(date(2026, 12, 31)) == date(2027, 1, 1)


def test_every_limit_refusal_is_a_limit_error() -> None:
    assert issubclass(PerPaymentLimitError, LimitError) and issubclass(DailyLimitError, LimitError)
    assert issubclass(MonthlyLimitError, LimitError)


# --- time lock --------------------------------------------------------------------------------------


def _at(base: PaymentsService, shift: timedelta, **config: Any) -> PaymentsService:
    """The service with the time lock on and the clock moved by `shift`."""
    return _service(base, clock=lambda: utcnow() + shift, time_lock=LOCK, **config)


def test_a_first_payment_to_a_biller_is_held_until_its_window_then_charged_by_the_worker(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _at(payments_service, timedelta(0))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("phone", 9_000),))
    payment_id = _draft(service, user_id, bills["phone"], "30")
    before = utcnow()

    result = service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")

    assert result.status == PaymentStatus.APPROVED and result.time_locked and result.scheduled_payment_id
    assert result.runs_at is not None and before + LOCK <= result.runs_at.at <= utcnow() + LOCK
    assert result.runs_at.day in (DayRelation.TODAY, DayRelation.TOMORROW)  # 10 minutes on
    assert _intents(service, stripe_sandbox, payment_id) == []

    # A round inside the window (and past the approved-charge deadline): nothing is charged.
    worker.run_round(_at(payments_service, timedelta(minutes=9)))
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.APPROVED
    assert _intents(service, stripe_sandbox, payment_id) == []
    # Nor by a direct charge: the charging code refuses to start before the lock ends.
    service.charging.charge(payment_id)
    assert _intents(service, stripe_sandbox, payment_id) == []

    worker.run_round(_at(payments_service, LOCK + timedelta(seconds=30)))
    after = service.get_payment(user_id=user_id, payment_id=payment_id)
    assert after.status == PaymentStatus.SUCCEEDED and not after.time_locked
    assert len(_intents(service, stripe_sandbox, payment_id)) == 1

    # The biller is now paid: the next payment to it runs at once.
    again = _draft(service, user_id, bills["phone"], "20")
    assert service.confirm_payment(user_id=user_id, payment_id=again, consent_text="y").status == "succeeded"


def test_a_time_lock_of_zero_charges_at_once(payments_service: PaymentsService) -> None:
    service = _service(payments_service, time_lock=timedelta(0))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("gas", 9_000),))
    payment_id = _draft(service, user_id, bills["gas"], "30")
    assert service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y").status == (
        "succeeded"
    )


def test_a_scheduled_payment_waits_for_its_window_even_when_its_day_comes_first(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    # Confirmed at 23:55 in Berlin for tomorrow: its day begins in 5 minutes, its window ends in 10.
    confirmed = datetime(2027, 1, 14, 22, 55, tzinfo=UTC)
    service = _service(payments_service, clock=lambda: confirmed, time_lock=LOCK)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("water", 9_000),))
    payment_id = _draft(service, user_id, bills["water"], "25", "tomorrow")

    result = service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    assert result.status == PaymentStatus.APPROVED and result.scheduled_payment_id and result.time_locked
    assert result.runs_at is not None and result.runs_at.at == confirmed + LOCK
    assert (result.runs_at.day, result.runs_at.time_text) == (DayRelation.TOMORROW, "00:05")

    def at(moment: datetime) -> PaymentsService:
        return _service(payments_service, clock=lambda: moment, time_lock=LOCK)

    worker.run_round(at(confirmed + timedelta(minutes=6)))  # its day (00:01 in Berlin), not its time
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.APPROVED
    assert _intents(service, stripe_sandbox, payment_id) == []

    worker.run_round(at(confirmed + LOCK + timedelta(minutes=1)))
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.SUCCEEDED
    assert len(_intents(service, stripe_sandbox, payment_id)) == 1


def test_the_user_cancels_a_held_payment_and_nothing_is_ever_charged(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _at(payments_service, timedelta(0))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("tv", 9_000),))
    payment_id = _draft(service, user_id, bills["tv"], "30")
    service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")

    outcome = service.cancel_pending_payment(user_id=user_id, biller_text=None)
    assert [c.payment_id for c in outcome.candidates] == [payment_id]  # listed like a scheduled one
    cancelled = service.cancel_pending_payment(user_id=user_id, payment_id=payment_id).cancelled
    assert cancelled is not None and cancelled.status == PaymentStatus.CANCELLED

    worker.run_round(_at(payments_service, LOCK + timedelta(minutes=1)))
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.CANCELLED
    assert _intents(service, stripe_sandbox, payment_id) == []


def test_staff_cancel_a_held_payment_audited_and_the_user_is_told(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _at(payments_service, timedelta(0))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("tax", 9_000),))
    payment_id = _draft(service, user_id, bills["tax"], "30")
    service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    assert service.staff_payment_detail(payment_id=payment_id).waiting

    view = service.cancel_held_payment(payment_id=payment_id, staff="staff:alice", reason="customer called")

    assert view.status == PaymentStatus.CANCELLED
    with service.session_factory() as session:
        audit = session.execute(
            select(AuditLogEntry).where(
                AuditLogEntry.payment_id == payment_id, AuditLogEntry.event == "payment.cancelled_by_staff"
            )
        ).scalar_one()
        assert (audit.from_status, audit.to_status) == ("approved", "cancelled")
        assert audit.data["staff"] == "staff:alice" and audit.data["note"] == "customer called"
        schedule = session.execute(
            select(ScheduledPayment).where(ScheduledPayment.payment_id == payment_id)
        ).scalar_one()
        assert schedule.status == "cancelled"
        told = session.execute(select(Notification.kind).where(Notification.payment_id == payment_id)).all()
        assert told == [("payment_cancelled_by_staff",)]
    worker.run_round(_at(payments_service, LOCK + timedelta(minutes=1)))
    assert _intents(service, stripe_sandbox, payment_id) == []
    # Twice, or a payment that is not waiting: refused, nothing changes.
    with pytest.raises(PaymentNotHeldError):
        service.cancel_held_payment(payment_id=payment_id, staff="staff:alice")


def test_staff_cannot_cancel_a_charged_payment(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, bills=(("phone", 9_000),)
    )
    payment_id = _draft(payments_service, user_id, bills["phone"], "30")
    payments_service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    with pytest.raises(PaymentNotHeldError):
        payments_service.cancel_held_payment(payment_id=payment_id, staff="staff:alice")
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == "succeeded"


def test_a_second_approval_inside_the_window_still_holds_the_payment(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _at(payments_service, timedelta(0))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 300_000),))
    payment_id = _draft(service, user_id, bills["rent"], "1500")
    assert service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y").status == (
        "awaiting_approval"
    )
    approved = service.approve_payment(payment_id=payment_id, approver="staff:bob")
    assert approved.status == PaymentStatus.APPROVED and approved.time_locked
    assert _intents(service, stripe_sandbox, payment_id) == []
    worker.run_round(_at(payments_service, LOCK + timedelta(minutes=1)))
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.SUCCEEDED
