"""Summaries shown in chat as one-time offers: only the live summary's own Confirm moves money.

Every summary a conversation is shown is an offer (`summary_offers`): the draft it names, the
SHA-256 of a random nonce its Confirm and Cancel buttons carry, and the SHA-256 of its exact text.
Issuing a summary closes the conversation's earlier offers ("superseded"), so a tap under an older
summary — before a correction — names an offer that is closed and is refused with a code; the
live summary is left exactly as it was. A nonce is compared in constant time, bound to the user
and the conversation it was issued to, and closed by its first accepted use (a compare-and-set),
so a replayed or concurrent tap charges nothing more. The consent kept is the text the edge hands
back, accepted only when it is the text issued for that draft. A typed "yes" carries no nonce: it
confirms the conversation's live offer, never a superseded one, and never when it names an
amount of its own ("sure, 5 please"). Asking to change the summary withdraws its offer. A tap
whose answer was lost is claimed before the user is told it was not carried out: its offer is
closed and the same summary offered again under a fresh nonce (`reissue_unanswered_offer`).
"""

from __future__ import annotations

import hmac

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Payment, SummaryOffer
from payments.charging import Charging
from payments.consent import TapEvidence
from payments.drafting import Drafting
from payments.errors import (
    ConfirmationAmountError,
    ConfirmationInvalidError,
    ConfirmationStaleError,
    ConfirmationUsedError,
    ConsentMismatchError,
    ConsentMissingError,
    PaymentNotFoundError,
)
from payments.money import unread_amount
from payments.offers import ReissuedOffer, digest, reissue_offer, summary_digest
from payments.statuses import OfferClosedReason, PaymentStatus
from payments.unit_of_work import UnitOfWork, lock_user, owned_payment
from payments.views import PaymentResult, PaymentView


class Confirmations:
    """Confirm or cancel the summary a user acted on, only when it is the live one."""

    def __init__(self, uow: UnitOfWork, drafting: Drafting, charging: Charging) -> None:
        self._uow = uow
        self._drafting = drafting
        self._charging = charging

    def confirm_shown_summary(
        self,
        *,
        user_id: int,
        conversation: str,
        payment_id: int,
        nonce: str | None,
        shown_text: str,
        confirmation: str = "",
        tap: TapEvidence | None = None,
    ) -> PaymentResult:
        """Charge (or schedule) the draft of the live summary the user confirmed, once.

        `nonce` comes from the tapped button (None for a typed "yes"), `shown_text` is the summary
        the edge showed. Refused without any change: another summary than the live one
        (ConfirmationStaleError), a nonce already used (ConfirmationUsedError), a nonce this user
        was not given here (ConfirmationInvalidError), a text other than the one issued
        (ConsentMismatchError).
        """
        if nonce is None and (named := unread_amount(confirmation)) is not None:
            # "sure, 5 please", "confirm 4": a typed yes that names an amount may mean another one
            # than the summary's. Charge nothing; the summary stays live to confirm as shown.
            raise ConfirmationAmountError(payment_id=payment_id, text=named)
        tap = tap or TapEvidence()
        with self._uow.tx() as session:
            # The user's row first, as approval takes it: the payment is read under it, and the
            # step-up gate runs in this same transaction (one commit with the offer's use, issue 12).
            user = lock_user(session, user_id)
            # Held for the transaction: the checks below and the gate read it once (identity map).
            draft = session.get(Payment, payment_id)
            offer = self._live_offer(session, user_id, conversation, payment_id, nonce)
            if not hmac.compare_digest(summary_digest(shown_text), offer.summary_sha256):
                raise ConsentMismatchError(payment_id=payment_id)
            self._close(session, offer, OfferClosedReason.USED)
            consent_text = owned_payment(session, user_id, offer.payment_id).summary_text
            if not consent_text.strip():
                raise ConsentMissingError(payment_id=payment_id)
            gated = self._charging.step_up.decide(
                session, user, payment_id, confirmation=confirmation.strip() or consent_text, tap=tap
            )
            del draft
        # The consent kept is the payment's own summary, which the check above proved is the text shown.
        return self._charging.confirm_payment(
            user_id=user_id,
            payment_id=payment_id,
            consent_text=consent_text,
            confirmation=confirmation,
            tap=tap,
            gated=gated,
        )

    def cancel_shown_summary(
        self, *, user_id: int, conversation: str, payment_id: int, nonce: str | None
    ) -> PaymentView:
        """Cancel the draft of the live summary whose Cancel was tapped (same refusals as confirming)."""
        with self._uow.tx() as session:
            offer = self._live_offer(session, user_id, conversation, payment_id, nonce)
            self._close(session, offer, OfferClosedReason.CANCELLED)
            return self._drafting.cancel(session, user_id, payment_id)

    def reissue_unanswered_offer(
        self, *, user_id: int, conversation: str, payment_id: int, nonce: str | None
    ) -> ReissuedOffer | None:
        """Claim the summary a Confirm or Cancel was tapped under when that tap's answer was lost.

        Under the user's lock (the one `confirm_shown_summary` takes first), a live offer is closed
        ("superseded") and a fresh one is issued for the same draft and the same shown text: the
        lost tap, still on its way or waiting for that lock, then finds its offer closed and charges
        nothing, so "not carried out" is true for good. The fresh nonce is what sending it again
        carries. None for every refusal `confirm_shown_summary` would give (used, superseded,
        cancelled, foreign, no draft): that tap was (or may have been) carried out, or never could be.
        """
        if not nonce:
            return None  # only a tap (its nonce) can be claimed; a typed "yes" is no tap (attack21)
        try:
            with self._uow.tx() as session:
                lock_user(session, user_id)
                offer = self._live_offer(session, user_id, conversation, payment_id, nonce)
                self._close(session, offer, OfferClosedReason.SUPERSEDED)
                fresh = reissue_offer(session, offer, now=self._uow.now())
        except (
            ConfirmationStaleError,
            ConfirmationUsedError,
            ConfirmationInvalidError,
            PaymentNotFoundError,
        ):
            return None
        return ReissuedOffer(payment_id=payment_id, nonce=fresh)

    def withdraw_offers(self, *, user_id: int, conversation: str) -> int:
        """Close the conversation's open offers (the user asked to change the summary): a typed
        "yes" or a tap afterwards charges nothing until a new summary is shown. Returns how many."""
        with self._uow.tx() as session:
            closed = session.execute(
                update(SummaryOffer)
                .where(
                    SummaryOffer.user_id == user_id,
                    SummaryOffer.conversation == conversation,
                    SummaryOffer.closed_at.is_(None),
                )
                .values(closed_at=self._uow.now(), closed_reason=OfferClosedReason.SUPERSEDED.value)
                .execution_options(synchronize_session=False)
            )
            return int(closed.rowcount)  # type: ignore[attr-defined]

    def _live_offer(
        self, session: Session, user_id: int, conversation: str, payment_id: int, nonce: str | None
    ) -> SummaryOffer:
        """The offer the user acted on, when it is live and its draft still waits; refused otherwise."""
        offer = (
            self._offer_by_nonce(session, user_id, conversation, payment_id, nonce)
            if nonce
            else self._latest_offer(session, user_id, conversation)
        )
        if offer is None or offer.payment_id != payment_id:
            raise ConfirmationStaleError(payment_id=payment_id)
        if offer.closed_reason == OfferClosedReason.USED.value:
            # Where the payment stands now, so the edge says what was (or was not) charged.
            status = owned_payment(session, user_id, payment_id).status
            raise ConfirmationUsedError(
                payment_id=payment_id, payment_status=status, payment_over=status != PaymentStatus.DRAFT.value
            )
        if offer.closed_at is not None or not (nonce or offer.accepts_typed_yes):
            raise ConfirmationStaleError(payment_id=payment_id)
        status = owned_payment(session, user_id, payment_id).status
        if status != PaymentStatus.DRAFT.value:
            # No longer waiting (cancelled, expired, confirmed elsewhere): the edge ends it too.
            raise ConfirmationStaleError(payment_id=payment_id, payment_status=status, payment_over=True)
        return offer

    @staticmethod
    def _offer_by_nonce(
        session: Session, user_id: int, conversation: str, payment_id: int, nonce: str
    ) -> SummaryOffer:
        """The user's offer of `payment_id` in this conversation whose nonce matches (constant time)."""
        given = digest(nonce)
        matched: SummaryOffer | None = None
        offers = session.execute(
            select(SummaryOffer).where(SummaryOffer.payment_id == payment_id, SummaryOffer.user_id == user_id)
        ).scalars()
        for offer in offers:
            # Every candidate is compared, so the time taken does not tell which one matched.
            if hmac.compare_digest(offer.nonce_sha256, given) and offer.conversation == conversation:
                matched = offer
        if matched is None:
            raise ConfirmationInvalidError(payment_id=payment_id)
        return matched

    @staticmethod
    def _latest_offer(session: Session, user_id: int, conversation: str) -> SummaryOffer | None:
        """The conversation's newest offer (closed or not): what a typed "yes" refers to."""
        return session.execute(
            select(SummaryOffer)
            .where(SummaryOffer.user_id == user_id, SummaryOffer.conversation == conversation)
            .order_by(SummaryOffer.id.desc())
            .limit(1)
        ).scalar_one_or_none()

    def _close(self, session: Session, offer: SummaryOffer, reason: OfferClosedReason) -> None:
        """Close a live offer once (compare-and-set): a concurrent second use finds it closed."""
        closed = session.execute(
            update(SummaryOffer)
            .where(SummaryOffer.id == offer.id, SummaryOffer.closed_at.is_(None))
            .values(closed_at=self._uow.now(), closed_reason=reason.value)
            .execution_options(synchronize_session=False)
        )
        if closed.rowcount != 1:  # type: ignore[attr-defined]
            raise ConfirmationUsedError(payment_id=offer.payment_id)
