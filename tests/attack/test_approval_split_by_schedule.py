"""Item 6: the second-approval threshold is dodged by splitting one day's payment across two
consent periods.

The threshold sums what the user committed to a biller by *consent time* within the rolling period
(`Ledger.paid_to_biller_since` counted `coalesce(confirmed_at, created_at) >= now - 30 days`), not what
is *paid* within it. Payments can be scheduled up to a year ahead, so: confirm 900.00 to the
landlord today for a day 40 days out; 31 days later confirm another 900.00 for the same day. The
first consent has left the window, so neither waits for staff, and on that day the landlord is
paid 1 800.00 at once — the very split the threshold is there to catch.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from db.models import utcnow
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.helpers.factories import edge_summary, make_paying_user

pytestmark = pytest.mark.sandbox


def test_two_halves_paid_on_the_same_day_need_the_second_approval_whenever_they_were_confirmed(
    payments_service: PaymentsService,
) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, bills=(("rent", 180_000),)
    )
    pay_day = (utcnow() + timedelta(days=40)).date().isoformat()

    first = payments_service.draft_payment(
        user_id=user_id,
        bill_id=bills["rent"],
        amount_text="900",
        date_text=pay_day,
        render_summary=edge_summary,
    )
    assert first.is_scheduled and first.pay_on.isoformat() == pay_day
    confirmed = payments_service.confirm_payment(
        user_id=user_id, payment_id=first.payment_id, consent_text="y"
    )
    assert confirmed.status == PaymentStatus.APPROVED  # scheduled for its day, below the threshold

    period = payments_service.config.second_approval_period
    later = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=payments_service.config,
        clock=lambda: utcnow() + period + timedelta(days=1),
    )
    second = later.draft_payment(
        user_id=user_id,
        bill_id=bills["rent"],
        amount_text="900",
        date_text=pay_day,
        render_summary=edge_summary,
    )
    assert second.pay_on == first.pay_on  # both paid to the same biller on the same day

    result = later.confirm_payment(user_id=user_id, payment_id=second.payment_id, consent_text="y")

    assert result.status == PaymentStatus.AWAITING_APPROVAL, result.status
