"""Stripe webhooks from the sandbox: signature verified, applied once, replays ignored."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from payments.demo import VISA_3DS
from payments.errors import PaymentsError
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox
SECRET = "whsec_paychat_tests"


class Recorder(BaseHTTPRequestHandler):
    """Collects webhook deliveries (body and signature)."""

    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((body, self.headers.get("Stripe-Signature", "")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_settles_a_three_d_secure_payment_once(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.received.clear()
    hook = urllib.request.Request(
        f"{stripe_sandbox}/_config/webhooks/paychat_test",
        data=json.dumps(
            {
                "url": f"http://127.0.0.1:{server.server_port}/",
                "secret": SECRET,
                "events": ["payment_intent.succeeded"],
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(hook, timeout=10).close()
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=type(payments_service.config)(stripe_webhook_secret=SECRET),
    )
    try:
        user_id, bills = make_paying_user(service.session_factory, service.gateway, card_number=VISA_3DS)
        summary = service.draft_payment(
            user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
        )
        result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="yes")
        assert result.status == PaymentStatus.REQUIRES_ACTION and result.payment_intent_id
        service.gateway.authenticate_in_sandbox(result.payment_intent_id, success=True)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        mine: list[tuple[bytes, str]] = []
        while time.monotonic() < deadline and not mine:
            mine = [r for r in Recorder.received if result.payment_intent_id.encode() in r[0]]
            time.sleep(0.1)
        assert mine, "the sandbox delivered no webhook"
        body, signature = mine[0]
        with pytest.raises(PaymentsError) as caught:
            service.handle_stripe_webhook(payload=body.replace(b"succeeded", b"failed"), signature=signature)
        assert caught.value.code == "webhook_invalid"
        assert service.handle_stripe_webhook(payload=body, signature=signature) is True
        assert service.handle_stripe_webhook(payload=body, signature=signature) is False  # replay
        assert (
            service.get_payment(user_id=user_id, payment_id=summary.payment_id).status
            == PaymentStatus.SUCCEEDED
        )
    finally:
        server.shutdown()
