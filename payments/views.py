"""Frozen views the use cases return — callers never see ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from payments.money import Money
from payments.statuses import NotificationKind, PaymentStatus


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
class PaymentSummary:
    """A drafted payment and the exact consent text to show before confirmation."""

    payment_id: int
    biller_name: str
    amount: Money
    amount_text: str
    card_label: str
    pay_on: date
    pay_on_text: str
    summary_text: str
    status: PaymentStatus
    bill_id: int = 0
    is_scheduled: bool = False


@dataclass(frozen=True)
class PaymentResult:
    """What happened when a payment was confirmed (or what had already happened)."""

    payment_id: int
    status: PaymentStatus
    amount: Money
    amount_text: str
    biller_name: str
    receipt_text: str
    payment_intent_id: str | None
    failure_code: str | None
    failure_message: str | None
    next_action_url: str | None
    pay_on: date | None = None
    scheduled_payment_id: int | None = None


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


@dataclass(frozen=True)
class ScheduledPaymentView:
    """A confirmed payment waiting for its day."""

    scheduled_payment_id: int
    payment_id: int
    biller_name: str
    amount: Money
    amount_text: str
    pay_on: date
    pay_on_text: str
    status: str


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
    """An undelivered notification of a payment's final outcome, with what its message needs."""

    id: int
    user_id: int
    payment_id: int
    telegram_user_id: int | None
    kind: NotificationKind
    biller_name: str
    # The amount formatted for the user's locale ("€84.20", "84,20 €").
    amount_text: str
    failure_message: str | None
    locale: str
