"""The notifications outbox: final outcomes the Telegram bot tells users about after their chat turn.

A row is queued in the same transaction as the status change it reports (`queue_notification`),
so a committed outcome is never left untold and a rolled-back one is never told. The bot reads
`pending_notifications` and marks each one sent (compare-and-set): delivery is at least once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Bill, Biller, Notification, Payment, User
from payments.money import Money, format_money
from payments.statuses import NotificationKind
from payments.unit_of_work import UnitOfWork, rowcount
from payments.views import NotificationView, receipt_of


def queue_notification(session: Session, payment: Payment, kind: NotificationKind, now: datetime) -> None:
    """Queue a notification in the caller's transaction (the outbox the bot delivers)."""
    session.add(Notification(user_id=payment.user_id, payment_id=payment.id, kind=kind.value, created_at=now))


class Outbox:
    """Reading and acknowledging the queued notifications."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def pending_notifications(self, *, limit: int = 50) -> list[NotificationView]:
        """Undelivered notifications of users reachable on Telegram (not blocking the bot), oldest first."""
        with self._uow.tx() as session:
            rows = session.execute(
                select(Notification, Payment, User, Biller.name)
                .join(Payment, Notification.payment_id == Payment.id)
                .join(User, Notification.user_id == User.id)
                .join(Bill, Payment.bill_id == Bill.id)
                .join(Biller, Bill.biller_id == Biller.id)
                .where(
                    Notification.sent_at.is_(None),
                    User.telegram_user_id.is_not(None),
                    # Blocked the bot: kept unsent until they come back (no retries meanwhile).
                    User.telegram_unreachable_since.is_(None),
                )
                .order_by(Notification.id)
                .limit(max(1, min(limit, 500)))
            ).all()
            return [
                NotificationView(
                    id=note.id,
                    user_id=user.id,
                    payment_id=payment.id,
                    telegram_user_id=user.telegram_user_id,
                    kind=NotificationKind(note.kind),
                    biller_name=str(name),
                    amount_text=format_money(Money(payment.amount_minor, payment.currency), user.locale),
                    failure_message=payment.failure_message,
                    locale=user.locale,
                    failure_code=payment.failure_code,
                    receipt=receipt_of(session, payment, user),
                )
                for note, payment, user, name in rows
            ]

    def mark_notification_sent(self, *, notification_id: int) -> bool:
        """Record a notification as delivered; False when it already was (compare-and-set on sent_at)."""
        with self._uow.tx() as session:
            result = session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.sent_at.is_(None))
                .values(sent_at=self._uow.now())
                .execution_options(synchronize_session=False)
            )
            return rowcount(result) == 1
