"""What staff see of payments: a filtered list, and one payment with its consent, audit trail,
refunds and the processor's own record of the charge (fetched through the gateway port).

Read-only; values only (the console words and lays them out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from db.models import AuditLogEntry, Bill, Biller, Consent, Payment, ScheduledPayment, User
from payments.config import ServiceConfig
from payments.consent import verify_consent
from payments.errors import PaymentNotFoundError
from payments.gateway import PaymentGateway
from payments.money import Money, format_money
from payments.refunds import RefundView, refundable, refunded_minor, refunds_of
from payments.statuses import PaymentStatus, ScheduleStatus
from payments.unit_of_work import UnitOfWork
from privacy.bearer import scrub_bearer

MAX_LIST = 500


@dataclass(frozen=True)
class PaymentFilter:
    """Which payments a staff list shows; None means "any". Days are UTC creation days, inclusive."""

    status: PaymentStatus | None = None
    user_id: int | None = None
    biller_id: int | None = None
    created_from: date | None = None
    created_to: date | None = None


@dataclass(frozen=True)
class StaffPaymentRow:
    """One payment in the staff list."""

    payment_id: int
    user_id: int
    user_name: str
    is_test_user: bool
    biller_id: int
    biller_name: str
    amount: Money
    amount_text: str
    refunded: Money
    refunded_text: str
    status: PaymentStatus
    pay_on: date
    created_at: datetime
    payment_intent_id: str | None


@dataclass(frozen=True)
class ConsentRecord:
    """The consent behind a payment and whether its signature still verifies."""

    summary_text: str
    confirmation: str
    confirmed_at: datetime
    signature_valid: bool


@dataclass(frozen=True)
class AuditRecord:
    """One audit row of a payment."""

    audit_id: int
    event: str
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class StaffPaymentDetail:
    """One payment as staff inspect it."""

    row: StaffPaymentRow
    bill_reference: str
    failure_code: str | None
    failure_message: str | None
    consent: ConsentRecord | None
    audit: list[AuditRecord]
    refunds: list[RefundView]
    refundable: Money
    # The processor's own record (Stripe's PaymentIntent), None when there is none or it is unreachable.
    processor_object: dict[str, Any] | None
    # Approved and waiting for its day or its time lock (staff may cancel it): its schedule's day and
    # the end of its cancel window (UTC; None without a time lock).
    waiting: bool = False
    held_until: datetime | None = None


@dataclass(frozen=True)
class BillerOption:
    """A biller to filter by."""

    biller_id: int
    name: str


def _query(flt: PaymentFilter) -> Select[tuple[Payment, User, Biller, str]]:
    query = (
        select(Payment, User, Biller, Bill.reference)
        .join(User, User.id == Payment.user_id)
        .join(Bill, Bill.id == Payment.bill_id)
        .join(Biller, Biller.id == Bill.biller_id)
    )
    if flt.status is not None:
        query = query.where(Payment.status == flt.status.value)
    if flt.user_id is not None:
        query = query.where(Payment.user_id == flt.user_id)
    if flt.biller_id is not None:
        query = query.where(Biller.id == flt.biller_id)
    if flt.created_from is not None:
        query = query.where(Payment.created_at >= datetime.combine(flt.created_from, datetime.min.time()))
    if flt.created_to is not None and flt.created_to < date.max:
        day_after = date.fromordinal(flt.created_to.toordinal() + 1)
        query = query.where(Payment.created_at < datetime.combine(day_after, datetime.min.time()))
    return query


def _row(session: Session, payment: Payment, user: User, biller: Biller) -> StaffPaymentRow:
    amount = Money(payment.amount_minor, payment.currency)
    refunded = Money(refunded_minor(session, payment.id), payment.currency)
    return StaffPaymentRow(
        payment_id=payment.id,
        user_id=user.id,
        user_name=user.name,
        # A demo-mode Telegram user is a try-out too: never listed as a live customer.
        is_test_user=user.is_test or user.is_demo,
        biller_id=biller.id,
        biller_name=biller.name,
        amount=amount,
        amount_text=format_money(amount, user.locale),
        refunded=refunded,
        refunded_text=format_money(refunded, user.locale),
        status=PaymentStatus(payment.status),
        pay_on=payment.pay_on,
        created_at=payment.created_at,
        payment_intent_id=payment.payment_intent_id,
    )


def _audit_record(entry: AuditLogEntry) -> AuditRecord:
    """One audit row as staff see it, with any bearer material scrubbed from its data."""
    return AuditRecord(
        audit_id=entry.id,
        event=entry.event,
        from_status=entry.from_status,
        to_status=entry.to_status,
        # Rows written before audit rows were scrubbed may still hold a signed link.
        data=scrub_bearer(dict(entry.data or {})),
        created_at=entry.created_at,
    )


def _live_schedule(session: Session, payment_id: int) -> ScheduledPayment | None:
    """The payment's schedule row while it still waits to run, else None."""
    return session.execute(
        select(ScheduledPayment).where(
            ScheduledPayment.payment_id == payment_id,
            ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
        )
    ).scalar_one_or_none()


class Oversight:
    """The staff's read side of payments."""

    def __init__(self, uow: UnitOfWork, gateway: PaymentGateway, config: ServiceConfig) -> None:
        self._uow = uow
        self._gateway = gateway
        self._config = config

    def list_payments(
        self, flt: PaymentFilter, *, limit: int = 100, offset: int = 0
    ) -> list[StaffPaymentRow]:
        """Payments matching `flt`, newest first."""
        limit = max(1, min(limit, MAX_LIST))
        with self._uow.tx() as session:
            rows = session.execute(
                _query(flt).order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit).offset(offset)
            ).all()
            return [_row(session, payment, user, biller) for payment, user, biller, _ in rows]

    def billers(self) -> list[BillerOption]:
        """Every biller, by name (for the filter)."""
        with self._uow.tx() as session:
            rows = session.execute(select(Biller.id, Biller.name).order_by(Biller.name)).all()
            return [BillerOption(biller_id=i, name=n) for i, n in rows]

    def payment_detail(self, *, payment_id: int) -> StaffPaymentDetail:
        """One payment with consent, audit trail, refunds and the processor's record."""
        with self._uow.tx() as session:
            found = session.execute(_query(PaymentFilter()).where(Payment.id == payment_id)).first()
            if found is None:
                raise PaymentNotFoundError(payment_id=payment_id)
            payment, user, biller, reference = found
            consent = session.execute(select(Consent).where(Consent.payment_id == payment.id)).scalar()
            audit = session.execute(
                select(AuditLogEntry).where(AuditLogEntry.payment_id == payment.id).order_by(AuditLogEntry.id)
            ).scalars()
            row = _row(session, payment, user, biller)
            intent_id = payment.payment_intent_id
            consent_record = self._consent_record(consent, payment) if consent is not None else None
            trail = [_audit_record(a) for a in audit]
            refunds = refunds_of(session, payment.id)
            left = refundable(session, payment)
            schedule = _live_schedule(session, payment.id)
            waiting = schedule is not None and payment.status == PaymentStatus.APPROVED.value
            held_until = schedule.not_before if schedule is not None else None
            failure_code, failure_message = payment.failure_code, payment.failure_message
        # Outside the transaction: the processor may be slow, and no row needs to stay read.
        # Without bearer material: the client secret and the challenge link act for the customer.
        processor_object = scrub_bearer(self._gateway.charge_object(intent_id)) if intent_id else None
        return StaffPaymentDetail(
            row=row,
            bill_reference=reference,
            failure_code=failure_code,
            failure_message=failure_message,
            consent=consent_record,
            audit=trail,
            refunds=refunds,
            refundable=left,
            processor_object=processor_object,
            waiting=waiting,
            held_until=held_until,
        )

    def _consent_record(self, consent: Consent, payment: Payment) -> ConsentRecord:
        """The consent as staff see it, with whether its signature still matches the payment."""
        return ConsentRecord(
            summary_text=consent.summary_text,
            confirmation=consent.confirmation,
            confirmed_at=consent.confirmed_at,
            signature_valid=verify_consent(
                self._config.consent_signing_key,
                consent,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
            ),
        )
