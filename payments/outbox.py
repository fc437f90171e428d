"""The notifications outbox: final outcomes the Telegram bot tells users about after their chat turn.

A row is queued in the same transaction as the status change it reports (`queue_notification`),
so a committed outcome is never left untold and a rolled-back one is never told. The bot reads
`pending_notifications` and marks each one sent (compare-and-set): delivery is at least once.

A bill's row (a reminder, a bill that needs the user) is a promise made at queue time and delivered
later, maybe days later: `pending_notifications` checks it again as it is read (`drop_reason`) and
drops one no longer relevant (kept, with `sent_at` set and `dropped_reason`, never sent).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session

from db.models import (
    Bill,
    Biller,
    Mandate,
    MandateConsent,
    Notification,
    Payment,
    ScheduledPayment,
    StepUpChallenge,
    User,
)
from payments.dates import format_moment
from payments.ledger import outstanding
from payments.money import Money, format_money
from payments.statuses import RESERVING, MandateStatus, NotificationKind, PaymentStatus, StepUpStatus
from payments.unit_of_work import OPEN_BILL_STATUSES, UnitOfWork, rowcount
from payments.views import NotificationView, receipt_of

# A payment in one of these holds the bill: it is being paid (succeeded ones only lower what is owed).
HOLDING_VALUES = sorted(status.value for status in RESERVING - {PaymentStatus.SUCCEEDED})
# A bill's own rows: checked again at delivery time (`drop_reason`), and offering to pay the bill.
BILL_KINDS = (NotificationKind.BILL_REMINDER.value, NotificationKind.BILL_NEEDS_YOU.value)


def _holding_payment(session: Session, bill_id: int) -> bool:
    """True when a live payment (approved, scheduled, in flight, awaiting approval) holds the bill."""
    return bool(
        session.execute(
            select(exists().where(Payment.bill_id == bill_id, Payment.status.in_(HOLDING_VALUES)))
        ).scalar()
    )


def still_to_pay(session: Session, bill: Bill) -> bool:
    """True when the bill is open, something is outstanding and no live payment holds it."""
    if bill.status not in OPEN_BILL_STATUSES or _holding_payment(session, bill.id):
        return False
    return outstanding(session, bill).amount_minor > 0


def drop_reason(session: Session, note: Notification, user: User, bill: Bill, now: datetime) -> str | None:
    """Why a bill's row (BILL_REMINDER, BILL_NEEDS_YOU) is no longer worth sending at `now`, or None.

    `reminders_off`: a reminder whose user switched reminders off since; `nothing_to_pay`: the bill
    is paid, void or held by a live payment; `past_due`: a reminder whose due date has passed in the
    user's zone (a bill that needs the user still does, overdue or not). Rows about payments: None.
    """
    if note.payment_id is not None or note.kind not in BILL_KINDS:
        return None
    reminder = note.kind == NotificationKind.BILL_REMINDER.value
    if reminder and not user.reminders_enabled:
        return "reminders_off"
    if not still_to_pay(session, bill):
        return "nothing_to_pay"
    if reminder and bill.due_date < now.astimezone(ZoneInfo(user.timezone)).date():
        return "past_due"
    return None


def queue_notification(
    session: Session,
    payment: Payment,
    kind: NotificationKind,
    now: datetime,
    *,
    hold_until: datetime | None = None,
) -> None:
    """Queue a notification in the caller's transaction (the outbox the bot delivers).

    `hold_until`: an outcome the user is being told in their own chat turn; it is sent only if the
    front end has not acknowledged that turn's reply (`acknowledge_turn_outcomes`) by then.
    """
    session.add(
        Notification(
            user_id=payment.user_id,
            payment_id=payment.id,
            kind=kind.value,
            created_at=now,
            hold_until=hold_until,
        )
    )


def queue_bill_notification(
    session: Session, bill: Bill, kind: NotificationKind, now: datetime
) -> Notification:
    """Queue a notification about a bill (a reminder, a bill a mandate could not pay) in the
    caller's transaction; returns the row (flushed, so its id is known)."""
    note = Notification(user_id=bill.user_id, bill_id=bill.id, kind=kind.value, created_at=now)
    session.add(note)
    session.flush()
    return note


class Outbox:
    """Reading and acknowledging the queued notifications."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def pending_notifications(self, *, limit: int = 50) -> list[NotificationView]:
        """Undelivered notifications of users reachable on Telegram (not blocking the bot), oldest first
        (held ones once due)."""
        now = self._uow.now()
        return self._views(
            (Notification.hold_until.is_(None)) | (Notification.hold_until <= now), limit=limit
        )

    def turn_outcomes(self, *, user_id: int, since: datetime) -> list[NotificationView]:
        """Outcomes reached in the user's chat turns since `since` and not yet told (held, unsent).

        The front end asks when a turn's reply did not reach the user, and tells these instead.
        """
        return self._views(
            (Notification.user_id == user_id)
            & Notification.hold_until.is_not(None)
            & (Notification.created_at >= since),
            limit=50,
        )

    def acknowledge_turn_outcomes(
        self, *, user_id: int, since: datetime, payment_ids: Collection[int]
    ) -> int:
        """The user's chat turn since `since` was answered, telling the outcomes of `payment_ids`:
        those held outcomes need no message; how many.

        Only the payments the delivered turn told about: an outcome reached meanwhile for another
        turn (one the front end gave up on) stays held and is sent when its hold ends (issue 10).
        """
        if not payment_ids:
            return 0
        with self._uow.tx() as session:
            result = session.execute(
                update(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.sent_at.is_(None),
                    Notification.hold_until.is_not(None),
                    Notification.created_at >= since,
                    Notification.payment_id.in_(sorted(set(payment_ids))),
                )
                .values(sent_at=self._uow.now())
                .execution_options(synchronize_session=False)
            )
            return rowcount(result)

    def _views(
        self, condition: ColumnElement[bool], *, limit: int, any_channel: bool = False
    ) -> list[NotificationView]:
        # A payment's notification names its bill through the payment; a bill's names it directly.
        bill_id = func.coalesce(Payment.bill_id, Notification.bill_id)
        with self._uow.tx() as session:
            rows = session.execute(
                select(Notification, Payment, User, Bill, Biller.name)
                .outerjoin(Payment, Notification.payment_id == Payment.id)
                .join(User, Notification.user_id == User.id)
                .outerjoin(Bill, bill_id == Bill.id)  # a mandate's code has no bill
                .outerjoin(Biller, Bill.biller_id == Biller.id)
                .where(
                    Notification.sent_at.is_(None),
                    # Telegram users (the console's test chat asks for its own users' codes).
                    User.telegram_user_id.is_not(None) if not any_channel else Notification.id.is_not(None),
                    # Blocked the bot: kept unsent until they come back (no retries meanwhile).
                    User.telegram_unreachable_since.is_(None),
                    condition,
                )
                .order_by(Notification.id)
                .limit(max(1, min(limit, 500)))
            ).all()
            now = self._uow.now()
            views = []
            for note, payment, user, bill, name in rows:
                if note.step_up_challenge_id is not None:
                    views.append(_mandate_code_view(session, note, user))
                    continue
                if bill is None:
                    continue
                reason = drop_reason(session, note, user, bill, now)
                if reason is None:
                    views.append(_view(session, note, payment, user, bill, str(name)))
                else:  # no longer relevant: kept as a record, never sent
                    note.sent_at, note.dropped_reason = now, reason
            return views

    def mark_notification_sent(self, *, notification_id: int) -> bool:
        """Record a notification as delivered; False when it already was (compare-and-set on sent_at)."""
        with self._uow.tx() as session:
            result = session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.sent_at.is_(None))
                .values(sent_at=self._uow.now())
                .execution_options(synchronize_session=False)
            )
            sent = rowcount(result) == 1
            if sent:
                _forget_delivered_code(session, notification_id)
            return sent

    # --- issue 13 item 2: the console's test chat shows a code's separate message itself ---------
    def pending_codes_for(self, *, user_id: int) -> list[NotificationView]:
        """A user's undelivered one-time-code messages, whatever their channel (the console's test
        users have no Telegram: its chat shows them as a separate message and marks them sent)."""
        return self._views(
            (Notification.user_id == user_id) & (Notification.kind == NotificationKind.STEP_UP_CODE.value),
            limit=10,
            any_channel=True,
        )


def _view(
    session: Session, note: Notification, payment: Payment | None, user: User, bill: Bill, biller: str
) -> NotificationView:
    """The view of one outbox row: a payment's amount and outcome, or what is owed on the bill and its
    due day."""
    if payment is None:
        # What is still owed now (issue 13 item 4: a reminder of a bill paid in part names the rest).
        owed = outstanding(session, bill)
        amount = owed if owed.amount_minor > 0 else Money(bill.amount_due_minor, bill.currency)
        return NotificationView(
            id=note.id,
            user_id=user.id,
            payment_id=None,
            telegram_user_id=user.telegram_user_id,
            kind=NotificationKind(note.kind),
            biller_name=biller,
            amount_text=format_money(amount, user.locale),
            failure_message=None,
            locale=user.locale,
            bill_id=bill.id,
            due_date=bill.due_date,
            pay_bill_id=bill.id if note.kind in BILL_KINDS else None,
        )
    code = (
        _undelivered_code(session, payment.id) if note.kind == NotificationKind.STEP_UP_CODE.value else None
    )
    return NotificationView(
        code=code,
        id=note.id,
        user_id=user.id,
        payment_id=payment.id,
        telegram_user_id=user.telegram_user_id,
        kind=NotificationKind(note.kind),
        biller_name=biller,
        amount_text=format_money(Money(payment.amount_minor, payment.currency), user.locale),
        failure_message=payment.failure_message,
        locale=user.locale,
        failure_code=payment.failure_code,
        receipt=receipt_of(session, payment, user),
        bill_id=bill.id,
        due_date=bill.due_date,
        autopay=payment.mandate_id is not None,
        when_text=_runs_at(session, note, payment, user),
    )


def _runs_at(session: Session, note: Notification, payment: Payment, user: User) -> str | None:
    """When a held automatic payment runs (its time lock's end) in the user's zone and locale."""
    if note.kind != NotificationKind.AUTOPAY_HELD.value:
        return None
    not_before = session.scalar(
        select(ScheduledPayment.not_before).where(ScheduledPayment.payment_id == payment.id)
    )
    if not_before is None:
        return None
    return format_moment(not_before, timezone=user.timezone, locale=user.locale)


# --- issue 13 item 2: a one-time code travels in plain only on its way out ----------------------


def _undelivered_code(session: Session, payment_id: int) -> str | None:
    """The plain code of the payment's pending challenge while undelivered (decrypted from `code_sealed`)."""
    return session.execute(
        select(StepUpChallenge.code_sealed).where(
            StepUpChallenge.payment_id == payment_id, StepUpChallenge.status == StepUpStatus.PENDING.value
        )
    ).scalar_one_or_none()


def _forget_delivered_code(session: Session, notification_id: int) -> None:
    """A code's message was delivered: only its hash stays (`code_sealed` cleared)."""
    note = session.get(Notification, notification_id)
    if note is None or note.kind != NotificationKind.STEP_UP_CODE.value:
        return
    if note.step_up_challenge_id is not None:  # a mandate offer's code
        subject = StepUpChallenge.id == note.step_up_challenge_id
    elif note.payment_id is not None:
        subject = StepUpChallenge.payment_id == note.payment_id
    else:
        return
    session.execute(
        update(StepUpChallenge)
        .where(subject)
        .values(code_sealed=None)
        .execution_options(synchronize_session=False)
    )


def _mandate_code_view(session: Session, note: Notification, user: User) -> NotificationView:
    """A mandate offer's code message: its biller and monthly budget, and the code while undelivered."""
    challenge = session.get(StepUpChallenge, note.step_up_challenge_id)
    offer = session.get(MandateConsent, challenge.mandate_consent_id) if challenge is not None else None
    mandate = session.get(Mandate, offer.mandate_id) if offer is not None else None
    biller = session.get(Biller, mandate.biller_id) if mandate is not None else None
    pending = challenge is not None and challenge.status == StepUpStatus.PENDING.value
    budget = Money(offer.budget_minor, offer.currency) if offer is not None else None
    return NotificationView(
        id=note.id,
        user_id=user.id,
        payment_id=None,
        telegram_user_id=user.telegram_user_id,
        kind=NotificationKind(note.kind),
        biller_name=biller.name if biller is not None else "",
        amount_text=format_money(budget, user.locale) if budget is not None else "",
        failure_message=None,
        locale=user.locale,
        code=challenge.code_sealed if pending and challenge is not None else None,
        mandate_id=mandate.id if mandate is not None else None,
        mandate_change=mandate is not None and mandate.status != MandateStatus.PROPOSED.value,
    )
