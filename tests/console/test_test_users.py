"""Test users from the console: testers create them (demo bills, sandbox card) and reset them — the
payments core on both databases with the Stripe sandbox, and the reset restarts their conversations
in the assistant (a fake paychat channel records the `/restart`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from payments.demo import DEMO_BILLERS
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import PASSWORD, FakeChannel, login
from tests.helpers.factories import make_user

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
def channel() -> FakeChannel:
    """The fake paychat channel the console's assistant client talks to."""
    return FakeChannel(secret=secrets.token_urlsafe(16))


@pytest.fixture
def client(payments_service: PaymentsService, tmp_path: Path, channel: FakeChannel) -> Iterator[TestClient]:
    """The console on the payments service's database and sandbox, with the fake channel."""
    settings = Settings(
        PAYCHAT_ENV="test", PAYCHAT_VAR_DIR=tmp_path, CONSOLE_SECRET_KEY=secrets.token_urlsafe(32)
    )
    rasa = RasaClient("http://rasa.test", channel.secret, 5, transport=httpx.MockTransport(channel.handler))
    services = ConsoleServices(
        session_factory=payments_service.session_factory, assistant=rasa, payments=payments_service
    )
    with TestClient(create_app(settings, services), follow_redirects=False) as test_client:
        yield test_client


def test_a_tester_creates_a_test_user_pays_and_resets_it_to_a_clean_state(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService, channel: FakeChannel
) -> None:
    headers = {"X-CSRF-Token": login(client, staff[Role.TESTER])}
    created = client.post(
        "/api/test-users", json={"name": "Scripted Sam", "card": "succeeds"}, headers=headers
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert created.json()["is_test"] is True and created.json()["telegram_user_id"] is None
    assert user_id in [u["id"] for u in client.get("/api/test-users").json()]
    assert len(payments_service.open_bills(user_id=user_id)) == len(DEMO_BILLERS)

    # Two conversations of this user, then a payment (as the chat would make it).
    for session in ("run-1", "2f1c2a9e-7a51-4f7e-9d55-0f8f3d0c6b11"):
        chat = client.post(
            "/api/chat", json={"session": session, "text": "hi", "user_id": user_id}, headers=headers
        )
        assert chat.status_code == 200, chat.text
    bill = payments_service.open_bills(user_id=user_id)[0]
    draft = payments_service.draft_payment(user_id=user_id, bill_id=bill.id, amount_text=None, date_text=None)
    assert (
        payments_service.confirm_payment(
            user_id=user_id, payment_id=draft.payment_id, consent_text="/affirm"
        ).status
        == PaymentStatus.SUCCEEDED
    )
    assert len(payments_service.open_bills(user_id=user_id)) == len(DEMO_BILLERS) - 1

    channel.received.clear()
    reset = client.post(f"/api/test-users/{user_id}/reset", headers=headers)
    assert reset.status_code == 200, reset.text
    body = reset.json()
    assert body["removed"]["payments"] == 1 and body["card"] == "succeeds"
    assert body["conversations_restarted"] == 2 and body["conversations_unreachable"] == 0
    assert len(body["session"]) == 36
    assert sorted((r["sender"], r["message"]) for r in channel.received) == sorted(
        (f"console-{user_id}-{s}", "/restart") for s in ("run-1", "2f1c2a9e-7a51-4f7e-9d55-0f8f3d0c6b11")
    )
    assert payments_service.payment_history(user_id=user_id) == []
    assert len(payments_service.open_bills(user_id=user_id)) == len(DEMO_BILLERS)


def test_the_test_users_page_creates_and_resets(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService
) -> None:
    csrf = login(client, staff[Role.TESTER])
    name = f"Page Tester {secrets.token_hex(3)}"
    created = client.post("/test-users", data={"csrf_token": csrf, "name": name, "card": "3ds"})
    assert created.status_code == 303
    page = client.get("/test-users")
    assert page.status_code == 200 and name in page.text and "Created test user" in page.text
    user_id = next(u["id"] for u in client.get("/api/test-users").json() if u["name"] == name)
    reset = client.post(f"/test-users/{user_id}/reset", data={"csrf_token": csrf})
    assert reset.status_code == 303
    assert f"Reset {name} (#{user_id})" in client.get("/test-users").text
    assert client.post("/test-users", data={"csrf_token": csrf, "name": "  "}).status_code == 422


def test_viewers_cannot_and_real_customers_are_never_reset(
    client: TestClient, staff: dict[Role, str], payments_service: PaymentsService
) -> None:
    with payments_service.session_factory.begin() as session:
        customer_id = make_user(session, name="Real Person", is_test=False).id
    viewer = {"X-CSRF-Token": login(client, staff[Role.VIEWER])}
    assert client.post("/api/test-users", json={"name": "x"}, headers=viewer).status_code == 403
    assert client.post(f"/api/test-users/{customer_id}/reset", headers=viewer).status_code == 403
    client.cookies.clear()
    tester = {"X-CSRF-Token": login(client, staff[Role.TESTER])}
    assert client.post(f"/api/test-users/{customer_id}/reset", headers=tester).status_code == 404
    assert (
        client.post("/api/test-users", json={"name": "x", "card": "amex"}, headers=tester).status_code == 422
    )
