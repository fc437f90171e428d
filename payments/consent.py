"""Signed consent receipts: the evidence behind one charge, for a dispute.

A receipt (version 2) binds, under an HMAC-SHA256 server key: the exact summary the user saw,
what they sent to confirm it, the Telegram callback id of their tap and when the bot received it,
the user, biller and bill reference, amount and currency, the card (brand, last four, the
processor's payment-method id), the payment's idempotency key and the time of confirmation. Its
SHA-256 goes into the hash-chained audit log in the same transaction (`consent.recorded`), so a
receipt can neither be edited nor quietly replaced. The PaymentIntent id only exists once the
gateway answers: `bind_intent` then signs (receipt hash, PaymentIntent id) and chains that too,
called by the state machine wherever an intent is first recorded (the charge's answer, or one
found later by reconciliation, a webhook, the 3-D Secure return or the worker).

Version 1 rows (before receipts) keep their original signature over payment, user, amount,
summary, confirmation and time, and still verify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import (
    AuditLogEntry,
    Bill,
    Biller,
    Consent,
    Mandate,
    MandateConsent,
    Payment,
    SavedPaymentMethod,
)
from payments.audit import append_audit, verify_audit_chain

RECEIPT_VERSION = 2


@dataclass(frozen=True)
class TapEvidence:
    """The user's tap on Confirm as the chat platform reported it (Telegram's callback query)."""

    callback_id: str | None = None
    tapped_at: datetime | None = None


class ReceiptProblem(StrEnum):
    """Why a consent receipt does not hold up."""

    SIGNATURE = "signature_mismatch"  # the row changed since it was signed (or another key signed it)
    NOT_CHAINED = "not_in_audit_log"  # no audit row carries this receipt's hash
    CHAIN_BROKEN = "audit_chain_broken"  # the audit log itself does not verify
    INTENT_SIGNATURE = "intent_signature_mismatch"  # the PaymentIntent binding was changed
    INTENT_MISMATCH = "intent_differs_from_payment"  # the payment now names another PaymentIntent
    # An automatic charge: the mandate consent it rests on does not verify, or is not the one referenced.
    MANDATE_CONSENT = "mandate_consent_mismatch"


@dataclass(frozen=True)
class ReceiptCheck:
    """The result of verifying one consent receipt."""

    consent_id: int
    ok: bool
    problems: tuple[ReceiptProblem, ...] = ()
    audit_row_id: int | None = None
    # The PaymentIntent signed into the receipt (None: not charged yet, or a version 1 consent).
    payment_intent_id: str | None = None


@dataclass(frozen=True)
class ConsentReceipt:
    """Everything a dispute needs about one consent, as stored (values, no wording)."""

    consent_id: int
    version: int
    payment_id: int
    user_id: int
    summary_text: str
    confirmation: str
    confirmed_at: datetime
    signature: str
    receipt: dict[str, Any] = field(default_factory=dict)
    receipt_hash: str | None = None
    payment_intent_id: str | None = None
    payment_status: str = ""
    audit_rows: tuple[tuple[int, str, str], ...] = ()  # (id, event, hash) of the payment's rows


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite gives back naive datetimes; storage is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def consent_message(
    *, payment_id: int, user_id: int, amount_minor: int, currency: str, summary_text: str, confirmation: str,
    confirmed_at: datetime,
) -> bytes:  # fmt: skip
    """The canonical bytes a version 1 consent signature covers."""
    return _canonical(
        {
            "payment_id": payment_id,
            "user_id": user_id,
            "amount_minor": amount_minor,
            "currency": currency,
            "summary": summary_text,
            "confirmation": confirmation,
            "at": _iso(confirmed_at),
        }
    )


def receipt_message(receipt: dict[str, Any], *, summary_text: str, confirmation: str) -> bytes:
    """The canonical bytes a version 2 receipt signature covers: its fields, summary and confirmation."""
    return _canonical({**receipt, "summary": summary_text, "confirmation": confirmation})


def sign(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of `message` as hex."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _receipt_fields(session: Session, payment: Payment, tap: TapEvidence, now: datetime) -> dict[str, Any]:
    bill, biller = session.execute(
        select(Bill, Biller).join(Biller, Bill.biller_id == Biller.id).where(Bill.id == payment.bill_id)
    ).one()
    card = session.get(SavedPaymentMethod, payment.payment_method_id)
    assert card is not None
    return {
        "v": RECEIPT_VERSION,
        "payment_id": payment.id,
        "user_id": payment.user_id,
        "biller": biller.name,
        "bill_reference": bill.reference,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "card": {"brand": card.brand, "last4": card.last4, "payment_method": card.stripe_payment_method_id},
        "idempotency_key": payment.idempotency_key,
        "callback_id": tap.callback_id,
        "tapped_at": _iso(tap.tapped_at),
        "confirmed_at": _iso(now),
    }


def record_consent(
    session: Session, *, payment: Payment, confirmation: str, now: datetime, key: bytes, tap: TapEvidence,
    mandate: dict[str, Any] | None = None,
) -> Consent:  # fmt: skip
    """Sign and keep the receipt of this confirmation, and chain its hash into the audit log.

    `mandate`: an automatic charge's standing mandate (its id, the consent it runs under and that
    consent's hash, payments.autopay), signed into the receipt as what the user agreed to.
    """
    receipt = _receipt_fields(session, payment, tap, now)
    if mandate is not None:
        receipt["mandate"] = mandate
    message = receipt_message(receipt, summary_text=payment.summary_text, confirmation=confirmation)
    receipt_hash = hashlib.sha256(message).hexdigest()
    consent = Consent(
        payment_id=payment.id,
        user_id=payment.user_id,
        summary_text=payment.summary_text,
        confirmation=confirmation,
        confirmed_at=now,
        signature=sign(key, message),
        version=RECEIPT_VERSION,
        receipt=receipt,
        receipt_hash=receipt_hash,
    )
    session.add(consent)
    session.flush()
    append_audit(
        session,
        event="consent.recorded",
        payment_id=payment.id,
        user_id=payment.user_id,
        data={"consent_id": consent.id, "receipt_sha256": receipt_hash},
    )
    return consent


def bind_intent(session: Session, *, payment: Payment, key: bytes) -> bool:
    """Sign the PaymentIntent the charge created into the payment's receipt (once); True if bound now."""
    if not payment.payment_intent_id:
        return False
    consent = session.execute(select(Consent).where(Consent.payment_id == payment.id)).scalar_one_or_none()
    if consent is None or consent.receipt_hash is None or consent.payment_intent_id:
        return False
    consent.payment_intent_id = payment.payment_intent_id
    consent.intent_signature = sign(key, _intent_message(consent.receipt_hash, payment.payment_intent_id))
    append_audit(
        session,
        event="consent.intent_bound",
        payment_id=payment.id,
        user_id=payment.user_id,
        data={
            "consent_id": consent.id,
            "receipt_sha256": consent.receipt_hash,
            "payment_intent": payment.payment_intent_id,
        },
    )
    return True


def _intent_message(receipt_hash: str, payment_intent_id: str) -> bytes:
    return _canonical({"receipt_sha256": receipt_hash, "payment_intent": payment_intent_id})


def _signed_message(consent: Consent, payment: Payment) -> bytes:
    if consent.version >= RECEIPT_VERSION:
        return receipt_message(
            dict(consent.receipt or {}), summary_text=consent.summary_text, confirmation=consent.confirmation
        )
    return consent_message(
        payment_id=consent.payment_id,
        user_id=consent.user_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        summary_text=consent.summary_text,
        confirmation=consent.confirmation,
        confirmed_at=consent.confirmed_at,
    )


def verify_consent(key: bytes, consent: Consent, *, amount_minor: int, currency: str) -> bool:
    """True when the consent row is unchanged since it was signed, for this amount."""
    if consent.version >= RECEIPT_VERSION:
        receipt = dict(consent.receipt or {})
        if (receipt.get("amount_minor"), receipt.get("currency")) != (amount_minor, currency):
            return False
        message = receipt_message(
            receipt, summary_text=consent.summary_text, confirmation=consent.confirmation
        )
    else:
        message = consent_message(
            payment_id=consent.payment_id,
            user_id=consent.user_id,
            amount_minor=amount_minor,
            currency=currency,
            summary_text=consent.summary_text,
            confirmation=consent.confirmation,
            confirmed_at=consent.confirmed_at,
        )
    return hmac.compare_digest(sign(key, message), consent.signature)


def _load(session: Session, consent_id: int) -> tuple[Consent, Payment] | None:
    consent = session.get(Consent, consent_id)
    if consent is None:
        return None
    payment = session.get(Payment, consent.payment_id)
    assert payment is not None
    return consent, payment


def verify_receipt(session: Session, *, consent_id: int, key: bytes) -> ReceiptCheck | None:
    """Check a receipt's signature, that its hash is in an intact audit chain, and its PaymentIntent.

    None when there is no such consent.
    """
    loaded = _load(session, consent_id)
    if loaded is None:
        return None
    consent, payment = loaded
    problems: list[ReceiptProblem] = []
    message = _signed_message(consent, payment)
    if not hmac.compare_digest(sign(key, message), consent.signature):
        problems.append(ReceiptProblem.SIGNATURE)
    row_id: int | None = None
    if consent.version >= RECEIPT_VERSION:
        # The hash of what the row holds now, not the stored hash: an edit shows here too.
        recomputed = hashlib.sha256(message).hexdigest()
        rows = session.execute(
            select(AuditLogEntry).where(
                AuditLogEntry.payment_id == consent.payment_id, AuditLogEntry.event == "consent.recorded"
            )
        ).scalars()
        row_id = next((r.id for r in rows if r.data.get("receipt_sha256") == recomputed), None)
        if row_id is None:
            problems.append(ReceiptProblem.NOT_CHAINED)
        if consent.payment_intent_id is not None:
            expected = sign(key, _intent_message(recomputed, consent.payment_intent_id))
            if not hmac.compare_digest(expected, consent.intent_signature or ""):
                problems.append(ReceiptProblem.INTENT_SIGNATURE)
            if payment.payment_intent_id != consent.payment_intent_id:
                problems.append(ReceiptProblem.INTENT_MISMATCH)
    if not verify_audit_chain(session).ok:
        problems.append(ReceiptProblem.CHAIN_BROKEN)
    if not _mandate_consent_holds(session, consent, key):
        problems.append(ReceiptProblem.MANDATE_CONSENT)
    return ReceiptCheck(
        consent_id=consent.id,
        ok=not problems,
        problems=tuple(problems),
        audit_row_id=row_id,
        payment_intent_id=consent.payment_intent_id,
    )


def mandate_consent_message(offer: MandateConsent, *, biller: str) -> bytes:
    """The canonical bytes a mandate consent's signature covers (terms, summary, confirmation, times)."""
    body: dict[str, Any] = {
        "kind": "mandate",
        "mandate_id": offer.mandate_id,
        "consent_id": offer.id,
        "user_id": offer.user_id,
        "biller": biller,
        "payment_method_id": offer.payment_method_id,
        "cap_minor": offer.cap_minor,
        "budget_minor": offer.budget_minor,
        "currency": offer.currency,
        "period": "calendar_month",
        "expires_on": offer.expires_on.isoformat(),
        "summary": offer.summary_text,
        "confirmation": offer.confirmation or "",
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify_mandate_consent(session: Session, *, consent_id: int, key: bytes) -> bool:
    """True when a confirmed mandate consent is unchanged since it was signed (signature and hash)."""
    offer = session.get(MandateConsent, consent_id)
    if offer is None or offer.signature is None:
        return False
    mandate = session.get(Mandate, offer.mandate_id)
    assert mandate is not None
    biller = session.get(Biller, mandate.biller_id)
    assert biller is not None
    message = mandate_consent_message(offer, biller=biller.name)
    signed = hmac.compare_digest(hmac.new(key, message, hashlib.sha256).hexdigest(), offer.signature)
    return signed and hashlib.sha256(message).hexdigest() == offer.receipt_hash


def _mandate_consent_holds(session: Session, consent: Consent, key: bytes) -> bool:
    """True unless the receipt is an automatic charge's whose mandate consent (id, sha256 it names)
    is missing, altered since signed, or not the consent referenced."""
    reference = (consent.receipt or {}).get("mandate")
    if not reference:
        return True
    offer = session.get(MandateConsent, int(reference.get("consent_id", 0)))
    if offer is None or not verify_mandate_consent(session, consent_id=offer.id, key=key):
        return False
    return hmac.compare_digest(str(reference.get("consent_sha256", "")), offer.receipt_hash or "")


def consent_receipt(session: Session, *, consent_id: int) -> ConsentReceipt | None:
    """The stored receipt of one consent with its payment's audit trail; None when there is none."""
    loaded = _load(session, consent_id)
    if loaded is None:
        return None
    consent, payment = loaded
    trail = session.execute(
        select(AuditLogEntry.id, AuditLogEntry.event, AuditLogEntry.hash)
        .where(AuditLogEntry.payment_id == payment.id)
        .order_by(AuditLogEntry.id)
    ).all()
    return ConsentReceipt(
        consent_id=consent.id,
        version=consent.version,
        payment_id=consent.payment_id,
        user_id=consent.user_id,
        summary_text=consent.summary_text,
        confirmation=consent.confirmation,
        confirmed_at=consent.confirmed_at,
        signature=consent.signature,
        receipt=dict(consent.receipt or {}),
        receipt_hash=consent.receipt_hash,
        payment_intent_id=consent.payment_intent_id or payment.payment_intent_id,
        payment_status=payment.status,
        audit_rows=tuple((int(r[0]), str(r[1]), str(r[2])) for r in trail),
    )
