"""Issue 10 item 9: every amount from chat is checked against the bill's currency and the gateway's
smallest charge before a summary exists (real database, real sandbox)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.models import Payment
from payments.errors import PaymentsError
from payments.money import Money
from payments.service import PaymentsService
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox


def _draft(
    service: PaymentsService, amount_text: str | None, *, bill_minor: int = 8420, currency: str = "EUR"
) -> object:
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("electricity", bill_minor),), currency=currency
    )
    return service.prepare_payment(
        user_id=user_id,
        biller_text=None,
        bill_id=bills["electricity"],
        amount_text=amount_text,
        date_text=None,
        conversation=f"console-{user_id}-amounts",
    )


def _drafts(service: PaymentsService) -> int:
    with service.session_factory() as session:
        return int(session.execute(select(func.count()).select_from(Payment)).scalar_one())


@pytest.mark.parametrize(
    ("amount_text", "code"),
    [
        ("0.30", "amount_below_minimum"),  # Stripe's smallest EUR charge is €0.50
        ("49 cents", "amount_below_minimum"),
        ("-20", "amount_not_positive"),
        ("3000 yen", "amount_currency_mismatch"),
        ("$20", "amount_currency_mismatch"),
        ("20 USD", "amount_currency_mismatch"),
        ("2.499", "amount_too_precise"),
    ],
)
def test_amounts_the_gateway_would_not_charge_never_reach_a_summary(
    payments_service: PaymentsService, amount_text: str, code: str
) -> None:
    before = _drafts(payments_service)
    with pytest.raises(PaymentsError) as caught:
        _draft(payments_service, amount_text)
    assert caught.value.code == code
    assert _drafts(payments_service) == before  # nothing drafted, nothing to confirm


def test_the_minimum_is_told_in_the_bills_currency(payments_service: PaymentsService) -> None:
    with pytest.raises(PaymentsError) as caught:
        _draft(payments_service, "0.30")
    assert caught.value.params["minimum"] == Money(50, "EUR")


def test_a_bill_whose_rest_is_below_the_minimum_cannot_be_paid_by_card(
    payments_service: PaymentsService,
) -> None:
    with pytest.raises(PaymentsError) as caught:
        _draft(payments_service, None, bill_minor=30)
    assert caught.value.code == "amount_below_minimum"


def test_the_minimum_is_per_currency(payments_service: PaymentsService) -> None:
    summary = _draft(payments_service, "0.30", currency="GBP")  # £0.30 is Stripe's GBP minimum
    assert summary.amount == Money(30, "GBP")  # type: ignore[attr-defined]
    assert _draft(payments_service, "0.50").amount == Money(50, "EUR")  # type: ignore[attr-defined]
