"""The Stripe gateway: real-Stripe requests (against a local fake of api.stripe.com) and sandbox writes."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import stripe
from sqlalchemy import Engine, delete

from db.engine import make_session_factory
from db.models import SavedPaymentMethod, StripeCustomer, User
from payments.demo import DEMO_USERS, ensure_card, load_demo_data
from payments.gateway import ChargeOutcome, ChargeStatus
from payments.stripe_gateway import IDEMPOTENCY_METADATA_KEY, StripeGateway
from tests.helpers.factories import make_user, unique
from tests.helpers.sandbox import SANDBOX_KEY, sandbox_gateway

CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}


class FakeStripe(BaseHTTPRequestHandler):
    """Answers the few endpoints the gateway uses and records every request (method, path, query, key)."""

    requests: list[dict[str, Any]] = []

    def _record(self) -> tuple[str, dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode()) if length else {}
        FakeStripe.requests.append(
            {
                "method": self.command,
                "path": url.path,
                "query": urllib.parse.parse_qs(url.query),
                "form": form,
                "idempotency_key": self.headers.get("Idempotency-Key"),
            }
        )
        return url.path, form

    def do_GET(self) -> None:
        path, _ = self._record()
        if path == "/v1/payment_intents":
            intent = {
                "id": "pi_found",
                "object": "payment_intent",
                "status": "succeeded",
                "metadata": {IDEMPOTENCY_METADATA_KEY: "paychat-payment-7-abc"},
            }
            self._answer({"object": "list", "url": path, "has_more": False, "data": [intent]})
        elif path.startswith("/v1/customers/"):
            self._answer({"id": path.rsplit("/", 1)[-1], "object": "customer"})
        else:
            self._answer({"error": {"message": "no such endpoint"}}, status=404)

    def do_POST(self) -> None:
        path, _ = self._record()
        if path == "/v1/customers":
            self._answer({"id": "cus_fake", "object": "customer"})
        elif path.endswith("/attach"):
            method_id = path.split("/")[-2]
            self._answer({"id": method_id, "object": "payment_method", "card": CARD})
        else:
            self._answer({"error": {"message": "no such endpoint"}}, status=404)

    def _answer(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_stripe() -> Iterator[str]:
    """A stand-in for api.stripe.com (unreachable offline)."""
    FakeStripe.requests.clear()
    server = HTTPServer(("127.0.0.1", 0), FakeStripe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_real_stripe_reconciliation_lists_only_the_customers_intents(fake_stripe: str) -> None:
    gateway = StripeGateway(api_key="sk_test_x", api_base=fake_stripe, sandbox=False)
    outcome = gateway.find_charge(idempotency_key="paychat-payment-7-abc", customer_id="cus_1")
    assert outcome == ChargeOutcome(status=ChargeStatus.SUCCEEDED, payment_intent_id="pi_found")
    lists = [r for r in FakeStripe.requests if r["path"] == "/v1/payment_intents"]
    assert [r["query"].get("customer") for r in lists] == [["cus_1"]]


def test_sandbox_reconciliation_sends_no_list_filter(fake_stripe: str) -> None:
    gateway = StripeGateway(api_key="sk_test_x", api_base=fake_stripe, sandbox=True)
    outcome = gateway.find_charge(idempotency_key="paychat-payment-8-x", customer_id="cus_1")
    assert outcome.status == ChargeStatus.NOT_FOUND
    assert [r["query"] for r in FakeStripe.requests] == [{"limit": ["100"]}]


def test_saving_a_card_again_after_a_lost_write_sends_the_same_keys(
    fake_stripe: str, db_engine: Engine
) -> None:
    gateway = StripeGateway(api_key="sk_test_x", api_base=fake_stripe, sandbox=False)
    session_factory = make_session_factory(db_engine)
    with session_factory.begin() as session:
        user_id = make_user(session, name=unique("Keyed")).id

    def writes() -> list[tuple[str, str | None]]:
        return [(r["path"], r["idempotency_key"]) for r in FakeStripe.requests if r["method"] == "POST"]

    ensure_card(session_factory, gateway, user_id=user_id, card_number="4242424242424242")
    first = writes()
    assert [path for path, _ in first] == ["/v1/customers", "/v1/payment_methods/pm_card_visa/attach"]
    assert all(key for _, key in first)
    # Stripe answered but our rows were lost (a crash before the commit): the retry must replay
    # the same writes, which real Stripe then answers from its idempotency cache.
    with session_factory.begin() as session:
        session.execute(delete(SavedPaymentMethod).where(SavedPaymentMethod.user_id == user_id))
        session.execute(delete(StripeCustomer).where(StripeCustomer.user_id == user_id))
    FakeStripe.requests.clear()
    ensure_card(session_factory, gateway, user_id=user_id, card_number="4242424242424242")
    assert writes() == first
    with session_factory.begin() as session:
        session.execute(delete(SavedPaymentMethod).where(SavedPaymentMethod.user_id == user_id))
        session.execute(delete(StripeCustomer).where(StripeCustomer.user_id == user_id))
        session.execute(delete(User).where(User.id == user_id))


@pytest.mark.sandbox
def test_loading_the_demo_data_twice_adds_no_customer_or_card(db_engine: Engine, stripe_sandbox: str) -> None:
    session_factory = make_session_factory(db_engine)
    gateway = sandbox_gateway(stripe_sandbox)
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": stripe_sandbox}, max_network_retries=0)

    def demo_objects(user_ids: dict[str, int]) -> tuple[list[str], list[str]]:
        ours = {str(user_ids[demo.key]) for demo in DEMO_USERS}
        customers = [
            str(c.id)
            for c in client.v1.customers.list({"limit": 100}).auto_paging_iter()
            if c.metadata and c.metadata.to_dict().get("paychat_user_id") in ours
        ]
        cards = [
            str(m.id)
            for customer in customers
            for m in client.v1.payment_methods.list({"customer": customer, "type": "card"}).data
        ]
        return sorted(customers), sorted(cards)

    first = demo_objects(load_demo_data(session_factory, gateway))
    again = demo_objects(load_demo_data(session_factory, gateway))
    assert again == first
    assert len(first[1]) >= len(DEMO_USERS)
