"""Staff second approval ("multi-signature") of large payments the user has already consented to.

A consented payment of at least `ServiceConfig.second_approval_minor` waits in `awaiting_approval`.
Approving it (once, however often or concurrently it is called) charges it or schedules it for its
day (or holds it while its time lock, counted from the user's consent, still runs); rejecting it
cancels it and tells the user through the outbox. Staff may also cancel a payment still waiting for
its day or its time lock (`cancel_held_payment`, audited).
"""

from __future__ import annotations

from sqlalchemy import select

from db.models import Payment, ScheduledPayment, User
from payments.charging import Charging
from payments.errors import PaymentNotFoundError, PaymentNotHeldError, PaymentNotPendingError
from payments.machine import StateMachine
from payments.mandate_guard import mandate_refusal, withdraw_payment
from payments.money import Money, format_money
from payments.outbox import queue_notification
from payments.statuses import NotificationKind, PaymentStatus, ScheduleStatus
from payments.unit_of_work import UnitOfWork, load_user
from payments.views import ApprovalView, PaymentResult, PaymentView, biller_name, payment_view

P = PaymentStatus


class Approvals:
    """What staff see and decide on the console's approvals page."""

    def __init__(self, uow: UnitOfWork, machine: StateMachine, charging: Charging) -> None:
        self._uow = uow
        self._machine = machine
        self._charging = charging

    def payments_awaiting_approval(self) -> list[ApprovalView]:
        """Every consented payment waiting for a second approval, oldest first (for staff)."""
        with self._uow.tx() as session:
            rows = session.execute(
                select(Payment, User)
                .join(User, Payment.user_id == User.id)
                .where(Payment.status == P.AWAITING_APPROVAL.value)
                .order_by(Payment.created_at, Payment.id)
            ).all()
            return [
                ApprovalView(
                    payment_id=payment.id,
                    user_name=user.name,
                    biller_name=biller_name(session, payment.bill_id),
                    amount=Money(payment.amount_minor, payment.currency),
                    amount_text=format_money(Money(payment.amount_minor, payment.currency), user.locale),
                    pay_on=payment.pay_on,
                    created_at=payment.created_at,
                    consent_text=payment.summary_text,
                )
                for payment, user in rows
            ]

    def approve_payment(self, *, payment_id: int, approver: str) -> PaymentResult:
        """Second approval: awaiting_approval → approved (audited with `approver`), then charge or schedule.

        Approving twice or concurrently charges once: only the call whose compare-and-set wins
        charges; the others return the payment's result (waiting briefly while it is charged).
        PaymentNotPendingError when it is no longer waiting; a payment whose standing mandate no
        longer authorises it is cancelled instead (the user told) and refused the same way.
        """
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise PaymentNotFoundError(payment_id=payment_id)
            user_id = payment.user_id
            user = load_user(session, user_id)
            now = self._uow.now()
            refusal = mandate_refusal(session, payment, now)
            if refusal is not None and payment.status == P.AWAITING_APPROVAL.value:
                withdraw_payment(session, self._machine, payment, refusal, now)
        if refusal is not None:
            raise PaymentNotPendingError(payment_id=payment_id, status=P.CANCELLED.value, reason=refusal)
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id, populate_existing=True)
            assert payment is not None
            user = load_user(session, user_id)
            won = self._machine.move(
                session,
                payment,
                P.AWAITING_APPROVAL,
                P.APPROVED,
                audit_event="payment.second_approval",
                audit_data={"approver": approver[:200]},
            )
            if not won:
                session.refresh(payment)
                if payment.status in (P.DRAFT.value, P.CANCELLED.value):
                    raise PaymentNotPendingError(payment_id=payment_id, status=payment.status)
            scheduled = False
            if won:
                # The time lock runs from the user's consent: a long wait for staff may have used it up.
                session.refresh(payment)
                consented_at = payment.confirmed_at or self._uow.now()
                not_before = self._charging.time_lock(session, payment, user, consented_at=consented_at)
                scheduled = self._charging.schedule_if_dated(
                    session, payment, user, self._uow.now(), not_before=not_before
                )
        if won and not scheduled:
            return self._charging.charge(payment_id, user_waiting=False)
        return self._charging.wait_for_result(user_id, payment_id)

    def reject_payment(self, *, payment_id: int, approver: str, reason: str) -> PaymentView:
        """Refuse the second approval: awaiting_approval → cancelled, audited with approver and reason."""
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise PaymentNotFoundError(payment_id=payment_id)
            moved = self._machine.move(
                session,
                payment,
                P.AWAITING_APPROVAL,
                P.CANCELLED,
                audit_event="payment.second_approval_rejected",
                reason="rejected",
                audit_data={"approver": approver[:200], "rejection": reason[:500]},
            )
            if not moved:
                session.refresh(payment)
                raise PaymentNotPendingError(payment_id=payment_id, status=payment.status)
            # The user was told they would hear back: the outbox row commits with the cancellation.
            queue_notification(session, payment, NotificationKind.CANCELLED_BY_STAFF, self._uow.now())
            return payment_view(session, payment)

    def cancel_held_payment(self, *, payment_id: int, staff: str, reason: str = "") -> PaymentView:
        """Staff cancel a payment still waiting for its day or its time lock: approved → cancelled,
        audited with who and why, its schedule cancelled and the user told (all in one transaction).

        PaymentNotHeldError when it is no longer waiting (already charged, cancelled, or never
        approved); PaymentNotFoundError when there is no such payment.
        """
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise PaymentNotFoundError(payment_id=payment_id)
            schedule = session.execute(
                select(ScheduledPayment).where(
                    ScheduledPayment.payment_id == payment_id,
                    ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
                )
            ).scalar_one_or_none()
            if schedule is None or payment.status != P.APPROVED.value:
                raise PaymentNotHeldError(payment_id=payment_id, status=payment.status)
            moved = self._machine.move(
                session,
                payment,
                P.APPROVED,
                P.CANCELLED,
                audit_event="payment.cancelled_by_staff",
                reason="cancelled_by_staff",
                audit_data={"staff": staff[:200], "note": reason[:500]},
            )
            if not moved:
                session.refresh(payment)
                raise PaymentNotHeldError(payment_id=payment_id, status=payment.status)
            schedule.status = ScheduleStatus.CANCELLED.value
            schedule.updated_at = self._uow.now()
            queue_notification(session, payment, NotificationKind.CANCELLED_BY_STAFF, self._uow.now())
            session.refresh(payment)
            return payment_view(session, payment)
