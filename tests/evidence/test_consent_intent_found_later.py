"""A PaymentIntent found after the charge call is signed into the consent receipt too (issue 13, item 7).

The charge's answer is lost (the proxy lets Stripe create the PaymentIntent, then resets our
connection): the payment is `unknown` with no intent id. Reconciliation by idempotency key finds
the PaymentIntent later; the receipt must then bind it (signed, `consent.intent_bound` chained) just
as a charge that answered does, and `paychat consent verify` must pass and name it. The same for a
payment recorded as never charged that a late lookup corrects (`payment.corrected`). Real SQLite
file, real stripe SDK against the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AuditLogEntry, Consent, Payment, utcnow
from paychat.cli import app
from payments.gateway import FailureCode
from payments.service import PaymentsService, ServiceConfig
from testing.faultproxy import Fault, FaultProxy, Toxic, fault_proxies
from tests.helpers.factories import edge_summary, make_paying_user
from tests.helpers.sandbox import sandbox_gateway

pytestmark = pytest.mark.sandbox


@pytest.fixture
def lossy(tmp_path: Path, stripe_sandbox: str) -> Iterator[tuple[str, PaymentsService, FaultProxy]]:
    """(database URL, service, proxy): a fresh SQLite file, Stripe reached through a fault proxy."""
    url = f"sqlite:///{tmp_path / 'found-later.db'}"
    upgrade(url)
    engine = make_engine(url)
    with fault_proxies() as proxies:
        proxy = proxies.add("stripe", stripe_sandbox)
        service = PaymentsService(
            session_factory=make_session_factory(engine),
            gateway=sandbox_gateway(proxy.url, timeout_seconds=3.0),
            config=ServiceConfig(),
        )
        yield url, service, proxy
    engine.dispose()


def _charge_whose_answer_is_lost(service: PaymentsService, proxy: FaultProxy) -> int:
    """Confirm a payment while the answer to its PaymentIntent create is lost; its payment id."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    summary = service.prepare_payment(
        user_id=user_id, biller_text=None, bill_id=bills["electricity"], amount_text=None,
        date_text=None, render_summary=edge_summary,
    )  # fmt: skip
    proxy.set(Fault(Toxic.RESET_AFTER, count=1, path_prefix="/v1/payment_intents"))
    result = service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text=summary.summary_text
    )
    assert str(result.status) == "unknown"
    assert proxy.stats[Toxic.RESET_AFTER.value] == 1  # Stripe did create it; we never heard
    with service.session_factory() as session:
        payment = session.get(Payment, summary.payment_id)
        consent = session.scalars(select(Consent).where(Consent.payment_id == summary.payment_id)).one()
        assert payment is not None and payment.payment_intent_id is None
        assert consent.payment_intent_id is None and consent.intent_signature is None
    return summary.payment_id


def _assert_bound_and_verified(url: str, service: PaymentsService, payment_id: int) -> None:
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        consent = session.scalars(select(Consent).where(Consent.payment_id == payment_id)).one()
        assert payment is not None and payment.status == "succeeded"
        intent = payment.payment_intent_id
        assert intent and intent.startswith("pi_")
        assert consent.payment_intent_id == intent and consent.intent_signature
        bound = session.scalars(
            select(AuditLogEntry.data).where(
                AuditLogEntry.payment_id == payment_id, AuditLogEntry.event == "consent.intent_bound"
            )
        ).all()
        assert bound == [
            {"consent_id": consent.id, "receipt_sha256": consent.receipt_hash, "payment_intent": intent}
        ]
        consent_id = consent.id
    verified = CliRunner().invoke(app, ["consent", "verify", str(consent_id), "--database-url", url])
    assert verified.exit_code == 0, verified.output
    assert "ok" in verified.output and intent in verified.output
    # The bound PaymentIntent is checked, not merely shown: another one on the payment fails.
    with service.session_factory.begin() as session:
        session.execute(update(Payment).where(Payment.id == payment_id).values(payment_intent_id="pi_other"))
    swapped = CliRunner().invoke(app, ["consent", "verify", str(consent_id), "--database-url", url])
    assert swapped.exit_code == 1 and "intent" in swapped.output


def test_an_intent_found_by_reconciliation_is_signed_into_the_receipt(
    lossy: tuple[str, PaymentsService, FaultProxy],
) -> None:
    url, service, proxy = lossy
    payment_id = _charge_whose_answer_is_lost(service, proxy)

    service.reconcile_unknown_payments(older_than=timedelta(seconds=-1))

    _assert_bound_and_verified(url, service, payment_id)


def test_an_intent_found_after_the_payment_was_failed_is_signed_into_the_receipt(
    lossy: tuple[str, PaymentsService, FaultProxy],
) -> None:
    url, service, proxy = lossy
    payment_id = _charge_whose_answer_is_lost(service, proxy)
    # As an earlier round records when its lookup finds nothing yet: failed, no charge made.
    with service.session_factory.begin() as session:
        session.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(status="failed", failure_code=FailureCode.CHARGE_NOT_CREATED.value, completed_at=utcnow())
        )

    service.reconcile_unknown_payments(older_than=timedelta(seconds=-1))  # the late lookup corrects it

    with service.session_factory() as session:
        events = session.scalars(
            select(AuditLogEntry.event).where(AuditLogEntry.payment_id == payment_id)
        ).all()
        assert "payment.corrected" in events
    _assert_bound_and_verified(url, service, payment_id)
