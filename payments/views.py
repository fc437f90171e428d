"""Frozen views the use cases return, and the builders that turn rows into them.

Callers never see ORM objects. A view carries typed values (Money, dates, a `DayRelation`, codes,
names) and locale-formatted numbers and dates; it never carries a sentence: the edges word it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Bill, Biller, Payment, SavedPaymentMethod, ScheduledPayment, User
from payments.dates import (
    DayRelation,
    LocalMoment,
    day_relation,
    format_day,
    format_moment,
    local_moment,
    start_of_day,
)
from payments.errors import PaymentNotFoundError, PaymentsError
from payments.money import Money, format_money
from payments.receipts import receipt_reference
from payments.statuses import NotificationKind, PaymentStatus, ScheduleStatus


@dataclass(frozen=True)
class UserView:
    """A user as callers may see them."""

    id: int
    name: str
    telegram_user_id: int | None
    locale: str
    timezone: str
    currency: str
    is_test: bool
    # Created from Telegram in demo mode: a try-out, never a live customer (staff lists mark it).
    is_demo: bool = False
    # False while the user has blocked the bot (their notifications wait).
    telegram_reachable: bool = True


@dataclass(frozen=True)
class BillView:
    """An open bill with what is still owed."""

    id: int
    biller_name: str
    biller_category: str
    reference: str
    amount_due: Money
    outstanding: Money
    due_date: date
    status: str
    amount_due_text: str = ""
    outstanding_text: str = ""
    # The due date in the user's locale (babel "medium", e.g. "3 Dec 2025"), for lists.
    due_date_text: str = ""


@dataclass(frozen=True)
class DueBills:
    """Every bill the user still owes something on, earliest due first, with what they add up to.

    Each bill carries its biller, what is still owed (`outstanding`) and its due date; amounts in
    different currencies are never added: `totals` holds one sum per currency, in the order the
    currencies first appear in `bills` (`totals_text` the same sums formatted for the user's locale).
    """

    bills: list[BillView]
    totals: list[Money]
    totals_text: list[str]


@dataclass(frozen=True)
class DraftTerms:
    """What a payment summary states, as values: the edge words it (`prepare_payment`'s renderer)."""

    amount: Money
    # The amount formatted for the user's locale ("€84.20", "84,20 €").
    amount_text: str
    biller_name: str
    bill_reference: str
    card_brand: str
    card_last4: str
    pay_on: date
    # The day in the user's locale ("3 Dec 2025") and how it relates to their today.
    pay_on_text: str
    day: DayRelation


@dataclass(frozen=True)
class PaymentSummary:
    """A drafted payment and the exact consent text the edge rendered from its terms."""

    payment_id: int
    biller_name: str
    amount: Money
    amount_text: str
    card_brand: str
    card_last4: str
    pay_on: date
    pay_on_text: str
    day: DayRelation
    summary_text: str
    status: PaymentStatus
    bill_id: int = 0
    bill_reference: str = ""
    is_scheduled: bool = False
    # The one-time nonce the summary's buttons carry (payments.confirming); None outside a conversation.
    confirm_nonce: str | None = None


class PendingReason(StrEnum):
    """Why a payment's outcome is not known yet: the user hears "we'll tell you", never "nothing charged"."""

    # The charge call is out (or went unanswered): reconciliation settles it by its idempotency key.
    CHARGE_IN_FLIGHT = "charge_in_flight"
    # The processor answered but the answer could not be recorded (database busy): the worker
    # finds it through the gateway and the user is told through the outbox.
    OUTCOME_NOT_RECORDED = "outcome_not_recorded"
    # Approved with consent, but the charge could not be started (database busy): the worker
    # charges it after the approved-charge deadline and the user is told through the outbox.
    CHARGE_NOT_STARTED = "charge_not_started"
    # Issue 13: the payment waits for the user's one-time code (`PaymentResult.step_up` says why);
    # nothing happens to it, and nothing is charged, before the code is verified.
    STEP_UP_CODE = "step_up_code"


@dataclass(frozen=True)
class StepUpView:
    """A one-time code waiting for the user (issue 13): why it was asked, until when, tries left.

    `reasons` are `payments.statuses.StepUpReason` values (worded at the edge); the code itself is
    never part of a view the chat sees.
    """

    payment_id: int
    reasons: tuple[str, ...]
    expires_at: LocalMoment
    attempts_left: int
    amount_text: str
    biller_name: str


@dataclass(frozen=True)
class Receipt:
    """What a person keeps of a succeeded payment, as values (the edges word the receipt)."""

    # The short reference to quote to support ("PAY-0001FA", payments.receipts).
    reference: str
    payment_id: int
    amount: Money
    amount_text: str
    biller_name: str
    bill_reference: str
    card_brand: str
    card_last4: str
    # When it went through (UTC), and that moment in the user's time zone and locale.
    paid_at: datetime
    paid_at_text: str
    timezone: str
    # The processor's id (Stripe PaymentIntent): secondary, for support.
    payment_intent_id: str | None


@dataclass(frozen=True)
class PaymentResult:
    """What happened when a payment was confirmed (or what had already happened)."""

    payment_id: int
    status: PaymentStatus
    amount: Money
    amount_text: str
    biller_name: str
    payment_intent_id: str | None
    # Why it failed (payments.gateway.FailureCode values) and the processor's own message, as data.
    failure_code: str | None
    failure_message: str | None
    next_action_url: str | None
    pay_on: date | None = None
    scheduled_payment_id: int | None = None
    pay_on_text: str = ""
    day: DayRelation = DayRelation.TODAY
    # Set when the payment succeeded.
    receipt: Receipt | None = None
    # Set while the outcome is not known (processing, unknown): a `PendingReason` value.
    pending_reason: str | None = None
    # A scheduled (or held) payment not charged yet: the earliest moment the worker charges it (its
    # day's start or the end of its time lock, whichever is later), in the user's zone.
    runs_at: LocalMoment | None = None
    # True while its time lock (cancel window), not its day, is what holds it: approved, cancellable,
    # not charged until `runs_at`.
    time_locked: bool = False
    # Set while the payment waits for the user's one-time code (pending_reason `step_up_code`).
    step_up: StepUpView | None = None


@dataclass(frozen=True)
class PaymentView:
    """A payment in a user's history."""

    payment_id: int
    biller_name: str
    amount: Money
    amount_text: str
    status: PaymentStatus
    pay_on: date
    created_at: datetime
    payment_intent_id: str | None
    failure_code: str | None
    failure_message: str | None
    # The payment's day in the user's locale (babel "medium"), for lists.
    pay_on_text: str = ""
    # Confirmed and waiting for its day (a scheduled payment not yet charged).
    scheduled: bool = False
    # When it last moved (went through, failed, was confirmed or cancelled) in the user's time zone
    # and locale ("3 Dec 2025, 14:05"); a scheduled payment is dated by `pay_on_text` instead.
    moved_at_text: str = ""


@dataclass(frozen=True)
class SkippedBill:
    """A bill of a pay-everything round that could not be drafted, and the domain error saying why."""

    bill: BillView
    error: PaymentsError


@dataclass(frozen=True)
class PayAllReport:
    """Where a pay-everything round ended: its payments the user confirmed (whatever their outcome:
    paid, declined, waiting for the bank) and the round's bills still open."""

    payments: list[PaymentView]
    left: DueBills


@dataclass(frozen=True)
class NextBill:
    """One step of paying several bills: the next bill's summary, or the round's report.

    `summary` is the next still-open bill's draft (for its whole outstanding amount, today), issued
    as the conversation's live offer with its own nonce; `remaining` the round's bill ids after it.
    When no bill is left to offer, `summary` is None and `report` says what was paid and what is left.
    `skipped` lists bills passed over because drafting them was refused (a limit, no card, ...).
    """

    summary: PaymentSummary | None
    remaining: list[int]
    skipped: list[SkippedBill]
    report: PayAllReport | None = None


@dataclass(frozen=True)
class ScheduledPaymentView:
    """A confirmed payment waiting for its day."""

    scheduled_payment_id: int
    payment_id: int
    biller_name: str
    amount: Money
    amount_text: str
    pay_on: date
    # The day in the user's locale and how it relates to their today.
    pay_on_text: str
    status: str
    day: DayRelation = DayRelation.LATER


@dataclass(frozen=True)
class CancelOutcome:
    """What `cancel_pending_payment` did: cancelled one payment, or found several to choose from.

    Exactly one of these holds: `cancelled` is set; `candidates` is non-empty; or both are empty
    (nothing is waiting to be cancelled).
    """

    cancelled: PaymentView | None
    candidates: list[ScheduledPaymentView]


@dataclass(frozen=True)
class ApprovalView:
    """A consented payment waiting for a staff member's second approval (the console's approvals page)."""

    payment_id: int
    user_name: str
    biller_name: str
    amount: Money
    amount_text: str
    pay_on: date
    created_at: datetime
    # The exact summary the user confirmed (their consent), so the approver sees what they agreed to.
    consent_text: str


@dataclass(frozen=True)
class ReconcileReport:
    """What a reconciliation run settled."""

    checked: int
    settled: dict[int, PaymentStatus]


@dataclass(frozen=True)
class NotificationView:
    """An undelivered notification (a payment's outcome or code, or a bill), with what its message needs."""

    id: int
    user_id: int
    # None for a notification about a bill (`bill_id` then names it).
    payment_id: int | None
    telegram_user_id: int | None
    kind: NotificationKind
    biller_name: str
    # The amount formatted for the user's locale ("€84.20", "84,20 €").
    amount_text: str
    failure_message: str | None
    locale: str
    failure_code: str | None = None
    # Set for a succeeded payment: what the user keeps.
    receipt: Receipt | None = None
    # The bill the notification is about (through its payment, or directly) and its due day.
    bill_id: int | None = None
    due_date: date | None = None
    # A step-up notification's one-time code (plain, only in memory on its way to the user).
    code: str | None = None
    # An automatic charge under a standing mandate (issue 13, item 8): worded as autopay.
    autopay: bool = False
    # A held payment's end of its cancel window, the user's wall clock ("3 Dec 2025, 14:05 +01:00").
    when_text: str | None = None
    # A standing mandate's one-time code (issue 13): `amount_text` is then its monthly budget;
    # `mandate_change`: the code is for new terms of a live mandate (not a new one).
    mandate_id: int | None = None
    mandate_change: bool = False
    # The bill a "Pay now" under this message drafts: set on a bill's own message (a reminder, a bill
    # a standing mandate could not pay), found still to pay as the row was read; None otherwise.
    pay_bill_id: int | None = None


# --- builders ------------------------------------------------------------------------------------


def user_view(user: User) -> UserView:
    """The view of a user row."""
    return UserView(
        id=user.id,
        name=user.name,
        telegram_user_id=user.telegram_user_id,
        locale=user.locale,
        timezone=user.timezone,
        currency=user.currency,
        is_test=user.is_test,
        is_demo=user.is_demo,
        telegram_reachable=user.telegram_unreachable_since is None,
    )


def bill_view(bill: Bill, biller: Biller, outstanding: Money, locale: str) -> BillView:
    """The view of a bill, with what is still owed on it (payments.ledger works that out)."""
    amount_due = Money(bill.amount_due_minor, bill.currency)
    return BillView(
        id=bill.id,
        biller_name=biller.name,
        biller_category=biller.category,
        reference=bill.reference,
        amount_due=amount_due,
        outstanding=outstanding,
        due_date=bill.due_date,
        status=bill.status,
        amount_due_text=format_money(amount_due, locale),
        outstanding_text=format_money(Money(max(0, outstanding.amount_minor), bill.currency), locale),
        due_date_text=format_day(bill.due_date, locale),
    )


def biller_name(session: Session, bill_id: int) -> str:
    """The name of the biller of a bill."""
    name = session.execute(
        select(Biller.name).join(Bill, Bill.biller_id == Biller.id).where(Bill.id == bill_id)
    ).scalar_one()
    return str(name)


def _owner(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise PaymentNotFoundError(user_id=user_id)
    return user


def receipt_of(
    session: Session, payment: Payment, user: User, *, biller: str | None = None
) -> Receipt | None:
    """The receipt of a succeeded payment, with times in the user's zone; None for any other status.

    `biller`: the bill's biller name when the caller has read it already.
    """
    if payment.status != PaymentStatus.SUCCEEDED.value:
        return None
    card = session.get(SavedPaymentMethod, payment.payment_method_id)
    bill = session.get(Bill, payment.bill_id)
    paid_at = payment.completed_at or payment.updated_at
    amount = Money(payment.amount_minor, payment.currency)
    return Receipt(
        reference=receipt_reference(payment.id),
        payment_id=payment.id,
        amount=amount,
        amount_text=format_money(amount, user.locale),
        biller_name=biller if biller is not None else biller_name(session, payment.bill_id),
        bill_reference=bill.reference if bill else "",
        card_brand=card.brand if card else "",
        card_last4=card.last4 if card else "",
        paid_at=paid_at,
        paid_at_text=format_moment(paid_at, timezone=user.timezone, locale=user.locale),
        timezone=user.timezone,
        payment_intent_id=payment.payment_intent_id,
    )


def payment_result(session: Session, payment: Payment, now: datetime) -> PaymentResult:
    """The result view of a payment (its outcome, or where it stands)."""
    user = _owner(session, payment.user_id)
    amount = Money(payment.amount_minor, payment.currency)
    # The bill (kept for the receipt), its biller's name and the payment's schedule in one query.
    _bill, biller, schedule = session.execute(
        select(Bill, Biller.name, ScheduledPayment)
        .join(Biller, Bill.biller_id == Biller.id)
        .outerjoin(ScheduledPayment, ScheduledPayment.payment_id == payment.id)
        .where(Bill.id == payment.bill_id)
    ).one()
    runs_at, time_locked = _run_time(schedule, user, now)
    return PaymentResult(
        payment_id=payment.id,
        status=PaymentStatus(payment.status),
        amount=amount,
        amount_text=format_money(amount, user.locale),
        biller_name=str(biller),
        payment_intent_id=payment.payment_intent_id,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
        next_action_url=payment.next_action_url,
        pay_on=payment.pay_on,
        scheduled_payment_id=schedule.id if schedule is not None else None,
        pay_on_text=format_day(payment.pay_on, user.locale),
        day=day_relation(payment.pay_on, timezone=user.timezone, now=now),
        receipt=receipt_of(session, payment, user, biller=str(biller)),
        pending_reason=(
            PendingReason.CHARGE_IN_FLIGHT.value
            if payment.status in (PaymentStatus.PROCESSING.value, PaymentStatus.UNKNOWN.value)
            else None
        ),
        runs_at=runs_at,
        time_locked=time_locked,
    )


def _run_time(
    schedule: ScheduledPayment | None, user: User, now: datetime
) -> tuple[LocalMoment | None, bool]:
    """When a waiting schedule will be charged at the earliest, and whether its time lock still holds."""
    if schedule is None or schedule.status != ScheduleStatus.SCHEDULED.value:
        return None, False
    runs = start_of_day(schedule.pay_on, user.timezone)
    locked = False
    if schedule.not_before is not None:
        not_before = (
            schedule.not_before if schedule.not_before.tzinfo else schedule.not_before.replace(tzinfo=UTC)
        )
        # Held by the lock itself (not by its day): the lock ends after the day has begun.
        locked = now < not_before and not_before >= runs
        runs = max(runs, not_before)
    return local_moment(runs, timezone=user.timezone, locale=user.locale, now=now), locked


def payment_view(session: Session, payment: Payment) -> PaymentView:
    """The history view of a payment."""
    user = _owner(session, payment.user_id)
    amount = Money(payment.amount_minor, payment.currency)
    scheduled = session.execute(
        select(ScheduledPayment.id).where(
            ScheduledPayment.payment_id == payment.id,
            ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
        )
    ).first()
    moved_at = payment.completed_at or payment.updated_at or payment.created_at
    return PaymentView(
        payment_id=payment.id,
        biller_name=biller_name(session, payment.bill_id),
        amount=amount,
        amount_text=format_money(amount, user.locale),
        status=PaymentStatus(payment.status),
        pay_on=payment.pay_on,
        created_at=payment.created_at,
        payment_intent_id=payment.payment_intent_id,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
        pay_on_text=format_day(payment.pay_on, user.locale),
        scheduled=scheduled is not None,
        moved_at_text=format_moment(moved_at, timezone=user.timezone, locale=user.locale),
    )


def schedule_view(session: Session, schedule: ScheduledPayment, now: datetime) -> ScheduledPaymentView:
    """The view of a scheduled payment, its day related to the user's today."""
    user = _owner(session, schedule.user_id)
    amount = Money(schedule.amount_minor, schedule.currency)
    return ScheduledPaymentView(
        scheduled_payment_id=schedule.id,
        payment_id=schedule.payment_id,
        biller_name=biller_name(session, schedule.bill_id),
        amount=amount,
        amount_text=format_money(amount, user.locale),
        pay_on=schedule.pay_on,
        pay_on_text=format_day(schedule.pay_on, user.locale),
        status=schedule.status,
        day=day_relation(schedule.pay_on, timezone=user.timezone, now=now),
    )
