"""The console's public Stripe routes with real parts: the sandbox, its webhooks, the bank page."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.app import create_app
from console.services import ConsoleServices
from payments.challenge import challenge_signature
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from rasa_client import RasaClient
from rasa_client.wording import failure_reason
from scripts import procs
from settings import Settings
from tests.payments.test_three_d_secure import KEY, PUBLIC_URL, challenge_service, pending_three_d_secure

pytestmark = pytest.mark.sandbox
WEBHOOK_SECRET = "whsec_console_tests_" + secrets.token_hex(8)


@pytest.fixture
def service(payments_service: PaymentsService, stripe_sandbox: str) -> PaymentsService:
    """The sandbox service with challenge links and the webhook secret, as build_service wires them."""
    base = challenge_service(payments_service, stripe_sandbox)
    config = type(base.config)(challenge_signing_key=KEY, stripe_webhook_secret=WEBHOOK_SECRET)
    return PaymentsService(session_factory=base.session_factory, gateway=base.gateway, config=config)


def make_app(service: PaymentsService, tmp_path: Path, *, stripe_api_key: str = "") -> FastAPI:
    """The console app on the service's database, its PaymentsService replaced by `service`."""
    settings = Settings(
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=tmp_path,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        STRIPE_API_KEY=stripe_api_key,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PAYCHAT_PUBLIC_URL=PUBLIC_URL,
    )
    rasa = RasaClient(
        "http://rasa.test", "s", 5, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    app = create_app(
        settings, ConsoleServices(session_factory=service.session_factory, assistant=rasa, payments=service)
    )
    return app


@pytest.fixture
def client(service: PaymentsService, tmp_path: Path) -> Iterator[TestClient]:
    """A TestClient on the console (sandbox mode)."""
    with TestClient(make_app(service, tmp_path), follow_redirects=False) as test_client:
        yield test_client


def page_path(url: str | None) -> str:
    """The path and query of a challenge link (the console under test answers any host)."""
    assert url and url.startswith(f"{PUBLIC_URL}/sandbox/3ds/pi_"), url
    return url.removeprefix(PUBLIC_URL)


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The challenge form's action and hidden fields."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action, page
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    return action.group(1), fields


def result_code(service: PaymentsService, user_id: int, payment_id: int) -> str | None:
    """The payment's failure code now."""
    return service.get_payment(user_id=user_id, payment_id=payment_id).failure_code


def status_of(service: PaymentsService, user_id: int, payment_id: int) -> PaymentStatus:
    """The payment's status now."""
    return service.get_payment(user_id=user_id, payment_id=payment_id).status


@pytest.mark.parametrize(("button", "expected"), [("authenticate", "succeeded"), ("fail", "failed")])
def test_the_customer_answers_the_bank_page(
    client: TestClient, service: PaymentsService, button: str, expected: str
) -> None:
    user_id, result = pending_three_d_secure(service)
    page = client.get(page_path(result.next_action_url))
    assert page.status_code == 200
    assert result.amount_text in page.text and result.biller_name in page.text
    assert "Authenticate" in page.text and "Fail" in page.text
    action, fields = form_of(page.text)
    answered = client.post(action, data={**fields, "outcome": button})
    assert answered.status_code == 200, answered.text
    assert f"Payment {expected}" in answered.text
    assert status_of(service, user_id, result.payment_id) == PaymentStatus(expected)
    if expected == "failed":  # worded by its code, as in the chat, never the processor's raw words
        assert "None" not in answered.text
        reason = failure_reason(result_code(service, user_id, result.payment_id), None)
        assert reason in html.unescape(answered.text)
    again = client.post(action, data={**fields, "outcome": "authenticate"})
    assert again.status_code == 409  # answered already: shows the outcome, changes nothing
    assert status_of(service, user_id, result.payment_id) == PaymentStatus(expected)


def test_a_wrong_or_missing_signature_or_csrf_token_is_refused(
    client: TestClient, service: PaymentsService
) -> None:
    user_id, result = pending_three_d_secure(service)
    path = page_path(result.next_action_url)
    bare, _, _ = path.partition("?")
    other_key = challenge_signature(b"not the server key", result.payment_intent_id or "")
    for wrong in (
        bare,
        f"{bare}?sig=",
        f"{bare}?sig={'0' * 64}",
        f"{bare}?sig={other_key}",
        "/sandbox/3ds/pi_nope",
    ):
        response = client.get(wrong)
        assert response.status_code == 404, wrong
        assert result.amount_text not in response.text
    action, fields = form_of(client.get(path).text)
    forged = client.post(action, data={**fields, "sig": other_key, "outcome": "authenticate"})
    assert forged.status_code == 404
    no_csrf = client.post(action, data={"sig": fields["sig"], "outcome": "authenticate"})
    assert no_csrf.status_code == 403
    other_browser = TestClient(client.app, follow_redirects=False)  # a page that did not come from us
    cross_site = other_browser.post(action, data={**fields, "outcome": "authenticate"})
    assert cross_site.status_code == 403
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.REQUIRES_ACTION


def test_no_bank_page_with_real_stripe(service: PaymentsService, tmp_path: Path) -> None:
    user_id, result = pending_three_d_secure(service)
    app = make_app(service, tmp_path, stripe_api_key="sk_test_real_stripe_configured")
    with TestClient(app, follow_redirects=False) as client:
        assert client.get(page_path(result.next_action_url)).status_code == 404
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.REQUIRES_ACTION


def test_the_return_page_settles_what_stripe_says(client: TestClient, service: PaymentsService) -> None:
    user_id, result = pending_three_d_secure(service)
    assert result.payment_intent_id
    service.gateway.authenticate_in_sandbox(result.payment_intent_id, success=True)  # type: ignore[attr-defined]
    page = client.get(f"/payments/return?payment_intent={result.payment_intent_id}&redirect_status=succeeded")
    assert page.status_code == 200
    assert "succeeded" in page.text
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.SUCCEEDED
    assert client.get("/payments/return").status_code == 200
    assert client.get("/payments/return?payment_intent=pi_not_ours").status_code == 200


def signed(payload: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """A Stripe-Signature header for `payload` (Stripe's documented scheme)."""
    stamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def event(intent_id: str, kind: str = "payment_intent.succeeded") -> bytes:
    """A Stripe event about a PaymentIntent."""
    body = {
        "id": f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": kind,
        "data": {"object": {"id": intent_id, "object": "payment_intent"}},
    }
    return json.dumps(body).encode()


def test_webhook_applies_once_and_refuses_bad_signatures(
    client: TestClient, service: PaymentsService
) -> None:
    user_id, result = pending_three_d_secure(service)
    assert result.payment_intent_id
    service.gateway.authenticate_in_sandbox(result.payment_intent_id, success=True)  # type: ignore[attr-defined]
    payload = event(result.payment_intent_id)
    for headers in (
        {},
        {"Stripe-Signature": "t=1,v1=00"},
        {"Stripe-Signature": signed(payload, "whsec_wrong")},
    ):
        assert client.post("/stripe/webhook", content=payload, headers=headers).status_code == 400
    tampered = client.post(
        "/stripe/webhook", content=payload + b" ", headers={"Stripe-Signature": signed(payload)}
    )
    assert tampered.status_code == 400
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.REQUIRES_ACTION

    signature = signed(payload)
    first = client.post("/stripe/webhook", content=payload, headers={"Stripe-Signature": signature})
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.SUCCEEDED
    replay = client.post("/stripe/webhook", content=payload, headers={"Stripe-Signature": signature})
    assert replay.status_code == 200 and replay.json() == {"received": True, "duplicate": True}
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.SUCCEEDED
    garbage = b"not json at all"
    assert (
        client.post(
            "/stripe/webhook", content=garbage, headers={"Stripe-Signature": signed(garbage)}
        ).status_code
        == 400
    )


@pytest.fixture
def served_console(service: PaymentsService, tmp_path: Path) -> Iterator[str]:
    """The console served by uvicorn on a free port in a thread (the sandbox must reach it over HTTP)."""
    port = procs.free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_app(service, tmp_path), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def register_webhook(stripe_sandbox: str, url: str) -> None:
    """Point the sandbox's webhooks at `url`, as `make run` does."""
    procs.register_sandbox_webhook(stripe_sandbox, url, WEBHOOK_SECRET, name="paychat_console_test")


def test_a_webhook_from_the_sandbox_settles_the_payment_without_the_user_asking(
    service: PaymentsService, stripe_sandbox: str, served_console: str
) -> None:
    register_webhook(stripe_sandbox, f"{served_console}/stripe/webhook")
    user_id, result = pending_three_d_secure(service)
    assert result.payment_intent_id
    # The bank answers directly at the processor: only the webhook can tell paychat.
    service.gateway.authenticate_in_sandbox(result.payment_intent_id, success=True)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 15
    while status_of(service, user_id, result.payment_id) == PaymentStatus.REQUIRES_ACTION:
        assert time.monotonic() < deadline, "no webhook settled the payment"
        time.sleep(0.1)
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.SUCCEEDED


def test_a_payment_failed_webhook_fails_the_payment(client: TestClient, service: PaymentsService) -> None:
    # localstripe sends no event when authentication fails (real Stripe sends this one): sign it here.
    user_id, result = pending_three_d_secure(service)
    assert result.payment_intent_id
    service.gateway.authenticate_in_sandbox(result.payment_intent_id, success=False)  # type: ignore[attr-defined]
    payload = event(result.payment_intent_id, "payment_intent.payment_failed")
    response = client.post("/stripe/webhook", content=payload, headers={"Stripe-Signature": signed(payload)})
    assert response.status_code == 200
    assert status_of(service, user_id, result.payment_id) == PaymentStatus.FAILED
