"""Issue 13 items 2 and 5 in the console: a payment's risk decisions on its page, the flagged list at
/risk, and the test chat's separate bubble for a one-time code (console test users have no Telegram)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.chat import chat_turn
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from db.models import User
from payments.config import RiskConfig
from payments.errors import RiskRefusedError
from payments.service import PaymentsService
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import PASSWORD, channel_body, login
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox

RISKY = RiskConfig(enabled=True, new_card_age=timedelta(0), refuse_score=40, step_up_score=30)


def _with(base: PaymentsService, **config: Any) -> PaymentsService:
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
    )


@pytest.fixture
def viewer(payments_service: PaymentsService) -> str:
    name = f"viewer-{secrets.token_hex(4)}"
    with payments_service.session_factory.begin() as session:
        create_staff_user(session, username=name, password=PASSWORD, role=Role.VIEWER)
    return name


def _services(service: PaymentsService, rasa: RasaClient) -> ConsoleServices:
    return ConsoleServices(session_factory=service.session_factory, assistant=rasa, payments=service)


@pytest.fixture
def client(payments_service: PaymentsService, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        PAYCHAT_ENV="test", PAYCHAT_VAR_DIR=tmp_path, CONSOLE_SECRET_KEY=secrets.token_urlsafe(32)
    )
    rasa = RasaClient(
        "http://rasa.test", "s", 5, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    with TestClient(
        create_app(settings, _services(payments_service, rasa)), follow_redirects=False
    ) as test_client:
        yield test_client


def test_a_refused_payment_shows_its_decision_on_its_page_and_in_the_flagged_list(
    client: TestClient, viewer: str, payments_service: PaymentsService
) -> None:
    service = _with(payments_service, risk=RISKY)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    draft = service.draft_payment(user_id=user_id, bill_id=bills["rent"], amount_text="300", date_text=None)
    with pytest.raises(RiskRefusedError):
        service.confirm_payment(user_id=user_id, payment_id=draft.payment_id, consent_text="y")
    login(client, viewer)

    page = client.get(f"/payments/{draft.payment_id}").text
    flagged = client.get("/risk").text

    assert 'id="risk"' in page and "new_payee_large" in page and ">refuse<" in page
    assert f'href="/payments/{draft.payment_id}"' in flagged and "new_payee_large" in flagged


def test_the_test_chat_shows_the_code_as_a_separate_message(payments_service: PaymentsService) -> None:
    service = _with(payments_service, step_up_minor=50_000)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    with service.session_factory.begin() as session:
        session.get_one(User, user_id).is_test = True
    draft = service.draft_payment(user_id=user_id, bill_id=bills["rent"], amount_text="600", date_text=None)
    assert service.confirm_payment(user_id=user_id, payment_id=draft.payment_id, consent_text="y").step_up
    reply = channel_body("🔐 One more step", intent="affirm")
    rasa = RasaClient(
        "http://rasa.test", "s", 5, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=reply))
    )

    result = asyncio.run(chat_turn(_services(service, rasa), user_id=user_id, session_key="s1", text="yes"))

    [bubble] = result.separate_messages
    assert "is your one-time code for the payment of €600.00" in bubble
    code = bubble.split()[1]
    assert len(code) == 6 and code.isdigit()
    assert service.pending_codes_for(user_id=user_id) == []  # shown once, marked delivered
    assert service.verify_step_up_code(user_id=user_id, code_text=code).status == "succeeded"
