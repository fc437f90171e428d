"""Integration: real database (SQLite and PostgreSQL), real localstripe, real stripe SDK."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import stripe
from sqlalchemy import select

from db.models import AuditLogEntry, Bill, Consent, Payment, utcnow
from payments.audit import verify_audit_chain
from payments.consent import verify_consent
from payments.demo import VISA_3DS, VISA_DECLINES
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import PaymentStatus
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY, SilentServer, sandbox_gateway

pytestmark = pytest.mark.sandbox


def _intents_for(sandbox_url: str, service: PaymentsService, payment_id: int) -> list[str]:
    """Every PaymentIntent in the sandbox carrying this payment's idempotency key."""
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        key = payment.idempotency_key
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    found = []
    page = client.v1.payment_intents.list({"limit": 100})
    while True:
        found += [pi.id for pi in page.data if pi.metadata.to_dict().get("paychat_idempotency_key") == key]
        if not page.has_more:
            return found
        page = client.v1.payment_intents.list({"limit": 100, "starting_after": page.data[-1].id})


def test_successful_payment_marks_bill_paid_and_is_audited(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    assert summary.status == PaymentStatus.DRAFT
    assert "€84.20" in summary.summary_text and "Visa •••• 4242" in summary.summary_text

    result = payments_service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text="/affirm"
    )

    assert result.status == PaymentStatus.SUCCEEDED
    assert result.payment_intent_id and result.payment_intent_id.startswith("pi_")
    with payments_service.session_factory() as session:
        bill = session.get(Bill, bills["electricity"])
        assert bill is not None and bill.status == "paid"
        consent = session.execute(
            select(Consent).where(Consent.payment_id == summary.payment_id)
        ).scalar_one()
        assert consent.summary_text == summary.summary_text and consent.confirmation == "/affirm"
        assert verify_consent(
            payments_service.config.consent_signing_key, consent, amount_minor=8420, currency="EUR"
        )
        statuses = session.execute(
            select(AuditLogEntry.to_status)
            .where(AuditLogEntry.payment_id == summary.payment_id, AuditLogEntry.to_status.is_not(None))
            .order_by(AuditLogEntry.id)
        ).scalars()
        assert list(statuses) == ["draft", "approved", "processing", "succeeded"]
        assert verify_audit_chain(session).ok
    assert payments_service.open_bills(user_id=user_id) == []


def test_confirming_again_returns_first_result_without_a_second_charge(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="20", date_text=None
    )
    first = payments_service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text="ok"
    )
    second = payments_service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text="ok"
    )
    assert first == second
    assert _intents_for(stripe_sandbox, payments_service, summary.payment_id) == [first.payment_intent_id]


def test_declined_card_fails_with_reason(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, card_number=VISA_DECLINES
    )
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="10 €", date_text=None
    )
    result = payments_service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text="yes"
    )
    assert result.status == PaymentStatus.FAILED
    assert result.failure_code == "card_declined"
    assert result.failure_message and "declined" in result.failure_message
    # A failed payment frees the bill again.
    assert payments_service.open_bills(user_id=user_id)[0].outstanding.amount_minor == 8420


def test_three_d_secure_gives_a_link_then_settles(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, card_number=VISA_3DS
    )
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    result = payments_service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text="yes"
    )
    assert result.status == PaymentStatus.REQUIRES_ACTION
    assert result.next_action_url and result.payment_intent_id
    settled = payments_service.complete_sandbox_authentication(
        user_id=user_id, payment_id=summary.payment_id, success=True
    )
    assert settled.status == PaymentStatus.SUCCEEDED


def test_timeout_leaves_payment_unknown_then_reconciles(
    payments_service: PaymentsService, silent_server: SilentServer, stripe_sandbox: str
) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    silent = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=sandbox_gateway(silent_server.base_url, timeout_seconds=0.5),
        config=ServiceConfig(confirm_wait=timedelta(seconds=1)),
    )
    summary = silent.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    result = silent.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="yes")
    assert result.status == PaymentStatus.UNKNOWN
    assert silent_server.accepted == 1  # one attempt, no retry with another key

    # The unknown payment still reserves the bill: nothing else can be charged for it meanwhile.
    assert payments_service.open_bills(user_id=user_id) == []
    # Within the charge's deadline (timeout + grace) a request still on its way could create it:
    # reconciliation leaves the payment alone.
    report = payments_service.reconcile_unknown_payments(older_than=timedelta(0))
    assert summary.payment_id not in report.settled
    # After it, Stripe (the real sandbox) has no charge under the key → failed.
    later = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=payments_service.config,
        clock=lambda: utcnow() + payments_service.config.charge_deadline + timedelta(seconds=1),
    )
    report = later.reconcile_unknown_payments(older_than=timedelta(0))
    assert report.settled[summary.payment_id] == PaymentStatus.FAILED
    assert _intents_for(stripe_sandbox, payments_service, summary.payment_id) == []


def test_reconcile_finds_a_charge_made_before_the_answer_was_lost(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    result = payments_service.confirm_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text="yes"
    )
    assert result.status == PaymentStatus.SUCCEEDED
    # Simulate the lost answer: the charge exists at Stripe but our row only knows "unknown".
    with payments_service.session_factory.begin() as session:
        from sqlalchemy import update

        session.execute(
            update(Payment)
            .where(Payment.id == summary.payment_id)
            .values(status="unknown", payment_intent_id=None)
        )
    report = payments_service.reconcile_unknown_payments(older_than=timedelta(0))
    assert report.settled[summary.payment_id] == PaymentStatus.SUCCEEDED
    refreshed = payments_service.get_payment(user_id=user_id, payment_id=summary.payment_id)
    assert refreshed.payment_intent_id == result.payment_intent_id


def test_fifty_concurrent_confirmations_charge_once(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    barrier = threading.Barrier(50)

    def confirm() -> PaymentStatus:
        barrier.wait()
        return payments_service.confirm_payment(
            user_id=user_id, payment_id=summary.payment_id, consent_text="yes"
        ).status

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda _: confirm(), range(50)))

    assert set(statuses) == {PaymentStatus.SUCCEEDED}
    assert len(_intents_for(stripe_sandbox, payments_service, summary.payment_id)) == 1
    with payments_service.session_factory() as session:
        rows = session.execute(select(Payment).where(Payment.bill_id == bills["electricity"])).scalars().all()
        assert [(p.status, p.amount_minor) for p in rows] == [("succeeded", 8420)]
        assert (
            len(session.execute(select(Consent).where(Consent.payment_id == summary.payment_id)).all()) == 1
        )
