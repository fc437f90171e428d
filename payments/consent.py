"""Signed consent records: the exact summary a user saw and their confirmation, HMAC-signed.

The signature binds payment, user, amount, summary and confirmation with a server key, so a
consent row edited after the fact no longer verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from db.models import Consent


def consent_message(
    *, payment_id: int, user_id: int, amount_minor: int, currency: str, summary_text: str, confirmation: str,
    confirmed_at: datetime,
) -> bytes:  # fmt: skip
    """The canonical bytes a consent signature covers."""
    if confirmed_at.tzinfo is None:
        confirmed_at = confirmed_at.replace(tzinfo=UTC)
    body = {
        "payment_id": payment_id,
        "user_id": user_id,
        "amount_minor": amount_minor,
        "currency": currency,
        "summary": summary_text,
        "confirmation": confirmation,
        "at": confirmed_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of `message` as hex."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_consent(key: bytes, consent: Consent, *, amount_minor: int, currency: str) -> bool:
    """True when the consent row is unchanged since it was signed for this amount."""
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
