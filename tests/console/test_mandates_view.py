"""The autopay page and /api/mandates with real parts (both databases, the Stripe sandbox): staff
see every user's mandates or one user's; only admins pause, resume and revoke, audited with who
and why."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from db.models import AuditLogEntry
from payments.service import PaymentsService
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import PASSWORD, login
from tests.payments.test_mandates import _mandate, _user_with_biller

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
    """The console on the payments service's database, using that service."""
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


def test_staff_list_mandates_and_an_admin_pauses_and_revokes_one_audited(
    client: TestClient, payments_service: PaymentsService, staff: dict[Role, str]
) -> None:
    user_id, biller = _user_with_biller(payments_service)
    mandate_id = _mandate(payments_service, user_id, biller, cap="40")

    login(client, staff[Role.VIEWER])
    page = client.get(f"/mandates?user_id={user_id}")
    assert page.status_code == 200 and f'id="mandate-{mandate_id}"' in page.text and "€40.00" in page.text
    assert 'action="/mandates/' not in page.text  # no controls for a viewer
    listed = client.get("/api/mandates", params={"user_id": user_id}).json()
    assert [(m["id"], m["status"]) for m in listed] == [(mandate_id, "active")]

    csrf = login(client, staff[Role.ADMIN])
    body = {"status": "paused", "reason": "customer called"}
    paused = client.post(f"/api/mandates/{mandate_id}/status", json=body, headers={"X-CSRF-Token": csrf})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    again = client.post(f"/api/mandates/{mandate_id}/status", json=body, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409
    form = {"status": "revoked", "reason": "fraud report", "csrf_token": csrf}
    assert client.post(f"/mandates/{mandate_id}/status", data=form).status_code == 303
    assert client.get("/api/mandates", params={"user_id": user_id}).json() == []
    ended = client.get("/api/mandates", params={"user_id": user_id, "ended": True}).json()
    assert [m["status"] for m in ended] == ["revoked"]

    with payments_service.session_factory() as session:
        rows = session.execute(
            select(AuditLogEntry).where(
                AuditLogEntry.user_id == user_id, AuditLogEntry.event.like("mandate.%")
            ).order_by(AuditLogEntry.id)  # the chain's order (PostgreSQL returns rows in any order)
        ).scalars()
        staff_rows = [
            (r.event, r.data.get("actor"), r.data.get("reason")) for r in rows if "reason" in r.data
        ]
    admin = f"staff:{staff[Role.ADMIN]}"
    assert staff_rows == [
        ("mandate.paused", admin, "customer called"),
        ("mandate.revoked", admin, "fraud report"),
    ]


def test_staff_see_an_autopay_waiting_for_the_users_code(
    client: TestClient, payments_service: PaymentsService, staff: dict[Role, str]
) -> None:
    stepping = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(payments_service.config, step_up_minor=10_000),
    )
    user_id, biller = _user_with_biller(stepping)
    offer = stepping.mandates.propose(user_id=user_id, biller_text=biller, cap_text="400")
    waiting = stepping.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    assert waiting.code_pending is not None

    login(client, staff[Role.VIEWER])
    page = client.get(f"/mandates?user_id={user_id}")
    assert page.status_code == 200 and f'id="mandate-{waiting.id}"' in page.text
    assert "proposed" in page.text and "waiting for the user's code" in page.text
