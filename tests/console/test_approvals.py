"""The approvals page and /api/approvals with real parts: payments on both databases, the Stripe
sandbox, a large payment confirmed by its user and waiting for an admin's second approval."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stripe
from fastapi.testclient import TestClient
from markupsafe import escape

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from db.models import Payment
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.stripe_gateway import IDEMPOTENCY_METADATA_KEY
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import PASSWORD, csrf_of, login
from tests.helpers.factories import edge_summary, make_paying_user
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
    app = create_app(settings, services)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def waiting_payment(service: PaymentsService, amount_text: str = "1500") -> tuple[int, int]:
    """A user's consented payment above the second-approval threshold; (user id, payment id)."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 300_000),))
    draft = service.draft_payment(
        user_id=user_id,
        bill_id=bills["rent"],
        amount_text=amount_text,
        date_text=None,
        render_summary=edge_summary,
    )
    result = service.confirm_payment(
        user_id=user_id, payment_id=draft.payment_id, consent_text=draft.summary_text
    )
    assert result.status == PaymentStatus.AWAITING_APPROVAL
    return user_id, draft.payment_id


def intents_for(service: PaymentsService, sandbox_url: str, payment_id: int) -> list[str]:
    """Every PaymentIntent the sandbox holds for this payment: the charges actually attempted."""
    # Matched by the payment's idempotency key: both test databases share one sandbox, and their
    # payment ids overlap.
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        key = payment.idempotency_key
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return [
        str(pi.id)
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get(IDEMPOTENCY_METADATA_KEY) == key
    ]


def status_of(service: PaymentsService, user_id: int, payment_id: int) -> PaymentStatus:
    """The payment's status now."""
    return service.get_payment(user_id=user_id, payment_id=payment_id).status


def test_the_page_shows_the_consent_and_approving_charges_once(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = waiting_payment(payments_service)
    consent = next(a for a in payments_service.payments_awaiting_approval() if a.payment_id == payment_id)
    csrf = login(client, staff[Role.ADMIN])
    page = client.get("/approvals")
    assert page.status_code == 200
    assert f'id="approval-{payment_id}"' in page.text
    assert str(escape(consent.consent_text)) in page.text
    assert f'action="/approvals/{payment_id}/approve"' in page.text
    assert f'action="/approvals/{payment_id}/reject"' in page.text

    approved = client.post(f"/approvals/{payment_id}/approve", data={"csrf_token": csrf})
    assert approved.status_code == 303 and approved.headers["location"] == "/approvals"
    after = client.get("/approvals")
    assert f"Payment #{payment_id} approved: succeeded." in after.text
    assert f'id="approval-{payment_id}"' not in after.text
    assert status_of(payments_service, user_id, payment_id) == PaymentStatus.SUCCEEDED

    # A double click: the same outcome, no second charge.
    again = client.post(f"/approvals/{payment_id}/approve", data={"csrf_token": csrf})
    assert again.status_code == 303
    assert f"Payment #{payment_id} approved: succeeded." in client.get("/approvals").text
    assert len(intents_for(payments_service, stripe_sandbox, payment_id)) == 1


def test_api_lists_approves_and_a_second_approval_returns_the_same_charge(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = waiting_payment(payments_service)
    headers = {"X-CSRF-Token": login(client, staff[Role.ADMIN])}
    listed = {a["payment_id"]: a for a in client.get("/api/approvals").json()}
    assert listed[payment_id]["amount"] == {"amount_minor": 150_000, "currency": "EUR"}
    assert listed[payment_id]["consent_text"].startswith("Pay ")
    first = client.post(f"/api/approvals/{payment_id}/approve", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "succeeded"
    assert first.json()["payment_intent_id"].startswith("pi_")
    second = client.post(f"/api/approvals/{payment_id}/approve", headers=headers)
    assert second.status_code == 200
    assert second.json()["payment_intent_id"] == first.json()["payment_intent_id"]
    assert intents_for(payments_service, stripe_sandbox, payment_id) == [first.json()["payment_intent_id"]]
    assert payment_id not in {a["payment_id"] for a in client.get("/api/approvals").json()}
    # Decided: it can no longer be rejected.
    late = client.post(f"/api/approvals/{payment_id}/reject", json={"reason": "too late"}, headers=headers)
    assert late.status_code == 409
    assert status_of(payments_service, user_id, payment_id) == PaymentStatus.SUCCEEDED


def test_reject_cancels_without_a_charge_and_approving_afterwards_is_409(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = waiting_payment(payments_service)
    headers = {"X-CSRF-Token": login(client, staff[Role.ADMIN])}
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x\x00y"}, {"reason": "x" * 501}):
        refused = client.post(f"/api/approvals/{payment_id}/reject", json=body, headers=headers)
        assert refused.status_code == 422, body
        assert "reason" in refused.json()["detail"]
    rejected = client.post(
        f"/api/approvals/{payment_id}/reject", json={"reason": "user says it is a mistake"}, headers=headers
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "cancelled"
    approve = client.post(f"/api/approvals/{payment_id}/approve", headers=headers)
    assert approve.status_code == 409
    assert "cancelled" in approve.json()["detail"]
    assert (
        client.post(
            f"/api/approvals/{payment_id}/reject", json={"reason": "again"}, headers=headers
        ).status_code
        == 409
    )
    assert status_of(payments_service, user_id, payment_id) == PaymentStatus.CANCELLED
    assert intents_for(payments_service, stripe_sandbox, payment_id) == []


def test_reject_form_needs_a_reason(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = waiting_payment(payments_service)
    csrf = login(client, staff[Role.ADMIN])
    blank = client.post(f"/approvals/{payment_id}/reject", data={"csrf_token": csrf, "reason": "  "})
    assert blank.status_code == 422
    assert "reason" in blank.text
    assert status_of(payments_service, user_id, payment_id) == PaymentStatus.AWAITING_APPROVAL
    done = client.post(
        f"/approvals/{payment_id}/reject", data={"csrf_token": csrf, "reason": "unusual amount"}
    )
    assert done.status_code == 303
    assert f"Payment #{payment_id} rejected: cancelled." in client.get("/approvals").text
    assert status_of(payments_service, user_id, payment_id) == PaymentStatus.CANCELLED
    assert intents_for(payments_service, stripe_sandbox, payment_id) == []
    page = client.post(f"/approvals/{payment_id}/approve", data={"csrf_token": csrf})
    assert page.status_code == 409
    assert "no longer waiting" in page.text


def test_without_a_csrf_token_or_as_a_lesser_role_nothing_happens(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = waiting_payment(payments_service)
    login(client, staff[Role.ADMIN])
    for token in (None, "wrong"):
        form = {"csrf_token": token} if token else {}
        headers = {"X-CSRF-Token": token} if token else {}
        assert client.post(f"/approvals/{payment_id}/approve", data=form).status_code == 403
        assert client.post(f"/api/approvals/{payment_id}/approve", headers=headers).status_code == 403
        assert (
            client.post(
                f"/api/approvals/{payment_id}/reject", json={"reason": "r"}, headers=headers
            ).status_code
            == 403
        )
    for role in (Role.TESTER, Role.VIEWER):
        csrf = login(client, staff[role])
        assert client.get("/approvals").status_code == 403
        assert client.get("/api/approvals").status_code == 403
        assert client.post(f"/approvals/{payment_id}/approve", data={"csrf_token": csrf}).status_code == 403
        assert (
            client.post(f"/api/approvals/{payment_id}/approve", headers={"X-CSRF-Token": csrf}).status_code
            == 403
        )
    assert status_of(payments_service, user_id, payment_id) == PaymentStatus.AWAITING_APPROVAL
    assert intents_for(payments_service, stripe_sandbox, payment_id) == []


def test_unknown_and_out_of_range_payments(client: TestClient, staff: dict[Role, str]) -> None:
    headers = {"X-CSRF-Token": login(client, staff[Role.ADMIN])}
    assert client.post("/api/approvals/2147483647/approve", headers=headers).status_code == 404
    assert client.post("/api/approvals/99999999999999999999/approve", headers=headers).status_code == 422
    csrf = csrf_of(client, "/approvals")
    assert client.post("/approvals/2147483647/approve", data={"csrf_token": csrf}).status_code == 404
