"""Least privilege: paychat works with exactly the Stripe permissions the README lists.

The real stripe SDK talks to the sandbox through `PermissionProxy`, which refuses every request
`payments.stripe_permissions` does not declare (as real Stripe refuses a restricted key). A
payment that succeeds, one that is declined, one through 3-D Secure, a reconciliation by
idempotency key and forgetting a user all pass without a single refusal; taking PaymentIntents
away from the "key" makes the charge fail, so the proxy really enforces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from db.engine import make_session_factory
from db.models import Payment
from payments.demo import VISA_3DS, VISA_DECLINES, VISA_SUCCEEDS, ensure_card
from payments.service import PaymentsService, ServiceConfig
from payments.stripe_permissions import REQUIRED_PERMISSIONS, SANDBOX_ONLY_CALLS, STRIPE_CALLS, Access
from testing.faultproxy import fault_proxies
from testing.permission_proxy import PermissionProxy, add_permission_proxy
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import sandbox_gateway

pytestmark = pytest.mark.sandbox
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def restricted(db_engine: Engine, stripe_sandbox: str) -> Iterator[tuple[PaymentsService, PermissionProxy]]:
    """A PaymentsService whose Stripe traffic goes through the permission proxy."""
    with fault_proxies() as proxies:
        proxy = add_permission_proxy(proxies, stripe_sandbox)
        service = PaymentsService(
            session_factory=make_session_factory(db_engine),
            gateway=sandbox_gateway(proxy.url),
            config=ServiceConfig(),
        )
        yield service, proxy


def _pay(service: PaymentsService, card: str) -> tuple[int, int, str]:
    user_id, bills = make_paying_user(service.session_factory, service.gateway, card_number=card)
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    result = service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text=summary.summary_text
    )
    return user_id, summary.payment_id, str(result.status)


def test_the_payment_flows_need_only_the_declared_permissions(
    restricted: tuple[PaymentsService, PermissionProxy],
) -> None:
    service, proxy = restricted
    paid_user, _, status = _pay(service, VISA_SUCCEEDS)
    assert status == "succeeded"
    # Demo mode heals its cards after a sandbox reset: it asks whether the customer still exists.
    ensure_card(service.session_factory, service.gateway, user_id=paid_user, card_number=VISA_SUCCEEDS)
    assert _pay(service, VISA_DECLINES)[2] == "failed"
    refund = service.refund_payment(
        payment_id=_paid_payment(service, paid_user), amount_minor=100, requested_by="staff:alice",
        idempotency_key=f"refund-{paid_user}",
    )  # fmt: skip
    assert refund.status in ("succeeded", "pending")
    # /forget clears the name and our user id on the user's Stripe customer (a customer update).
    assert service.forget_user(user_id=paid_user).processor_pending is False
    # A challenge nobody finished is cancelled at the processor (settlement's deadline does this).
    _, abandoned_id, status = _pay(service, VISA_3DS)
    assert status == "requires_action"
    service.gateway.cancel_charge(_intent(service, abandoned_id))
    user_id, payment_id, status = _pay(service, VISA_3DS)
    assert status == "requires_action"
    assert (
        str(
            service.complete_sandbox_authentication(
                user_id=user_id, payment_id=payment_id, success=True
            ).status
        )
        == "succeeded"
    )
    # An unanswered charge: the worker finds it again by its idempotency key (list) and settles it.
    _, lost_id, _ = _pay(service, VISA_SUCCEEDS)
    with service.session_factory.begin() as session:
        session.execute(
            update(Payment).where(Payment.id == lost_id).values(status="unknown", payment_intent_id=None)
        )
    service.reconcile_unknown_payments(older_than=timedelta(seconds=-1))
    assert (
        str(service.get_payment(user_id=_owner(service, lost_id), payment_id=lost_id).status) == "succeeded"
    )

    assert proxy.log.refused == []
    production_calls = {(c.method, c.path) for c in STRIPE_CALLS}
    assert production_calls <= proxy.log.used  # every declared call is really needed by some flow
    assert proxy.log.used <= production_calls | {(c.method, c.path) for c in SANDBOX_ONLY_CALLS}


def _paid_payment(service: PaymentsService, user_id: int) -> int:
    with service.session_factory() as session:
        return int(session.scalars(select(Payment.id).where(Payment.user_id == user_id)).one())


def _intent(service: PaymentsService, payment_id: int) -> str:
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None and payment.payment_intent_id
        return payment.payment_intent_id


def _owner(service: PaymentsService, payment_id: int) -> int:
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment.user_id


def test_a_key_without_payment_intents_cannot_charge(db_engine: Engine, stripe_sandbox: str) -> None:
    with fault_proxies() as proxies:
        proxy = add_permission_proxy(proxies, stripe_sandbox, deny=("PaymentIntents",))
        service = PaymentsService(
            session_factory=make_session_factory(db_engine),
            gateway=sandbox_gateway(proxy.url),
            config=ServiceConfig(),
        )
        assert _pay(service, VISA_SUCCEEDS)[2] == "failed"
        assert ("POST", "/v1/payment_intents") in proxy.log.refused


def test_an_undeclared_call_is_refused(restricted: tuple[PaymentsService, PermissionProxy]) -> None:
    import stripe

    _, proxy = restricted
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": proxy.url}, max_network_retries=0)
    with pytest.raises(stripe.PermissionError):
        client.v1.charges.list()
    assert proxy.log.refused == [("GET", "/v1/charges")]


def test_the_readme_lists_exactly_the_required_permissions() -> None:
    section = README.read_text().split("### Stripe permissions", 1)[1].split("\n#", 1)[0]
    listed = dict(re.findall(r"^\| (\w+) \| (read|write) \|", section, flags=re.MULTILINE))
    assert listed == {resource: access.value for resource, access in REQUIRED_PERMISSIONS.items()}
    assert REQUIRED_PERMISSIONS == {
        "Customers": Access.WRITE,
        "PaymentIntents": Access.WRITE,
        "PaymentMethods": Access.WRITE,
        "Refunds": Access.WRITE,
    }
