"""The ledger: bills, what is still owed on them (reservations), amount limits and the card to pay with.

A payment reserves its share of a bill from consent on (payments.statuses.RESERVING), so what is
outstanding is the bill's amount less every reserving payment; the same sums check the daily
limit. Which bill the user means is matched among their own billers first (payments.billers).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Bill, Biller, Payment, SavedPaymentMethod, User
from payments.billers import BillerCandidate, match_biller
from payments.config import ServiceConfig
from payments.errors import (
    AmountAboveOutstandingError,
    AmountBelowMinimumError,
    BillerAmbiguousError,
    BillerUnknownError,
    BillNotFoundError,
    DailyLimitError,
    NoCardError,
    PerPaymentLimitError,
)
from payments.money import Money, minimum_charge
from payments.statuses import RESERVING
from payments.unit_of_work import OPEN_BILL_STATUSES, UnitOfWork, load_user
from payments.views import BillView, bill_view

RESERVING_VALUES = [status.value for status in RESERVING]


def outstanding(session: Session, bill: Bill) -> Money:
    """What is still owed on the bill: its amount less every payment that reserves a share of it."""
    reserved = session.execute(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
            Payment.bill_id == bill.id, Payment.status.in_(RESERVING_VALUES)
        )
    ).scalar_one()
    return Money(bill.amount_due_minor - int(reserved), bill.currency)


def candidate(biller: Biller) -> BillerCandidate:
    """A biller as the matcher sees it."""
    return BillerCandidate(
        biller_id=biller.id, name=biller.name, category=biller.category, aliases=tuple(biller.aliases or ())
    )


def default_card(session: Session, user_id: int) -> SavedPaymentMethod:
    """The card a payment is drafted with: the default one, else the newest; NoCardError without any."""
    card = session.execute(
        select(SavedPaymentMethod)
        .where(SavedPaymentMethod.user_id == user_id)
        .order_by(SavedPaymentMethod.is_default.desc(), SavedPaymentMethod.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if card is None:
        raise NoCardError(user_id=user_id)
    return card


class Ledger:
    """Bills and amounts of one user at a time, under the configured limits."""

    def __init__(self, uow: UnitOfWork, config: ServiceConfig) -> None:
        self._uow = uow
        self._config = config

    def open_bills(self, *, user_id: int) -> list[BillView]:
        """The user's bills that still have something to pay, earliest due first."""
        with self._uow.tx() as session:
            user = load_user(session, user_id)
            # Each bill with what its payments reserve, in one statement (was one sum per bill).
            reserved = (
                select(Payment.bill_id, func.sum(Payment.amount_minor).label("minor"))
                .where(
                    Payment.bill_id.in_(select(Bill.id).where(Bill.user_id == user_id)),
                    Payment.status.in_(RESERVING_VALUES),
                )
                .group_by(Payment.bill_id)
                .subquery()
            )
            rows = session.execute(
                select(Bill, Biller, func.coalesce(reserved.c.minor, 0))
                .join(Biller, Bill.biller_id == Biller.id)
                .outerjoin(reserved, reserved.c.bill_id == Bill.id)
                .where(Bill.user_id == user_id, Bill.status.in_(OPEN_BILL_STATUSES))
                .order_by(Bill.due_date, Bill.id)
            ).all()
            views = [
                bill_view(bill, biller, Money(bill.amount_due_minor - int(held), bill.currency), user.locale)
                for bill, biller, held in rows
            ]
            return [view for view in views if view.outstanding.amount_minor > 0]

    def find_bill(self, session: Session, user_id: int, biller_text: str) -> BillView:
        """The user's open bill from the biller `biller_text` names (alias or fuzzy match)."""
        user = load_user(session, user_id)
        # Match among the user's own billers first: another user's biller is no candidate.
        own = session.execute(
            select(Biller).where(Biller.id.in_(select(Bill.biller_id).where(Bill.user_id == user_id)))
        ).scalars()
        try:
            chosen = match_biller(biller_text, [candidate(b) for b in own])
        except BillerUnknownError:
            raise self._unknown_or_nothing_owed(session, biller_text) from None
        row = session.execute(
            select(Bill, Biller)
            .join(Biller, Bill.biller_id == Biller.id)
            .where(Bill.user_id == user_id, Bill.biller_id == chosen.biller_id)
            .where(Bill.status.in_(OPEN_BILL_STATUSES))
            .order_by(Bill.due_date, Bill.id)
            .limit(1)
        ).first()
        if row is None:
            raise BillNotFoundError(biller=chosen.name)
        view = bill_view(row[0], row[1], outstanding(session, row[0]), user.locale)
        if view.outstanding.amount_minor <= 0:
            raise BillNotFoundError(biller=chosen.name)
        return view

    @staticmethod
    def _unknown_or_nothing_owed(
        session: Session, biller_text: str
    ) -> BillerUnknownError | BillNotFoundError:
        """A biller we know but this user owes nothing: "no open bill", not "who is that?"."""
        everyone = [candidate(b) for b in session.execute(select(Biller)).scalars()]
        try:
            known = match_biller(biller_text, everyone)
        except (BillerAmbiguousError, BillerUnknownError):
            return BillerUnknownError(text=biller_text)
        return BillNotFoundError(biller=known.name)

    def paid_to_biller_around(self, session: Session, payment: Payment, period: timedelta) -> Money:
        """What the payment's user pays or has committed to pay its biller within `period` of the
        payment's own pay day (either side), itself excluded.

        Counts every reserving payment (awaiting approval, approved — scheduled ones included —, in
        flight, succeeded) on any of the biller's bills by the day it is *paid* (`pay_on`: its
        scheduled day, or the day it was charged), not by when it was consented to: two halves
        consented to months apart but paid on the same day are one payment to the biller (issue 10).
        Called under the user's row lock, so concurrent approvals see each other.
        """
        biller_id = select(Bill.biller_id).where(Bill.id == payment.bill_id).scalar_subquery()
        total = session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor), 0))
            .join(Bill, Payment.bill_id == Bill.id)
            .where(
                Payment.user_id == payment.user_id,
                Payment.id != payment.id,
                Payment.currency == payment.currency,
                Bill.biller_id == biller_id,
                Payment.status.in_(RESERVING_VALUES),
                Payment.pay_on >= payment.pay_on - period,
                Payment.pay_on <= payment.pay_on + period,
            )
        ).scalar_one()
        return Money(int(total), payment.currency)

    def check_amount(self, session: Session, user: User, *, amount: Money, owed: Money, pay_on: date) -> None:
        """Refuse an amount below the gateway's minimum, above what is owed, above the per-payment limit,
        or over the day's limit."""
        minimum = minimum_charge(amount.currency)
        if minimum is not None and amount.amount_minor < minimum.amount_minor:
            raise AmountBelowMinimumError(amount=amount, minimum=minimum, locale=user.locale)
        if amount.amount_minor > owed.amount_minor:
            raise AmountAboveOutstandingError(amount=amount, outstanding=owed, locale=user.locale)
        if amount.amount_minor > self._config.per_payment_limit_minor:
            limit = Money(self._config.per_payment_limit_minor, amount.currency)
            raise PerPaymentLimitError(limit=limit, locale=user.locale)
        same_day = session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
                Payment.user_id == user.id,
                Payment.pay_on == pay_on,
                Payment.status.in_(RESERVING_VALUES),
            )
        ).scalar_one()
        if int(same_day) + amount.amount_minor > self._config.daily_limit_minor:
            left = max(0, self._config.daily_limit_minor - int(same_day))
            raise DailyLimitError(remaining=Money(left, amount.currency), locale=user.locale)
