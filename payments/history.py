"""What a user has paid and what waits for its day: the read side of a user's payments.

History shows payments, not drafts: a draft, and a draft cancelled before it was ever confirmed
(the user said no, or it expired), never happened as far as the user is concerned and is left
out. A consented payment that was cancelled later (a scheduled one, or one staff refused) stays.
"""

from __future__ import annotations

from sqlalchemy import and_, not_, select

from db.models import Payment, ScheduledPayment
from payments.statuses import PaymentStatus, ScheduleStatus
from payments.unit_of_work import UnitOfWork
from payments.views import PaymentView, ScheduledPaymentView, payment_view, schedule_view

# The most payments one history answer holds (the Telegram bot pages through them).
HISTORY_MAX = 500


class History:
    """A user's payments, newest first, and their scheduled ones, soonest first."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def payment_history(self, *, user_id: int, limit: int = 10) -> list[PaymentView]:
        """The user's latest payments (drafts and drafts cancelled unconfirmed left out), newest first."""
        cancelled_draft = and_(
            Payment.status == PaymentStatus.CANCELLED.value, Payment.confirmed_at.is_(None)
        )
        with self._uow.tx() as session:
            payments = session.execute(
                select(Payment)
                .where(
                    Payment.user_id == user_id,
                    Payment.status != PaymentStatus.DRAFT.value,
                    not_(cancelled_draft),
                )
                .order_by(Payment.created_at.desc(), Payment.id.desc())
                .limit(max(1, min(limit, HISTORY_MAX)))
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
