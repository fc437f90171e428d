"""attack15: refunds through the staff console with inputs an admin's browser or script can send.

The form's `currency` field comes from the client and is used to read the amount without being
checked against the payment's currency: "10" read as yen refunds ten cents of a euro payment, "1"
read as dinars (three decimals) refunds ten euros. The JSON API reads `"amount_minor": true` as one
minor unit (pydantic's lax mode) and refunds it.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from console.roles import Role
from payments.service import PaymentsService
from tests.console.conftest import login
from tests.console.test_payments_view import (  # noqa: F401  (pytest fixtures, used by name)
    client,
    paid,
    sandbox_refunds,
    staff,
)

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize(("currency", "amount"), [("JPY", "10"), ("BHD", "1")])
def test_refund_form_refuses_a_currency_other_than_the_payments(
    client: TestClient,  # noqa: F811
    staff: dict[Role, str],  # noqa: F811
    payments_service: PaymentsService,
    stripe_sandbox: str,
    currency: str,
    amount: str,
) -> None:
    _, payment_id, intent_id = paid(payments_service, "40")  # a EUR payment
    csrf = login(client, staff[Role.ADMIN])
    response = client.post(
        f"/payments/{payment_id}/refund",
        data={
            "csrf_token": csrf,
            "idempotency_key": str(uuid.uuid4()),
            "currency": currency,
            "amount": amount,
        },
    )
    # Either refused, or the amount read in euros (never 10 cents or 10 euros for "10 yen"/"1 dinar").
    refunded = sandbox_refunds(stripe_sandbox, intent_id)
    assert response.status_code == 422 or refunded == [int(amount) * 100], (response.status_code, refunded)
    assert refunded in ([], [int(amount) * 100])


def test_refund_api_refuses_a_boolean_amount(
    client: TestClient,  # noqa: F811
    staff: dict[Role, str],  # noqa: F811
    payments_service: PaymentsService,
    stripe_sandbox: str,
) -> None:
    _, payment_id, intent_id = paid(payments_service, "40")
    csrf = login(client, staff[Role.ADMIN])
    response = client.post(
        f"/api/payments/{payment_id}/refunds",
        json={"amount_minor": True, "idempotency_key": str(uuid.uuid4())},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422, response.text
    assert sandbox_refunds(stripe_sandbox, intent_id) == []
