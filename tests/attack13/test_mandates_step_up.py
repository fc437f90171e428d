"""Attack (issue 13 item 8): step-up and autopay. Each automatic charge skips the one-time code —
reasonable, the user is not there. But the mandate itself is confirmed with no code either, even
when its cap is over the step-up threshold: someone holding the user's chat (the case step-up
exists for) sets up autopay that pays bills the user would have needed a code for, for a year.
Real core, SQLite and PostgreSQL, the Stripe sandbox.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import Payment
from payments.errors import PaymentsError
from payments.mandates import MandateStatus
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.attack13.test_mandates_revoked_still_charges import (
    T0,
    Clock,
    _bill,
    _service,
    _user_with_biller,
)

pytestmark = pytest.mark.sandbox


def test_a_mandate_over_the_step_up_threshold_needs_the_code(payments_service: PaymentsService) -> None:
    clock = Clock(T0)
    service = _service(payments_service, clock, step_up_minor=1000)  # a €10 payment needs a code
    user_id, biller = _user_with_biller(service)
    offer = service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="500")
    try:
        view = service.mandates.confirm(
            user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
        )
    except PaymentsError:
        return  # refused until a code: what step-up asks for
    clock.now = T0 + timedelta(minutes=1)
    bill_id = _bill(service, user_id, biller, 45_000)
    service.run_mandates()
    with service.session_factory() as session:
        paid = session.execute(select(Payment.status).where(Payment.bill_id == bill_id)).scalar_one_or_none()
    assert view.status != MandateStatus.ACTIVE or paid != PaymentStatus.SUCCEEDED.value, (
        "€450 paid with no code under a mandate set up with no code"
    )
