"""attack15b: a viewer reads a customer's signed 3-D Secure link on the payment page and passes it.

The payment's `next_action_url` (the bank page's link, signed with the challenge key) is written
into the audit row of the `requires_action` transition (`Machine.move` copies every string value it
sets into the audit data), and the staff payment detail shows the audit trail to every viewer, on
the page and in `GET /api/payments/{id}`. The link is all the bank page asks for: a read-only viewer
opens it and presses "Authenticate" for the customer, who never saw the challenge — the payment is
charged without the cardholder's authentication.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from console.roles import Role
from console.staff import create_staff_user
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.console.conftest import PASSWORD, login
from tests.console.test_stripe_routes import form_of, make_app, service, status_of  # noqa: F401
from tests.payments.test_three_d_secure import PUBLIC_URL, pending_three_d_secure

pytestmark = pytest.mark.sandbox
LINK = re.compile(re.escape(PUBLIC_URL) + r"/sandbox/3ds/pi_[A-Za-z0-9_]+\?sig=[0-9a-f]+")


@pytest.fixture
def client(service: PaymentsService, tmp_path: Path) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(make_app(service, tmp_path), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def viewer(service: PaymentsService) -> str:  # noqa: F811
    name = f"viewer-{secrets.token_hex(4)}"
    with service.session_factory.begin() as session:
        create_staff_user(session, username=name, password=PASSWORD, role=Role.VIEWER)
    return name


def test_a_viewer_never_sees_the_customers_signed_challenge_link(
    client: TestClient,
    service: PaymentsService,  # noqa: F811
    viewer: str,
) -> None:
    user_id, result = pending_three_d_secure(service)
    login(client, viewer)
    detail = client.get(f"/api/payments/{result.payment_id}")
    page = client.get(f"/payments/{result.payment_id}")
    assert detail.status_code == 200 and page.status_code == 200
    leaked = LINK.findall(json.dumps(detail.json())) + LINK.findall(page.text.replace("&amp;", "&"))
    if leaked:  # show what the leak allows: the viewer answers the bank page for the customer
        bank = client.get(leaked[0].removeprefix(PUBLIC_URL))
        action, fields = form_of(bank.text)
        client.post(action, data={**fields, "outcome": "authenticate"})
    assert leaked == [], (
        f"viewer saw {leaked[0]} and passed the challenge: payment is now "
        f"{status_of(service, user_id, result.payment_id).value}"
    )
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.REQUIRES_ACTION
    # What the audit keeps instead: that a challenge was sent, and to which host.
    sent = [a["data"] for a in detail.json()["audit"] if a["data"].get("challenge_sent")]
    assert sent and sent[-1]["challenge_host"] == "console.test" and "next_action_url" not in sent[-1]
