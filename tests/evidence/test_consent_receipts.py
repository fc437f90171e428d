"""Consent receipts: every field a dispute needs, signed, chained into the audit log, checkable.

Real database and the real stripe SDK against the sandbox. The receipt of a tapped Confirm holds the
callback id and tap time, the exact summary, biller, amount, card, idempotency key and (once
charged) the PaymentIntent; a changed receipt, a receipt missing from the chain or a swapped
PaymentIntent fails `verify_receipt` and `paychat consent verify` (exit 1); old version 1
consents still verify.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from db.models import AuditLogEntry, Consent, Payment
from paychat.cli import app
from payments.consent import ReceiptProblem, TapEvidence, consent_message, sign, verify_receipt
from payments.service import PaymentsService
from tests.helpers.factories import edge_summary, make_paying_user

pytestmark = pytest.mark.sandbox
# A changed receipt: its signature, its chained hash and the PaymentIntent bound to that hash all fail.
CHANGED = {ReceiptProblem.SIGNATURE, ReceiptProblem.NOT_CHAINED, ReceiptProblem.INTENT_SIGNATURE}
TAP = TapEvidence(callback_id="4382011930044128907", tapped_at=datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC))


def _pay(service: PaymentsService, tap: TapEvidence = TAP) -> tuple[int, int]:
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    summary = service.prepare_payment(
        user_id=user_id, biller_text=None, bill_id=bills["electricity"], amount_text=None,
        date_text=None, render_summary=edge_summary,
    )  # fmt: skip
    result = service.confirm_payment(
        user_id=user_id,
        payment_id=summary.payment_id,
        consent_text=summary.summary_text,
        confirmation="/affirm",
        tap=tap,
    )
    assert result.status == "succeeded"
    with service.session_factory() as session:
        consent_id = session.execute(
            select(Consent.id).where(Consent.payment_id == summary.payment_id)
        ).scalar_one()
    return summary.payment_id, consent_id


def _check(service: PaymentsService, consent_id: int) -> tuple[ReceiptProblem, ...]:
    with service.session_factory() as session:
        check = verify_receipt(session, consent_id=consent_id, key=service.config.consent_signing_key)
        assert check is not None
        return check.problems


def test_a_receipt_holds_every_field_and_is_chained(file_service: tuple[str, PaymentsService]) -> None:
    _, service = file_service
    payment_id, consent_id = _pay(service)
    with service.session_factory() as session:
        consent = session.get(Consent, consent_id)
        payment = session.get(Payment, payment_id)
        assert consent is not None and payment is not None
        receipt = consent.receipt or {}
        assert consent.version == 2
        assert receipt["callback_id"] == TAP.callback_id
        assert receipt["tapped_at"] == "2026-11-30T12:00:05.000000+00:00"
        assert receipt["amount_minor"] == payment.amount_minor and receipt["currency"] == "EUR"
        assert receipt["idempotency_key"] == payment.idempotency_key
        assert receipt["card"]["last4"] == "4242" and receipt["card"]["payment_method"].startswith("pm_")
        assert receipt["biller"] and consent.summary_text == payment.summary_text
        assert consent.payment_intent_id == payment.payment_intent_id and consent.payment_intent_id
        chained = session.execute(
            select(AuditLogEntry.data).where(
                AuditLogEntry.event == "consent.recorded", AuditLogEntry.payment_id == payment_id
            )
        ).scalar_one()
        assert chained == {"consent_id": consent_id, "receipt_sha256": consent.receipt_hash}
    assert _check(service, consent_id) == ()


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("summary_text", "Pay €1.00 to someone else", CHANGED),
        ("confirmation", "no", CHANGED),
        ("payment_intent_id", "pi_forged", {ReceiptProblem.INTENT_SIGNATURE, ReceiptProblem.INTENT_MISMATCH}),
    ],
)
def test_a_changed_receipt_fails(
    file_service: tuple[str, PaymentsService], column: str, value: str, expected: set[ReceiptProblem]
) -> None:
    _, service = file_service
    _, consent_id = _pay(service)
    with service.session_factory.begin() as session:
        session.execute(update(Consent).where(Consent.id == consent_id).values({column: value}))
    assert set(_check(service, consent_id)) == expected


def test_a_receipt_whose_audit_row_is_gone_fails(file_service: tuple[str, PaymentsService]) -> None:
    _, service = file_service
    _, consent_id = _pay(service)
    with service.session_factory.begin() as session:
        session.execute(text("DROP TRIGGER audit_log_no_delete"))
        session.execute(text("DELETE FROM audit_log WHERE event = 'consent.recorded'"))
    assert set(_check(service, consent_id)) == {ReceiptProblem.NOT_CHAINED, ReceiptProblem.CHAIN_BROKEN}


def test_a_version_1_consent_still_verifies(file_service: tuple[str, PaymentsService]) -> None:
    _, service = file_service
    payment_id, consent_id = _pay(service)
    key = service.config.consent_signing_key
    with service.session_factory.begin() as session:  # rewrite it as an old row would have been signed
        consent = session.get(Consent, consent_id)
        payment = session.get(Payment, payment_id)
        assert consent is not None and payment is not None
        old = consent_message(
            payment_id=payment_id, user_id=consent.user_id, amount_minor=payment.amount_minor,
            currency=payment.currency, summary_text=consent.summary_text, confirmation=consent.confirmation,
            confirmed_at=consent.confirmed_at,
        )  # fmt: skip
        consent.version, consent.receipt, consent.receipt_hash = 1, None, None
        consent.payment_intent_id = consent.intent_signature = None
        consent.signature = sign(key, old)
    assert _check(service, consent_id) == ()
    with service.session_factory.begin() as session:
        session.execute(update(Payment).where(Payment.id == payment_id).values(amount_minor=1))
    assert _check(service, consent_id) == (ReceiptProblem.SIGNATURE,)


def test_paychat_consent_show_and_verify(file_service: tuple[str, PaymentsService]) -> None:
    url, service = file_service
    payment_id, consent_id = _pay(service)
    runner = CliRunner()
    shown = runner.invoke(app, ["consent", "show", str(consent_id), "--database-url", url])
    assert shown.exit_code == 0, shown.output
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        for expected in (
            TAP.callback_id,
            payment.idempotency_key,
            payment.payment_intent_id,
            "€84.20",
            "4242",
        ):
            assert str(expected) in shown.output
        assert "consent.recorded" in shown.output and payment.summary_text.splitlines()[0] in shown.output
    ok = runner.invoke(app, ["consent", "verify", str(consent_id), "--database-url", url])
    assert ok.exit_code == 0 and "ok" in ok.output
    with service.session_factory.begin() as session:
        session.execute(update(Consent).where(Consent.id == consent_id).values(summary_text="Pay €0.01"))
    bad = runner.invoke(app, ["consent", "verify", str(consent_id), "--database-url", url])
    assert bad.exit_code == 1 and "signature_mismatch" in bad.output
    assert runner.invoke(app, ["consent", "verify", "999999", "--database-url", url]).exit_code == 2


def test_a_typed_confirmation_has_no_tap(file_service: tuple[str, PaymentsService]) -> None:
    _, service = file_service
    _, consent_id = _pay(service, TapEvidence())
    with service.session_factory() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None and consent.receipt is not None
        assert consent.receipt["callback_id"] is None and consent.receipt["tapped_at"] is None
    assert _check(service, consent_id) == ()
