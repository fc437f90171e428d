"""Limits under concurrency and the second approval ("multi-signature"), on both databases."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy.orm import Session

from payments.errors import PaymentsError
from payments.money import Money
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox


class SlowLimitService(PaymentsService):
    """Holds each transaction open for a moment after the limit check, so racing approvals overlap."""

    def _check_amount(
        self, session: Session, user: object, *, amount: Money, outstanding: Money, pay_on: date
    ) -> None:
        super()._check_amount(session, user, amount=amount, outstanding=outstanding, pay_on=pay_on)  # type: ignore[arg-type]
        time.sleep(0.3)


def _service(
    base: PaymentsService, cls: type[PaymentsService] = PaymentsService, **config: int
) -> PaymentsService:
    return cls(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
    )


def _code(error: BaseException | None) -> str:
    assert isinstance(error, PaymentsError), error
    return error.code


def test_daily_limit_holds_for_two_bills_confirmed_at_once(payments_service: PaymentsService) -> None:
    service = _service(payments_service, SlowLimitService, daily_limit_minor=200_000)
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("electricity", 150_000), ("water", 150_000))
    )
    drafts = [
        service.draft_payment(user_id=user_id, bill_id=bills[name], amount_text=None, date_text=None)
        for name in ("electricity", "water")
    ]
    barrier = threading.Barrier(2)

    def confirm(payment_id: int) -> PaymentStatus | BaseException:
        barrier.wait()
        try:
            return service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="yes").status
        except PaymentsError as error:
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(confirm, [d.payment_id for d in drafts]))

    charged = [o for o in outcomes if o == PaymentStatus.SUCCEEDED]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(charged) == 1 and len(refused) == 1, outcomes
    assert _code(refused[0]) == "limit_daily"
    statuses = sorted(service.get_payment(user_id=user_id, payment_id=d.payment_id).status for d in drafts)
    assert statuses == ["draft", "succeeded"]
