"""Staff refunds of succeeded payments: full or partial, never more than was charged, once per key.

A refund is recorded `pending` (holding its amount) and audited inside one transaction that locks
the payment's row, so concurrent refunds can never together exceed the charge; the processor is
asked outside any transaction, with a key derived from the refund's id, by the one caller holding
the refund's attempt claim (a compare-and-set on `attempt_started_at`); its answer settles the row
(compare-and-set on `pending`) and is audited too. Asking again with the caller's idempotency key
returns the same refund: while another caller is asking the processor it waits for that answer;
a pending refund nobody is asking about (the answer was lost) is asked again with the same key,
and the gateway finds the refund already made instead of making a second one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Payment, Refund
from payments.audit import append_audit
from payments.errors import (
    PaymentNotFoundError,
    RefundAmountError,
    RefundKeyReusedError,
    RefundNotAllowedError,
)
from payments.gateway import PaymentGateway, RefundOutcome, RefundOutcomeStatus, RefundRequest
from payments.money import Money, parse_amount
from payments.statuses import PaymentStatus, RefundStatus
from payments.unit_of_work import UnitOfWork, rowcount

# Refunds whose amount is no longer refundable: done, or sent and not (yet) known to have failed.
HOLDING = (RefundStatus.PENDING.value, RefundStatus.SUCCEEDED.value)
# A claim older than this belongs to a caller that died mid-request: another may take it over.
STALE_ATTEMPT = timedelta(minutes=2)
WAIT_POLL_SECONDS = 0.1
SETTLED = {
    RefundOutcomeStatus.SUCCEEDED: RefundStatus.SUCCEEDED,
    RefundOutcomeStatus.FAILED: RefundStatus.FAILED,
}


@dataclass(frozen=True)
class RefundAmount:
    """How much to refund: `minor` units, or `text` a person typed (read in `locale`).

    Either way it is in the payment's currency; the core reads it, so no edge chooses the currency.
    """

    minor: int | None = None
    text: str | None = None
    locale: str = "en"

    def __post_init__(self) -> None:
        if (self.minor is None) == (self.text is None):
            raise ValueError("a refund amount is either minor units or text")

    def minor_in(self, currency: str) -> int:
        """Minor units of `currency` (the payment's); a coded error when the text is unreadable."""
        if self.minor is not None:
            return self.minor
        assert self.text is not None
        return parse_amount(self.text, currency=currency, locale=self.locale).amount_minor


@dataclass(frozen=True)
class RefundView:
    """One refund of a payment as staff see it."""

    refund_id: int
    payment_id: int
    amount: Money
    status: RefundStatus
    requested_by: str
    stripe_refund_id: str | None
    failure_message: str | None
    created_at: datetime
    completed_at: datetime | None


def refund_view(refund: Refund) -> RefundView:
    """The view of a refund row."""
    return RefundView(
        refund_id=refund.id,
        payment_id=refund.payment_id,
        amount=Money(refund.amount_minor, refund.currency),
        status=RefundStatus(refund.status),
        requested_by=refund.requested_by,
        stripe_refund_id=refund.stripe_refund_id,
        failure_message=refund.failure_message,
        created_at=refund.created_at,
        completed_at=refund.completed_at,
    )


def processor_key(refund: Refund) -> str:
    """The idempotency key the processor sees for this refund (one per refund row)."""
    return f"paychat-refund-{refund.payment_id}-{refund.id}"


def refunded_minor(session: Session, payment_id: int) -> int:
    """Minor units of the payment already refunded or held by a pending refund."""
    total = session.execute(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment_id, Refund.status.in_(HOLDING)
        )
    ).scalar_one()
    return int(total)


def refundable(session: Session, payment: Payment) -> Money:
    """What may still be refunded of a payment (zero unless it succeeded)."""
    if payment.status != PaymentStatus.SUCCEEDED.value or not payment.payment_intent_id:
        return Money(0, payment.currency)
    return Money(max(0, payment.amount_minor - refunded_minor(session, payment.id)), payment.currency)


def refunds_of(session: Session, payment_id: int) -> list[RefundView]:
    """The refunds of a payment, oldest first."""
    rows = session.execute(
        select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at, Refund.id)
    ).scalars()
    return [refund_view(row) for row in rows]


class Refunds:
    """Refunding succeeded payments through the gateway, recorded and audited."""

    def __init__(
        self, uow: UnitOfWork, gateway: PaymentGateway, *, wait: timedelta = timedelta(seconds=15)
    ) -> None:
        self._uow = uow
        self._gateway = gateway
        # How long a repeated request waits for the processor's answer to the first one.
        self._wait = wait

    def refund_payment(
        self,
        *,
        payment_id: int,
        amount: RefundAmount | None,
        requested_by: str,
        idempotency_key: str,
    ) -> RefundView:
        """Refund `amount` (all that is left when None) of a succeeded payment, once per key.

        The amount is minor units or typed text, both always in the payment's own currency: no
        caller picks the currency a refund is read in.
        """
        try:
            refund_id, request = self._record(payment_id, amount, requested_by, idempotency_key)
        except IntegrityError:
            # Someone else recorded a refund with this key between our check and our insert.
            refund_id, request = self._record(payment_id, amount, requested_by, idempotency_key)
        if request is not None:
            self._settle(refund_id, self._gateway.refund(request))
            return self._view(refund_id)
        deadline = time.monotonic() + self._wait.total_seconds()
        view = self._view(refund_id)
        while view.status == RefundStatus.PENDING and time.monotonic() < deadline:
            time.sleep(WAIT_POLL_SECONDS)  # another caller is asking the processor about it
            view = self._view(refund_id)
        return view

    def _view(self, refund_id: int) -> RefundView:
        with self._uow.tx() as session:
            return refund_view(session.get_one(Refund, refund_id))

    def _claim(self, session: Session, refund: Refund) -> bool:
        """Take the right to ask the processor about a pending refund (compare-and-set)."""
        now = self._uow.now()
        result = session.execute(
            update(Refund)
            .where(
                Refund.id == refund.id,
                Refund.status == RefundStatus.PENDING.value,
                or_(Refund.attempt_started_at.is_(None), Refund.attempt_started_at < now - STALE_ATTEMPT),
            )
            .values(attempt_started_at=now)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    def _record(
        self, payment_id: int, asked: RefundAmount | None, requested_by: str, key: str
    ) -> tuple[int, RefundRequest | None]:
        """The refund row for `key` (new, or the existing one) and the request to send, if any."""
        with self._uow.tx() as session:
            payment = session.execute(
                select(Payment)
                .where(Payment.id == payment_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if payment is None:
                raise PaymentNotFoundError(payment_id=payment_id)
            amount_minor = None if asked is None else asked.minor_in(payment.currency)
            existing = session.execute(select(Refund).where(Refund.idempotency_key == key)).scalar()
            if existing is not None:
                if existing.payment_id != payment_id or (
                    amount_minor is not None and amount_minor != existing.amount_minor
                ):
                    raise RefundKeyReusedError(payment_id=payment_id)
                if existing.status == RefundStatus.PENDING.value and self._claim(session, existing):
                    return existing.id, self._request(payment, existing)
                return existing.id, None
            if payment.status != PaymentStatus.SUCCEEDED.value or not payment.payment_intent_id:
                raise RefundNotAllowedError(payment_id=payment_id, status=payment.status)
            left = refundable(session, payment)
            amount = left.amount_minor if amount_minor is None else amount_minor
            if amount <= 0 or amount > left.amount_minor:
                raise RefundAmountError(payment_id=payment_id, refundable=left)
            refund = Refund(
                payment_id=payment.id,
                amount_minor=amount,
                currency=payment.currency,
                status=RefundStatus.PENDING.value,
                idempotency_key=key,
                requested_by=requested_by,
                created_at=self._uow.now(),
                attempt_started_at=self._uow.now(),
            )
            session.add(refund)
            session.flush()
            append_audit(
                session,
                event="refund.requested",
                payment_id=payment.id,
                user_id=payment.user_id,
                data={
                    "refund_id": refund.id,
                    "amount_minor": amount,
                    "currency": payment.currency,
                    "requested_by": requested_by,
                    "refundable_before_minor": left.amount_minor,
                },
            )
            return refund.id, self._request(payment, refund)

    @staticmethod
    def _request(payment: Payment, refund: Refund) -> RefundRequest:
        assert payment.payment_intent_id is not None
        return RefundRequest(
            payment_intent_id=payment.payment_intent_id,
            amount=Money(refund.amount_minor, refund.currency),
            idempotency_key=processor_key(refund),
            metadata={"paychat_payment_id": str(payment.id), "paychat_refund_id": str(refund.id)},
        )

    def _settle(self, refund_id: int, outcome: RefundOutcome) -> None:
        """Apply the processor's answer to a pending refund (once), audited."""
        new = SETTLED.get(outcome.status)
        with self._uow.tx() as session:
            refund = session.get(Refund, refund_id)
            assert refund is not None
            values: dict[str, object] = {"attempt_started_at": None}  # the claim ends with the answer
            if outcome.refund_id and not refund.stripe_refund_id:
                values["stripe_refund_id"] = outcome.refund_id
            if new is None:
                session.execute(update(Refund).where(Refund.id == refund_id).values(**values))
                return
            result = session.execute(
                update(Refund)
                .where(Refund.id == refund_id, Refund.status == RefundStatus.PENDING.value)
                .values(
                    status=new.value,
                    failure_message=outcome.failure_message,
                    completed_at=self._uow.now(),
                    **values,
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) != 1:
                return
            append_audit(
                session,
                event=f"refund.{new.value}",
                payment_id=refund.payment_id,
                user_id=session.execute(
                    select(Payment.user_id).where(Payment.id == refund.payment_id)
                ).scalar_one(),
                from_status=RefundStatus.PENDING.value,
                to_status=new.value,
                data={
                    "refund_id": refund.id,
                    "amount_minor": refund.amount_minor,
                    "currency": refund.currency,
                    "stripe_refund_id": outcome.refund_id or refund.stripe_refund_id,
                },
            )
