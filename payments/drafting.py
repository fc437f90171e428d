"""Drafting a payment (amount, date, limits, card, the consent text) and cancelling one before it is charged.

The summary a user confirms is worded at the edge: `prepare_payment` hands the typed `DraftTerms`
to the caller's renderer inside the drafting transaction and stores what it returns as the draft's
consent text, so the text kept is exactly the text shown. Without a renderer the terms are listed
as values (`terms_line`), which is what tests and scripts read.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Bill, Biller, Payment, ScheduledPayment, User
from observability.context import payment as about_payment
from payments.audit import append_audit
from payments.billers import match_biller
from payments.config import ServiceConfig
from payments.dates import day_relation, format_day, parse_pay_date
from payments.errors import (
    AmountUnreadError,
    BillerAmbiguousError,
    BillerUnknownError,
    BillNotFoundError,
    PaymentNotPendingError,
    PaymentsError,
    ScheduleNotFoundError,
)
from payments.ledger import Ledger, candidate, default_card, outstanding
from payments.machine import StateMachine
from payments.money import Money, format_money, parse_amount, unread_amount
from payments.offers import issue_offer
from payments.statuses import PaymentStatus, ScheduleStatus
from payments.step_up import close_on_cancel
from payments.unit_of_work import UnitOfWork, load_user, note_status_reached, owned_bill, owned_payment
from payments.views import (
    CancelOutcome,
    DraftTerms,
    PaymentSummary,
    PaymentView,
    ScheduledPaymentView,
    payment_view,
    schedule_view,
)

log = logging.getLogger(__name__)

P = PaymentStatus
SummaryRenderer = Callable[[DraftTerms], str]


def terms_line(terms: DraftTerms) -> str:
    """The terms as a list of values, no sentence: what a draft keeps when no edge renders it."""
    card = f"{terms.card_brand.capitalize()} •••• {terms.card_last4}"
    return (
        f"{terms.amount_text} · {terms.biller_name} · {terms.bill_reference} · {card} · {terms.pay_on_text}"
    )


class Drafting:
    """Draft, replace and cancel payments that have not been charged."""

    def __init__(self, uow: UnitOfWork, ledger: Ledger, machine: StateMachine, config: ServiceConfig) -> None:
        self._uow = uow
        self._ledger = ledger
        self._machine = machine
        self._config = config

    def draft(
        self,
        session: Session,
        user_id: int,
        bill_id: int,
        amount_text: str | None,
        date_text: str | None,
        render: SummaryRenderer = terms_line,
        unspanned_text: str | None = None,
    ) -> PaymentSummary:
        """Check amount, date, limits and card, and record a draft with the rendered consent text.

        `unspanned_text` is the user's latest message with its entity spans cut out: money named
        there (see `payments.money.unread_amount`) refuses a draft that has no amount, rather than
        paying the whole bill for an amount that was written but not read.
        """
        user = load_user(session, user_id)
        bill, biller = owned_bill(session, user_id, bill_id)
        terms, card_id = self._terms(session, user, bill, biller, amount_text, date_text, unspanned_text)
        summary_text = render(terms)
        payment = self._record(session, user_id, bill, card_id, terms, summary_text)
        return PaymentSummary(
            payment_id=payment.id,
            biller_name=terms.biller_name,
            amount=terms.amount,
            amount_text=terms.amount_text,
            card_brand=terms.card_brand,
            card_last4=terms.card_last4,
            pay_on=terms.pay_on,
            pay_on_text=terms.pay_on_text,
            day=terms.day,
            summary_text=summary_text,
            status=P.DRAFT,
            bill_id=bill.id,
            bill_reference=bill.reference,
            is_scheduled=terms.pay_on > self._uow.today_of(user),
        )

    def _terms(
        self,
        session: Session,
        user: User,
        bill: Bill,
        biller: Biller,
        amount_text: str | None,
        date_text: str | None,
        unspanned_text: str | None = None,
    ) -> tuple[DraftTerms, int]:
        """The checked terms of a new payment on `bill`, and the id of the card it will use."""
        owed = outstanding(session, bill)
        if owed.amount_minor <= 0:
            raise BillNotFoundError(biller=biller.name)
        amount = owed
        if unspanned_text and (unread := unread_amount(unspanned_text)) is not None:
            # Money was written but no amount span holds it (all of it): never "pay the whole
            # bill" for it, and never the part the span kept ("1 000,50" read as 0.50).
            raise AmountUnreadError(text=unread, expected=bill.currency)
        if amount_text and amount_text.strip():
            amount = parse_amount(amount_text, currency=bill.currency, locale=user.locale, outstanding=owed)
        now = self._uow.now()
        pay_on = parse_pay_date(
            date_text, timezone=user.timezone, now=now, horizon_days=self._config.schedule_horizon_days
        )
        self._ledger.check_amount(session, user, amount=amount, owed=owed, pay_on=pay_on)
        card = default_card(session, user.id)
        terms = DraftTerms(
            amount=amount,
            amount_text=format_money(amount, user.locale),
            biller_name=biller.name,
            bill_reference=bill.reference,
            card_brand=card.brand,
            card_last4=card.last4,
            pay_on=pay_on,
            pay_on_text=format_day(pay_on, user.locale),
            day=day_relation(pay_on, timezone=user.timezone, now=now),
        )
        return terms, card.id

    def _record(
        self, session: Session, user_id: int, bill: Bill, card_id: int, terms: DraftTerms, summary_text: str
    ) -> Payment:
        """Insert the draft with its idempotency key and audit it."""
        nonce = secrets.token_hex(8)
        payment = Payment(
            user_id=user_id,
            bill_id=bill.id,
            payment_method_id=card_id,
            amount_minor=terms.amount.amount_minor,
            currency=terms.amount.currency,
            status=P.DRAFT.value,
            pay_on=terms.pay_on,
            summary_text=summary_text,
            idempotency_key=f"pending-{nonce}",
        )
        session.add(payment)
        session.flush()
        # Derived from the payment id; the nonce keeps keys unique if a database is ever recreated
        # while Stripe still remembers old keys.
        payment.idempotency_key = f"paychat-payment-{payment.id}-{nonce}"
        note_status_reached(session, P.DRAFT.value)
        with about_payment(payment.id):
            log.info("payment drafted", extra={"bill_id": bill.id})
        amount: Money = terms.amount
        append_audit(
            session,
            event="payment.drafted",
            payment_id=payment.id,
            user_id=user_id,
            to_status=P.DRAFT.value,
            data={"bill_id": bill.id, "amount_minor": amount.amount_minor, "currency": amount.currency},
        )
        return payment

    def prepare_payment(
        self,
        *,
        user_id: int,
        biller_text: str | None,
        bill_id: int | None,
        amount_text: str | None,
        date_text: str | None,
        replacing_payment_id: int | None = None,
        render_summary: SummaryRenderer = terms_line,
        conversation: str | None = None,
        unspanned_text: str | None = None,
    ) -> PaymentSummary:
        """Draft a payment on the bill `biller_text` names (else `bill_id`), replacing an earlier draft.

        The replaced draft is cancelled in the same transaction that records the new one, so at most
        one of them is ever confirmable. When the new draft is refused, the replaced one is still
        cancelled (the user no longer sees its summary) and the refusal is raised. With a
        `conversation` (the chat's sender id) the summary becomes that conversation's live offer and
        the returned summary carries its one-time `confirm_nonce` (payments.offers, payments.confirming).
        """
        try:
            with self._uow.tx() as session:
                self._drop_draft(session, user_id, replacing_payment_id)
                if biller_text and biller_text.strip():
                    bill_id = self._ledger.find_bill(session, user_id, biller_text).id
                elif bill_id is None:
                    raise BillerUnknownError(text=biller_text or "")
                summary = self.draft(
                    session, user_id, bill_id, amount_text, date_text, render_summary, unspanned_text
                )
                if conversation is None:
                    return summary
                nonce = issue_offer(
                    session,
                    user_id=user_id,
                    conversation=conversation,
                    payment_id=summary.payment_id,
                    summary_text=summary.summary_text,
                    now=self._uow.now(),
                )
                return dataclasses.replace(summary, confirm_nonce=nonce)
        except PaymentsError:
            if replacing_payment_id is not None:
                with self._uow.tx() as session:
                    self._drop_draft(session, user_id, replacing_payment_id)
            raise

    def _drop_draft(self, session: Session, user_id: int, payment_id: int | None) -> None:
        """Cancel a replaced draft; a missing, foreign, confirmed or cancelled one is left alone."""
        payment = session.get(Payment, payment_id) if payment_id is not None else None
        if payment is not None and payment.user_id == user_id and payment.status == P.DRAFT.value:
            self._machine.move(session, payment, P.DRAFT, P.CANCELLED, reason="replaced")

    def cancel(self, session: Session, user_id: int, payment_id: int) -> PaymentView:
        """Cancel a draft, a payment awaiting approval, or a scheduled payment not yet charged."""
        payment = owned_payment(session, user_id, payment_id)
        current = P(payment.status)
        if current in (P.DRAFT, P.AWAITING_APPROVAL):
            # The user may withdraw a large payment while it still waits for its second approval.
            moved = self._machine.move(session, payment, current, P.CANCELLED)
            close_on_cancel(session, payment.id, self._uow.now())  # a pending one-time code dies with it
        elif current == P.APPROVED:
            moved = self._cancel_scheduled(session, payment)
        else:
            raise PaymentNotPendingError(payment_id=payment_id, status=current.value)
        if not moved:
            raise PaymentNotPendingError(payment_id=payment_id)
        session.refresh(payment)
        return payment_view(session, payment)

    def _cancel_scheduled(self, session: Session, payment: Payment) -> bool:
        """approved → cancelled for a payment still waiting for its day, with its schedule."""
        schedule = session.execute(
            select(ScheduledPayment).where(
                ScheduledPayment.payment_id == payment.id,
                ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
            )
        ).scalar_one_or_none()
        if schedule is None:
            raise PaymentNotPendingError(payment_id=payment.id, status=payment.status)
        moved = self._machine.move(session, payment, P.APPROVED, P.CANCELLED)
        if moved:
            schedule.status = ScheduleStatus.CANCELLED.value
            schedule.updated_at = self._uow.now()
        return moved

    def cancel_scheduled_payment(self, *, user_id: int, scheduled_payment_id: int) -> ScheduledPaymentView:
        """Cancel a scheduled payment before its day."""
        with self._uow.tx() as session:
            schedule = session.get(ScheduledPayment, scheduled_payment_id)
            if schedule is None or schedule.user_id != user_id:
                raise ScheduleNotFoundError(scheduled_payment_id=scheduled_payment_id)
            self.cancel(session, user_id, schedule.payment_id)
            session.refresh(schedule)
            return schedule_view(session, schedule, self._uow.now())

    def cancel_pending_payment(
        self, *, user_id: int, biller_text: str | None = None, payment_id: int | None = None
    ) -> CancelOutcome:
        """Cancel the payment the user picked or named, or say which scheduled ones they can pick.

        `payment_id` is cancelled as it is. Otherwise, when `biller_text` names the biller of exactly
        one scheduled payment, that one is cancelled; when it names several, those are the candidates;
        when it names none of them (or nothing was named), every scheduled payment is a candidate.
        """
        with self._uow.tx() as session:
            if payment_id is not None:
                return CancelOutcome(cancelled=self.cancel(session, user_id, payment_id), candidates=[])
            scheduled = self._scheduled_with_billers(session, user_id)
            everything = [view for view, _ in scheduled]
            if not biller_text or not scheduled:
                return CancelOutcome(cancelled=None, candidates=everything)
            named, decisive = self._named(scheduled, biller_text)
            if decisive and len(named) == 1:
                return CancelOutcome(
                    cancelled=self.cancel(session, user_id, named[0].payment_id), candidates=[]
                )
            return CancelOutcome(cancelled=None, candidates=named)

    def _scheduled_with_billers(
        self, session: Session, user_id: int
    ) -> list[tuple[ScheduledPaymentView, Biller]]:
        """The user's scheduled payments still waiting, each with its biller, soonest first."""
        rows = session.execute(
            select(ScheduledPayment, Biller)
            .join(Bill, ScheduledPayment.bill_id == Bill.id)
            .join(Biller, Bill.biller_id == Biller.id)
            .where(
                ScheduledPayment.user_id == user_id, ScheduledPayment.status == ScheduleStatus.SCHEDULED.value
            )
            .order_by(ScheduledPayment.pay_on, ScheduledPayment.id)
        ).all()
        now = self._uow.now()
        return [(schedule_view(session, schedule, now), biller) for schedule, biller in rows]

    @staticmethod
    def _named(
        scheduled: list[tuple[ScheduledPaymentView, Biller]], biller_text: str
    ) -> tuple[list[ScheduledPaymentView], bool]:
        """The scheduled payments `biller_text` points at, and whether it named one biller for sure.

        Only the billers of scheduled payments count: naming another one means "which of these?"
        (every scheduled payment); naming several alike offers theirs.
        """
        billers = {biller.id: biller for _, biller in scheduled}
        try:
            chosen = match_biller(biller_text, [candidate(b) for b in billers.values()])
        except BillerAmbiguousError as error:
            return [view for view, biller in scheduled if biller.name in error.candidates], False
        except BillerUnknownError:
            return [view for view, _ in scheduled], False
        return [view for view, biller in scheduled if biller.id == chosen.biller_id], True
