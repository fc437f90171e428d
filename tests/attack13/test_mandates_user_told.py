"""Attack (issue 13 item 8): what the user is told, and their own limits, for autopay.

A payment the time lock holds has a cancel window "from the user's consent" — for an automatic
charge the user gets no word while the window is open (only "paid automatically" after), so the
window they could cancel in is silent. Limits: the user's own per-payment limit still holds.
Real core, SQLite and PostgreSQL, the Stripe sandbox.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import MandateBillDecision, Notification, Payment, User
from payments.service import PaymentsService
from tests.attack13.test_mandates_revoked_still_charges import (
    T0,
    Clock,
    _bill,
    _held_autopay,
    _mandate,
    _service,
    _user_with_biller,
)

pytestmark = pytest.mark.sandbox


def test_the_user_hears_of_a_held_autopay_payment_while_they_can_still_cancel(
    payments_service: PaymentsService,
) -> None:
    service, _, user_id, _, bill_id = _held_autopay(payments_service)
    with service.session_factory() as session:
        payment = session.execute(select(Payment).where(Payment.bill_id == bill_id)).scalar_one()
        notes = list(session.execute(select(Notification).where(Notification.user_id == user_id)).scalars())
    told = [n for n in notes if n.payment_id == payment.id or n.bill_id == bill_id]
    assert told, "nothing queued for the user about the held automatic payment"


def test_holds_the_users_own_per_payment_limit_stops_autopay(payments_service: PaymentsService) -> None:
    clock = Clock(T0)
    service = _service(payments_service, clock)
    user_id, biller = _user_with_biller(service)
    _mandate(service, user_id, biller, cap="40")
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.per_payment_limit_minor = 2000  # lowered after the mandate
    clock.now = T0 + timedelta(minutes=1)
    bill_id = _bill(service, user_id, biller, 3500)
    service.run_mandates()
    with service.session_factory() as session:
        decision = session.execute(
            select(MandateBillDecision).where(MandateBillDecision.bill_id == bill_id)
        ).scalar_one()
        assert decision.decision == "asked" and decision.reason
        assert not list(session.execute(select(Payment).where(Payment.bill_id == bill_id)).scalars())
