"""Issuing a summary as its conversation's one live offer (the half drafting needs of payments.confirming).

Kept apart from payments.confirming so drafting (which issues offers) and confirming (which checks
and closes them, and calls drafting to cancel) do not import each other.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from db.models import SummaryOffer
from payments.statuses import OfferClosedReason

NONCE_BYTES = 12  # 96 random bits; 16 URL-safe characters keep the button payload short


def digest(text: str) -> str:
    """SHA-256 (hex) of `text`: what is stored of a nonce or of a summary."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def summary_digest(summary_text: str) -> str:
    """The digest a summary is compared by (surrounding whitespace is not part of what a user reads)."""
    return digest(summary_text.strip())


def issue_offer(
    session: Session, *, user_id: int, conversation: str, payment_id: int, summary_text: str, now: datetime
) -> str:
    """Record the summary just drafted as the conversation's live offer; return its new nonce.

    Runs in the drafting transaction: the conversation's earlier offers are closed as superseded in
    the same commit that makes the new one live, so there is never a moment with two live offers.
    """
    session.execute(
        update(SummaryOffer)
        .where(
            SummaryOffer.user_id == user_id,
            SummaryOffer.conversation == conversation,
            SummaryOffer.closed_at.is_(None),
        )
        .values(closed_at=now, closed_reason=OfferClosedReason.SUPERSEDED.value)
    )
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    session.add(
        SummaryOffer(
            payment_id=payment_id,
            user_id=user_id,
            conversation=conversation,
            nonce_sha256=digest(nonce),
            summary_sha256=summary_digest(summary_text),
            issued_at=now,
        )
    )
    return nonce
