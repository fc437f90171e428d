"""What a user has paid and what waits for its day: the read side of a user's payments."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Payment, ScheduledPayment
from payments.statuses import PaymentStatus, ScheduleStatus
from payments.unit_of_work import UnitOfWork
from payments.views import PaymentView, ScheduledPaymentView, payment_view, schedule_view


class History:
    """A user's payments, newest first, and their scheduled ones, soonest first."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def payment_history(self, *, user_id: int, limit: int = 10) -> list[PaymentView]:
        """The user's latest payments (drafts left out), newest first."""
        with self._uow.tx() as session:
            payments = session.execute(
                select(Payment)
                .where(Payment.user_id == user_id, Payment.status != PaymentStatus.DRAFT.value)
                .order_by(Payment.created_at.desc(), Payment.id.desc())
                .limit(max(1, min(limit, 100)))
            ).scalars()
            return [payment_view(session, p) for p in payments]

    def pending_payments(self, *, user_id: int) -> list[ScheduledPaymentView]:
        """The user's scheduled payments still waiting for their day."""
        with self._uow.tx() as session:
            schedules = session.execute(
                select(ScheduledPayment)
                .where(
                    ScheduledPayment.user_id == user_id,
                    ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
                )
                .order_by(ScheduledPayment.pay_on, ScheduledPayment.id)
            ).scalars()
            now = self._uow.now()
            return [schedule_view(session, s, now) for s in schedules]
