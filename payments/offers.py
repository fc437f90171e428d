"""Issuing the offer behind a summary shown in chat: its one-time nonce and the digests kept of it.

Drafting calls `issue_offer` in the transaction that records a draft for a conversation; the rules
for acting on an offer live in payments.confirming.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from db.models import SummaryOffer
from payments.statuses import OfferClosedReason

NONCE_BYTES = 12  # 96 random bits; 16 URL-safe characters keep the button payload short


@dataclass(frozen=True)
class ReissuedOffer:
    """A summary offered again under a fresh nonce (its tapped offer closed): what its buttons,
    sent again, carry (payments.confirming.Confirmations.reissue_unanswered_offer)."""

    payment_id: int
    nonce: str


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
    return _add_offer(
        session,
        payment_id=payment_id,
        user_id=user_id,
        conversation=conversation,
        summary_sha256=summary_digest(summary_text),
        now=now,
        accepts_typed_yes=True,
    )


def _add_offer(
    session: Session,
    *,
    payment_id: int,
    user_id: int,
    conversation: str,
    summary_sha256: str,
    now: datetime,
    accepts_typed_yes: bool,
) -> str:
    """Add one live offer under a fresh nonce (only its SHA-256 is stored); return the nonce."""
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    session.add(
        SummaryOffer(
            payment_id=payment_id,
            user_id=user_id,
            conversation=conversation,
            nonce_sha256=digest(nonce),
            summary_sha256=summary_sha256,
            issued_at=now,
            accepts_typed_yes=accepts_typed_yes,
        )
    )
    return nonce


def reissue_offer(session: Session, closed: SummaryOffer, *, now: datetime) -> str:
    """Offer the summary of `closed` (just closed) again, same draft and same text, under a new
    nonce; return it. Runs in the transaction that closed it: one live offer at any moment. Only
    that nonce confirms it: a typed "yes" on its way since before the claim would otherwise charge
    the summary the user was just told is not carried out (attack21)."""
    return _add_offer(
        session,
        payment_id=closed.payment_id,
        user_id=closed.user_id,
        conversation=closed.conversation,
        summary_sha256=closed.summary_sha256,
        now=now,
        accepts_typed_yes=False,  # a typed "yes" may predate this offer: its nonce only
    )
