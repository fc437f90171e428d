"""3-D Secure: signed sandbox challenge links, answering them, and the real-Stripe return_url."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from payments.challenge import challenge_signature, challenge_signature_valid, challenge_url
from payments.demo import VISA_3DS
from payments.errors import PaymentNotFoundError, PaymentNotPendingError
from payments.gateway import ChargeOutcome, ChargeRequest, ChargeStatus
from payments.money import Money
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import PaymentStatus
from payments.stripe_gateway import StripeGateway
from payments.views import PaymentResult
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY

PUBLIC_URL = "http://console.test:8000"
KEY = b"test-challenge-key-0123456789"


def challenge_service(base: PaymentsService, stripe_sandbox: str, *, key: bytes = KEY) -> PaymentsService:
    """A service whose sandbox gateway links to the console's challenge page, as build_service wires it."""
    gateway = StripeGateway(
        api_key=SANDBOX_KEY,
        api_base=stripe_sandbox,
        sandbox=True,
        return_url=f"{PUBLIC_URL}/payments/return",  # must not reach the sandbox, which refuses it
        challenge_url=lambda intent_id: challenge_url(PUBLIC_URL, key, intent_id),
    )
    return PaymentsService(
        session_factory=base.session_factory, gateway=gateway, config=ServiceConfig(challenge_signing_key=key)
    )


def pending_three_d_secure(service: PaymentsService) -> tuple[int, PaymentResult]:
    """A fresh 3-D Secure card user's confirmed payment, waiting for the bank."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway, card_number=VISA_3DS)
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="yes")
    assert result.status == PaymentStatus.REQUIRES_ACTION, result
    assert result.payment_intent_id
    return user_id, result


def test_signature_is_bound_to_key_and_intent() -> None:
    sig = challenge_signature(KEY, "pi_abc")
    assert challenge_signature_valid(KEY, "pi_abc", sig)
    assert not challenge_signature_valid(KEY, "pi_abd", sig)
    assert not challenge_signature_valid(b"another key", "pi_abc", sig)
    assert not challenge_signature_valid(KEY, "pi_abc", "")
    assert not challenge_signature_valid(b"", "pi_abc", challenge_signature(b"", "pi_abc"))
    assert challenge_url("http://x/", KEY, "pi_abc") == f"http://x/sandbox/3ds/pi_abc?sig={sig}"


@pytest.mark.sandbox
def test_sandbox_link_points_at_the_console_and_authenticating_settles(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = challenge_service(payments_service, stripe_sandbox)
    user_id, result = pending_three_d_secure(service)
    intent_id = result.payment_intent_id
    assert intent_id
    sig = challenge_signature(KEY, intent_id)
    assert result.next_action_url == f"{PUBLIC_URL}/sandbox/3ds/{intent_id}?sig={sig}"

    shown = service.sandbox_challenge(payment_intent_id=intent_id, signature=sig)
    assert (shown.payment_id, shown.amount) == (result.payment_id, Money(8420, "EUR"))

    settled = service.complete_sandbox_challenge(payment_intent_id=intent_id, signature=sig, success=True)
    assert settled.status == PaymentStatus.SUCCEEDED
    assert (
        service.get_payment(user_id=user_id, payment_id=result.payment_id).status == PaymentStatus.SUCCEEDED
    )
    with pytest.raises(PaymentNotPendingError):  # a second answer changes nothing
        service.complete_sandbox_challenge(payment_intent_id=intent_id, signature=sig, success=False)


@pytest.mark.sandbox
def test_failing_the_challenge_fails_the_payment(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = challenge_service(payments_service, stripe_sandbox)
    user_id, result = pending_three_d_secure(service)
    assert result.payment_intent_id
    sig = challenge_signature(KEY, result.payment_intent_id)
    failed = service.complete_sandbox_challenge(
        payment_intent_id=result.payment_intent_id, signature=sig, success=False
    )
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_message
    assert service.get_payment(user_id=user_id, payment_id=result.payment_id).status == PaymentStatus.FAILED


@pytest.mark.sandbox
def test_a_bad_link_reveals_and_changes_nothing(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = challenge_service(payments_service, stripe_sandbox)
    user_id, result = pending_three_d_secure(service)
    intent_id = result.payment_intent_id
    assert intent_id
    good = challenge_signature(KEY, intent_id)
    for intent, sig in (
        (intent_id, ""),
        (intent_id, "0" * 64),
        (intent_id, challenge_signature(b"someone else's key", intent_id)),
        ("pi_unknown", challenge_signature(KEY, "pi_unknown")),  # signed, but no payment of ours
    ):
        with pytest.raises(PaymentNotFoundError):
            service.sandbox_challenge(payment_intent_id=intent, signature=sig)
        with pytest.raises(PaymentNotFoundError):
            service.complete_sandbox_challenge(payment_intent_id=intent, signature=sig, success=True)
    # A gateway that is not the sandbox serves no challenge, even for a correctly signed link.
    real = PaymentsService(
        session_factory=service.session_factory,
        gateway=StripeGateway(api_key=SANDBOX_KEY, api_base=stripe_sandbox, sandbox=False),
        config=service.config,
    )
    with pytest.raises(PaymentNotFoundError):
        real.complete_sandbox_challenge(payment_intent_id=intent_id, signature=good, success=True)
    assert (
        service.get_payment(user_id=user_id, payment_id=result.payment_id).status
        == PaymentStatus.REQUIRES_ACTION
    )


class FakeStripe(BaseHTTPRequestHandler):
    """Answers PaymentIntent creation as real Stripe does for a 3-D Secure card given a return_url."""

    bodies: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        FakeStripe.bodies.append(form)
        redirect = None
        if "return_url" in form:
            redirect = {
                "url": "https://hooks.stripe.com/3d_secure_2/hosted?x=1",
                "return_url": form["return_url"][0],
            }
        intent = {
            "id": "pi_real_3ds",
            "object": "payment_intent",
            "status": "requires_action",
            "metadata": {},
            "next_action": {"type": "redirect_to_url", "redirect_to_url": redirect}
            if redirect
            else {"type": "use_stripe_sdk", "use_stripe_sdk": {}},
        }
        body = json.dumps(intent).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_stripe() -> Iterator[str]:
    """A stand-in for api.stripe.com (unreachable offline) that records what the SDK sent."""
    FakeStripe.bodies.clear()
    server = HTTPServer(("127.0.0.1", 0), FakeStripe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _charge(gateway: StripeGateway) -> ChargeOutcome:
    return gateway.charge(
        ChargeRequest(
            amount=Money(8420, "EUR"),
            customer_id="cus_1",
            payment_method_id="pm_card_authenticationRequired",
            idempotency_key="paychat-payment-1",
            metadata={"paychat_payment_id": "1"},
        )
    )


def test_real_stripe_gets_a_return_url_and_the_bank_link(fake_stripe: str) -> None:
    gateway = StripeGateway(
        api_key="sk_test_x", api_base=fake_stripe, sandbox=False, return_url=f"{PUBLIC_URL}/payments/return"
    )
    outcome = _charge(gateway)
    assert FakeStripe.bodies[-1]["return_url"] == [f"{PUBLIC_URL}/payments/return"]
    assert FakeStripe.bodies[-1]["confirm"] == ["true"]
    assert outcome == ChargeOutcome(
        status=ChargeStatus.REQUIRES_ACTION,
        payment_intent_id="pi_real_3ds",
        next_action_url="https://hooks.stripe.com/3d_secure_2/hosted?x=1",
    )


def test_the_sandbox_request_carries_no_return_url(fake_stripe: str) -> None:
    gateway = StripeGateway(
        api_key="sk_test_x",
        api_base=fake_stripe,
        sandbox=True,
        return_url=f"{PUBLIC_URL}/payments/return",
        challenge_url=lambda intent_id: f"{PUBLIC_URL}/sandbox/3ds/{intent_id}?sig=s",
    )
    outcome = _charge(gateway)
    assert "return_url" not in FakeStripe.bodies[-1]
    assert outcome.next_action_url == f"{PUBLIC_URL}/sandbox/3ds/pi_real_3ds?sig=s"
