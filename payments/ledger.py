"""The ledger: bills, what is still owed on them (reservations), amount limits and the card to pay with.

A payment reserves its share of a bill from consent on (payments.statuses.RESERVING), so what is
outstanding is the bill's amount less every reserving payment; the same sums check the limits per
payment, per day and per month. Days and months are the user's calendar days (a payment counts on
its `pay_on`, a day in their zone); a user's own limits (users.*_limit_minor) replace the
configured ones. Approving re-checks under the user's row lock (payments.charging), so the check
and the reservation are one step. Which bill the user means is matched among their own billers
first (payments.billers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.models import Bill, Biller, Payment, SavedPaymentMethod, User
from payments.audit import append_audit
from payments.billers import BillerCandidate, match_biller
from payments.config import ServiceConfig
from payments.dates import LocalMoment, first_of_next_month, local_moment, start_of_day
from payments.errors import (
    AmountAboveOutstandingError,
    AmountBelowMinimumError,
    BillerAmbiguousError,
    BillerUnknownError,
    BillNotFoundError,
    NoCardError,
)
from payments.limits import DailyLimitError, MonthlyLimitError, PerPaymentLimitError
from payments.money import Money, minimum_charge
from payments.statuses import RESERVING, PaymentStatus
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


@dataclass(frozen=True)
class Limits:
    """One user's limits in minor units: per payment, per calendar day and per calendar month."""

    per_payment_minor: int
    daily_minor: int
    monthly_minor: int


# The user columns that hold a user's own limits (NULL: the configured one), by Limits field.
LIMIT_COLUMNS = {
    "per_payment_minor": "per_payment_limit_minor",
    "daily_minor": "daily_limit_minor",
    "monthly_minor": "monthly_limit_minor",
}


def limits_for(user: User, config: ServiceConfig) -> Limits:
    """The user's limits: their own where set (users.*_limit_minor), else the configured ones."""

    def own(value: int | None, configured: int) -> int:
        return configured if value is None else value

    return Limits(
        per_payment_minor=own(user.per_payment_limit_minor, config.per_payment_limit_minor),
        daily_minor=own(user.daily_limit_minor, config.daily_limit_minor),
        monthly_minor=own(user.monthly_limit_minor, config.monthly_limit_minor),
    )


def set_user_limits(
    session: Session, *, user_id: int, changes: dict[str, int | None], changed_by: str
) -> dict[str, int | None]:
    """Set (an int, minor units, at least 0) or clear (None: back to the setting) some of a user's own
    limits, by Limits field name; audited (`user.limits_changed`, who and the values before and
    after). Returns the user's own limits now. ValueError for an unknown name or a negative amount."""
    unknown = set(changes) - set(LIMIT_COLUMNS)
    if unknown or any(value is not None and value < 0 for value in changes.values()):
        raise ValueError(f"limits: unknown {sorted(unknown)} or negative in {changes}")
    user = load_user(session, user_id)
    before = {name: getattr(user, column) for name, column in LIMIT_COLUMNS.items()}
    for name, value in changes.items():
        setattr(user, LIMIT_COLUMNS[name], value)
    after = {name: getattr(user, column) for name, column in LIMIT_COLUMNS.items()}
    if after != before:
        append_audit(
            session,
            event="user.limits_changed",
            user_id=user_id,
            data={"by": changed_by[:200], "before": before, "after": after},
        )
    return after


def candidate(biller: Biller) -> BillerCandidate:
    """A biller as the matcher sees it."""
    return BillerCandidate(
        biller_id=biller.id, name=biller.name, category=biller.category, aliases=tuple(biller.aliases or ())
    )


def match_user_biller(session: Session, user_id: int, text: str) -> Biller:
    """The biller `text` names, looked for first among the billers that sent this user a bill ("my
    phone bill" is the user's phone company, however many phone companies the catalogue holds), then
    in the whole catalogue. BillerUnknownError / BillerAmbiguousError as `match_biller`."""
    own_ids = select(Bill.biller_id).where(Bill.user_id == user_id)
    own = [candidate(b) for b in session.execute(select(Biller).where(Biller.id.in_(own_ids))).scalars()]
    try:
        chosen = match_biller(text, own)
    except BillerUnknownError:
        everyone = [candidate(b) for b in session.execute(select(Biller)).scalars()]
        chosen = match_biller(text, everyone)
    biller = session.get(Biller, chosen.biller_id)
    assert biller is not None
    return biller


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

    def limits_of(self, user: User) -> Limits:
        """The user's limits: their own where set, else the configured ones."""
        return limits_for(user, self._config)

    def reserved_day_and_month(
        self, session: Session, user_id: int, pay_on: date, currency: str
    ) -> tuple[int, int]:
        """What the user's reserving payments add up to on `pay_on`, and in `pay_on`'s month (one query)."""
        first = pay_on.replace(day=1)
        last = first_of_next_month(pay_on) - timedelta(days=1)
        day, month = session.execute(
            select(
                func.coalesce(func.sum(case((Payment.pay_on == pay_on, Payment.amount_minor), else_=0)), 0),
                func.coalesce(func.sum(Payment.amount_minor), 0),
            ).where(
                Payment.user_id == user_id,
                Payment.currency == currency,
                Payment.pay_on >= first,
                Payment.pay_on <= last,
                Payment.status.in_(RESERVING_VALUES),
            )
        ).one()
        return int(day), int(month)

    def check_amount(self, session: Session, user: User, *, amount: Money, owed: Money, pay_on: date) -> None:
        """Refuse an amount below the gateway's minimum, above what is owed, above the per-payment limit,
        or over the limit of its pay day or of that day's month (LimitError: limit, what is left, when
        it resets). Called again under the user's row lock when the payment is approved."""
        minimum = minimum_charge(amount.currency)
        if minimum is not None and amount.amount_minor < minimum.amount_minor:
            raise AmountBelowMinimumError(amount=amount, minimum=minimum, locale=user.locale)
        if amount.amount_minor > owed.amount_minor:
            raise AmountAboveOutstandingError(amount=amount, outstanding=owed, locale=user.locale)
        limits = self.limits_of(user)
        if amount.amount_minor > limits.per_payment_minor:
            limit = Money(limits.per_payment_minor, amount.currency)
            raise PerPaymentLimitError(limit=limit, remaining=limit, locale=user.locale)
        same_day, same_month = self.reserved_day_and_month(session, user.id, pay_on, amount.currency)
        if same_day + amount.amount_minor > limits.daily_minor:
            raise DailyLimitError(
                limit=Money(limits.daily_minor, amount.currency),
                remaining=Money(max(0, limits.daily_minor - same_day), amount.currency),
                resets=self._resets(user, pay_on + timedelta(days=1)),
                locale=user.locale,
            )
        if same_month + amount.amount_minor > limits.monthly_minor:
            raise MonthlyLimitError(
                limit=Money(limits.monthly_minor, amount.currency),
                remaining=Money(max(0, limits.monthly_minor - same_month), amount.currency),
                resets=self._resets(user, first_of_next_month(pay_on)),
                locale=user.locale,
            )

    def _resets(self, user: User, day: date) -> LocalMoment:
        """The start of `day` in the user's zone, as they read it: when a limit counted to then resets."""
        return local_moment(
            start_of_day(day, user.timezone), timezone=user.timezone, locale=user.locale, now=self._uow.now()
        )

    def paid_biller_before(self, session: Session, user_id: int, bill_id: int) -> bool:
        """True when the user has a succeeded payment to the biller of `bill_id` (on any of its bills)."""
        biller_id = select(Bill.biller_id).where(Bill.id == bill_id).scalar_subquery()
        found = session.execute(
            select(Payment.id)
            .join(Bill, Payment.bill_id == Bill.id)
            .where(
                Payment.user_id == user_id,
                Bill.biller_id == biller_id,
                Payment.status == PaymentStatus.SUCCEEDED.value,
            )
            .limit(1)
        ).first()
        return found is not None
