"""The staff payments view and refunds with real parts: the payments service on both databases, the
Stripe sandbox (real stripe SDK), the console app; admins refund, everyone else gets 403."""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import stripe
from fastapi.testclient import TestClient

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import PASSWORD, login
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY

pytestmark = pytest.mark.sandbox


@pytest.fixture
def staff(payments_service: PaymentsService) -> dict[Role, str]:
    """A fresh account per role on the shared payments database; role → username."""
    names = {role: f"{role.value}-{secrets.token_hex(4)}" for role in Role}
    with payments_service.session_factory.begin() as session:
        for role, name in names.items():
            create_staff_user(session, username=name, password=PASSWORD, role=role)
    return names


@pytest.fixture
def client(payments_service: PaymentsService, tmp_path: Path) -> Iterator[TestClient]:
    """The console on the payments service's database, using that service (and its sandbox)."""
    settings = Settings(
        PAYCHAT_ENV="test", PAYCHAT_VAR_DIR=tmp_path, CONSOLE_SECRET_KEY=secrets.token_urlsafe(32)
    )
    rasa = RasaClient(
        "http://rasa.test", "s", 5, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    services = ConsoleServices(
        session_factory=payments_service.session_factory, assistant=rasa, payments=payments_service
    )
    with TestClient(create_app(settings, services), follow_redirects=False) as test_client:
        yield test_client


def paid(service: PaymentsService, amount_text: str = "40") -> tuple[int, int, str]:
    """A user's succeeded payment: (user id, payment id, PaymentIntent id)."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=amount_text, date_text=None
    )
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="/affirm")
    assert result.status == PaymentStatus.SUCCEEDED and result.payment_intent_id
    return user_id, summary.payment_id, result.payment_intent_id


def sandbox_refunds(sandbox_url: str, intent_id: str) -> list[int]:
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return sorted(r.amount for r in client.v1.refunds.list({"payment_intent": intent_id, "limit": 100}).data)


def test_viewer_filters_payments_and_opens_one_with_consent_audit_and_stripe_object(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService
) -> None:
    user_id, payment_id, intent_id = paid(payments_service, "12")
    login(client, staff[Role.VIEWER])

    listed = client.get("/api/payments", params={"user_id": user_id, "status": "succeeded"})
    assert listed.status_code == 200, listed.text
    assert [p["payment_id"] for p in listed.json()] == [payment_id]
    assert client.get("/api/payments", params={"user_id": user_id, "status": "failed"}).json() == []
    biller_id = listed.json()[0]["biller_id"]
    assert [p["payment_id"] for p in client.get("/api/payments", params={"biller_id": biller_id}).json()] == [
        payment_id
    ]
    assert client.get("/api/payments", params={"user_id": user_id, "from": "2999-01-01"}).json() == []
    assert client.get("/api/payments", params={"status": "nonsense"}).status_code == 422

    page = client.get("/payments", params={"user_id": user_id})
    assert page.status_code == 200 and f'href="/payments/{payment_id}"' in page.text

    detail = client.get(f"/api/payments/{payment_id}").json()
    assert detail["consent"]["confirmation"] == "/affirm" and detail["consent"]["signature_valid"] is True
    assert detail["processor_object"]["id"] == intent_id
    assert [a["to_status"] for a in detail["audit"] if a["to_status"]][-1] == "succeeded"
    html = client.get(f"/payments/{payment_id}")
    assert html.status_code == 200
    assert intent_id in html.text and 'id="stripe-object"' in html.text and 'id="consent"' in html.text
    assert 'id="refund-form"' not in html.text  # viewers see no refund form
    assert client.get("/api/payments/999999").status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TESTER])
def test_only_admins_refund(
    client: TestClient,
    staff: dict[Role, str],
    payments_service: PaymentsService,
    stripe_sandbox: str,
    role: Role,
) -> None:
    _, payment_id, intent_id = paid(payments_service, "10")
    csrf = login(client, staff[role])
    response = client.post(
        f"/api/payments/{payment_id}/refunds",
        json={"amount_minor": 100, "idempotency_key": str(uuid.uuid4())},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 403
    form = client.post(
        f"/payments/{payment_id}/refund",
        data={"csrf_token": csrf, "idempotency_key": str(uuid.uuid4()), "currency": "EUR", "amount": "1"},
    )
    assert form.status_code == 403
    assert sandbox_refunds(stripe_sandbox, intent_id) == []


def test_admin_refunds_partially_then_the_rest_once_per_key_never_more(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    _, payment_id, intent_id = paid(payments_service, "40")
    csrf = login(client, staff[Role.ADMIN])
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/payments/{payment_id}/refunds"

    key = str(uuid.uuid4())
    first = client.post(url, json={"amount_minor": 1500}, headers={**headers, "Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "succeeded" and first.json()["stripe_refund_id"].startswith("re_")
    again = client.post(url, json={"amount_minor": 1500}, headers={**headers, "Idempotency-Key": key})
    assert again.json()["refund_id"] == first.json()["refund_id"]

    too_much = client.post(
        url, json={"amount_minor": 2501, "idempotency_key": str(uuid.uuid4())}, headers=headers
    )
    assert too_much.status_code == 422 and "€25.00" in too_much.json()["detail"]
    assert client.post(url, json={"amount_minor": 5}, headers=headers).status_code == 422  # no key
    assert (
        client.post(
            url, json={"amount_minor": 0, "idempotency_key": str(uuid.uuid4())}, headers=headers
        ).status_code
        == 422
    )

    # The page's form: the rest (empty amount), with the key the page rendered.
    page = client.get(f"/payments/{payment_id}")
    assert 'id="refund-form"' in page.text
    marker = 'name="idempotency_key" value="'
    form_key = page.text[page.text.index(marker) + len(marker) :].split('"', 1)[0]
    data = {"csrf_token": csrf, "idempotency_key": form_key, "currency": "EUR", "amount": ""}
    submitted = client.post(f"/payments/{payment_id}/refund", data=data)
    assert submitted.status_code == 303
    resubmitted = client.post(f"/payments/{payment_id}/refund", data=data)  # a double submit
    assert resubmitted.status_code == 303
    after = client.get(f"/payments/{payment_id}")
    assert "€25.00: succeeded" in after.text and 'id="refund-form"' not in after.text

    assert sandbox_refunds(stripe_sandbox, intent_id) == [1500, 2500]
    detail = client.get(f"/api/payments/{payment_id}").json()
    assert detail["refundable"]["amount_minor"] == 0
    events = [a["event"] for a in detail["audit"] if a["event"].startswith("refund.")]
    assert events == ["refund.requested", "refund.succeeded"] * 2


def test_a_payment_that_did_not_succeed_is_not_refunded(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService
) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    draft = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="5", date_text=None
    )
    csrf = login(client, staff[Role.ADMIN])
    response = client.post(
        f"/api/payments/{draft.payment_id}/refunds",
        json={"idempotency_key": str(uuid.uuid4())},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 409


def held(service: PaymentsService) -> tuple[int, int]:
    """A user's first payment to a biller, held by a 10-minute time lock: (user id, payment id)."""
    locked = PaymentsService(
        session_factory=service.session_factory,
        gateway=service.gateway,
        config=dataclasses.replace(service.config, time_lock=timedelta(minutes=10)),
    )
    user_id, bills = make_paying_user(locked.session_factory, locked.gateway)
    draft = locked.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="7", date_text=None
    )
    result = locked.confirm_payment(user_id=user_id, payment_id=draft.payment_id, consent_text="/affirm")
    assert result.status == PaymentStatus.APPROVED and result.time_locked
    return user_id, draft.payment_id


def test_a_tester_sees_a_held_payment_but_cannot_cancel_it(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService
) -> None:
    user_id, payment_id = held(payments_service)
    csrf = login(client, staff[Role.TESTER])
    page = client.get(f"/payments/{payment_id}")
    assert 'id="held"' in page.text and 'id="cancel-form"' not in page.text  # only admins cancel
    refused = client.post(f"/payments/{payment_id}/cancel", data={"csrf_token": csrf, "reason": "x"})
    assert refused.status_code == 403
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == "approved"
    payments_service.cancel_held_payment(payment_id=payment_id, staff="test:tidy")  # none left held


def test_admin_cancels_a_held_payment_from_its_page_audited(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService
) -> None:
    user_id, payment_id = held(payments_service)
    csrf = login(client, staff[Role.ADMIN])
    assert 'id="cancel-form"' in client.get(f"/payments/{payment_id}").text
    done = client.post(
        f"/payments/{payment_id}/cancel", data={"csrf_token": csrf, "reason": "customer called"}
    )
    assert done.status_code == 303
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == "cancelled"
    detail = client.get(f"/api/payments/{payment_id}").json()
    [audit] = [a for a in detail["audit"] if a["event"] == "payment.cancelled_by_staff"]
    assert (
        audit["data"]["staff"] == f"staff:{staff[Role.ADMIN]}" and audit["data"]["note"] == "customer called"
    )
    again = client.post(
        f"/api/payments/{payment_id}/cancel", json={"reason": "again"}, headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 409
