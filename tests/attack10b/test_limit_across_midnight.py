"""A draft made before midnight and confirmed after it counts against the day it was drafted on.

`Charging.approve` re-checks the limits under the user's row lock, but by the draft's `pay_on`,
fixed when the summary was drafted ("today"), and never asks whether that day is still today.
A draft made at 23:50 and confirmed at 00:05 (well inside the 30-minute draft expiry) is charged
on the new day but counted on the old one, so the new day's limit can be spent twice: fill it with
a fresh payment after midnight, then confirm the draft from before. The same holds for the
monthly limit across the last night of a month.

Through the real core (PaymentsService on the test database) and the Stripe sandbox, with a
clock the test moves across the user's midnight (Europe/Berlin).

Fixed in fix10b: `Charging.approve` moves a pay day that is already past to today under the row
lock and checks the limits for today (and this month) before approving.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import Payment, utcnow
from payments.errors import PaymentsError
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox

BERLIN = ZoneInfo("Europe/Berlin")
DAILY = 100_000  # €1,000.00


def test_a_draft_from_yesterday_does_not_double_todays_daily_limit(payments_service: PaymentsService) -> None:
    today = datetime.now(BERLIN).date() + timedelta(days=1)
    now = [datetime.combine(today, time(23, 50), BERLIN)]
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(
            payments_service.config,
            daily_limit_minor=DAILY,
            monthly_limit_minor=100 * DAILY,
            second_approval_minor=100 * DAILY,
        ),
        clock=lambda: now[0].astimezone(utcnow().tzinfo),
    )
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("electricity", 150_000), ("water", 150_000))
    )

    # 23:50: a summary for the whole daily limit, not confirmed yet.
    before_midnight = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="1000", date_text=None
    )
    # 00:05 the next day: the new day's limit is spent on another bill.
    now[0] = datetime.combine(today + timedelta(days=1), time(0, 5), BERLIN)
    after_midnight = service.draft_payment(
        user_id=user_id, bill_id=bills["water"], amount_text="1000", date_text=None
    )
    paid = service.confirm_payment(user_id=user_id, payment_id=after_midnight.payment_id, consent_text="yes")
    assert paid.status == PaymentStatus.SUCCEEDED

    # 00:06: the Confirm under the 23:50 summary.
    with contextlib.suppress(PaymentsError):
        service.confirm_payment(user_id=user_id, payment_id=before_midnight.payment_id, consent_text="yes")

    with service.session_factory() as session:
        charged = session.execute(
            select(Payment.amount_minor).where(
                Payment.user_id == user_id, Payment.status == PaymentStatus.SUCCEEDED.value
            )
        ).scalars()
        total = sum(charged)
    # Both were charged within minutes of each other on the same calendar day.
    assert total <= DAILY, (
        f"€{total / 100:,.2f} charged on one day against a daily limit of €{DAILY / 100:,.2f}"
    )


def test_a_draft_from_last_month_does_not_double_this_months_limit(payments_service: PaymentsService) -> None:
    """The same across the last night of a month: the draft from the 31st is counted in the new month."""
    monthly = 100_000  # €1,000.00
    in_a_while = datetime.now(BERLIN).date() + timedelta(days=40)
    last_day = in_a_while.replace(day=1) - timedelta(days=1)
    now = [datetime.combine(last_day, time(23, 50), BERLIN)]
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(
            payments_service.config,
            daily_limit_minor=10 * monthly,
            monthly_limit_minor=monthly,
            second_approval_minor=100 * monthly,
        ),
        clock=lambda: now[0].astimezone(utcnow().tzinfo),
    )
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("electricity", 150_000), ("water", 150_000))
    )

    before_midnight = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="1000", date_text=None
    )
    now[0] = datetime.combine(last_day + timedelta(days=1), time(0, 5), BERLIN)
    after_midnight = service.draft_payment(
        user_id=user_id, bill_id=bills["water"], amount_text="1000", date_text=None
    )
    paid = service.confirm_payment(user_id=user_id, payment_id=after_midnight.payment_id, consent_text="yes")
    assert paid.status == PaymentStatus.SUCCEEDED

    with pytest.raises(PaymentsError):
        service.confirm_payment(user_id=user_id, payment_id=before_midnight.payment_id, consent_text="yes")

    with service.session_factory() as session:
        total = sum(
            session.execute(
                select(Payment.amount_minor).where(
                    Payment.user_id == user_id, Payment.status == PaymentStatus.SUCCEEDED.value
                )
            ).scalars()
        )
    assert total <= monthly, (
        f"€{total / 100:,.2f} charged in one month against a limit of €{monthly / 100:,.2f}"
    )
