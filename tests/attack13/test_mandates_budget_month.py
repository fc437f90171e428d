"""Attack (issue 13 item 8): the monthly budget at the month boundary in the user's zone, and a
bill just under the cap twice in one month. Holds if the budget month is the user's calendar month
(not UTC's). Real core, SQLite and PostgreSQL, the Stripe sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from db.models import MandateBillDecision, Payment, User
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.attack13.test_mandates_revoked_still_charges import (
    Clock,
    _bill,
    _service,
    _user_with_biller,
)

pytestmark = pytest.mark.sandbox


def _decision(service: PaymentsService, bill_id: int) -> tuple[str, str | None]:
    with service.session_factory() as session:
        row = session.execute(
            select(MandateBillDecision).where(MandateBillDecision.bill_id == bill_id)
        ).scalar_one()
        return row.decision, row.reason


def test_holds_the_budget_month_is_the_users_not_utcs(payments_service: PaymentsService) -> None:
    clock = Clock(datetime(2026, 6, 30, 17, 0, tzinfo=UTC))  # 10:00 on 30 June in Los Angeles
    service = _service(payments_service, clock)
    user_id, biller = _user_with_biller(service)
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.timezone = "America/Los_Angeles"
    offer = service.mandates.propose(
        user_id=user_id, biller_text=biller, cap_text="40", expiry_text="December"
    )
    service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )

    first = _bill(service, user_id, biller, 3900)  # just under the cap; the budget is the cap
    service.run_mandates()
    clock.now = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)  # July in UTC, still 30 June (20:00) in LA
    second = _bill(service, user_id, biller, 3900)
    service.run_mandates()
    clock.now = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 1 July 01:00 in LA: a new month's budget
    third = _bill(service, user_id, biller, 3900)
    service.run_mandates()

    assert _decision(service, first)[0] == "paid"
    assert _decision(service, second) == ("asked", "over_budget")
    assert _decision(service, third)[0] == "paid"
    with service.session_factory() as session:
        paid = session.execute(
            select(Payment.amount_minor).where(
                Payment.user_id == user_id, Payment.status == PaymentStatus.SUCCEEDED.value
            )
        ).scalars()
        assert sorted(paid) == [3900, 3900]
    view = service.mandates.list_mandates(user_id=user_id)[0]
    assert view.spent_this_month.amount_minor == 3900  # July (LA) so far
