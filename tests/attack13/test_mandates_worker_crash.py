"""Attack (issue 13 item 8): the autopay worker dies between committing the approved payment and
charging it. Holds: later worker rounds charge it once (no second payment, one PaymentIntent),
and the bill ends paid. Real core, SQLite and PostgreSQL, the Stripe sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

import pytest
from sqlalchemy import select

from db.models import Bill, Payment
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.worker import run_round
from tests.attack13.test_mandates_revoked_still_charges import (
    T0,
    Clock,
    _bill,
    _mandate,
    _service,
    _user_with_biller,
)

pytestmark = pytest.mark.sandbox


def test_holds_a_crash_before_the_charge_is_charged_once_by_later_rounds(
    payments_service: PaymentsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(T0)
    service = _service(payments_service, clock)
    user_id, biller = _user_with_biller(service)
    _mandate(service, user_id, biller, cap="40")
    clock.now = T0 + timedelta(minutes=1)
    bill_id = _bill(service, user_id, biller, 3500)

    def crash(*_: object, **__: object) -> NoReturn:
        raise SystemExit("worker killed between commit and charge")

    with monkeypatch.context() as patch:
        patch.setattr(service.autopay._charging, "charge", crash)
        with pytest.raises(SystemExit):
            service.run_mandates()
    for minutes in (2, 15, 60, 24 * 60):  # a second worker (or the restarted one) keeps going
        clock.now = T0 + timedelta(minutes=minutes)
        run_round(service)

    with service.session_factory() as session:
        payments = list(session.execute(select(Payment).where(Payment.bill_id == bill_id)).scalars())
        bill = session.get(Bill, bill_id)
        assert bill is not None
        assert [p.status for p in payments] == [PaymentStatus.SUCCEEDED.value]
        assert payments[0].payment_intent_id and bill.status == "paid"
