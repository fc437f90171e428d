"""The payment state machine's moves: one compare-and-set UPDATE per transition, audited when it wins.

`StateMachine.move` is the only way a payment's status changes; `settle` applies what the gateway
said (updating the bill on success and queueing the outbox notification for an outcome the user
was not waiting for in chat). Both run inside the caller's transaction.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from db.models import Bill, Payment, User
from observability.context import payment as about_payment
from payments.audit import append_audit
from payments.consent import bind_intent
from payments.gateway import ChargeOutcome, ChargeStatus, FailureCode
from payments.outbox import queue_notification
from payments.statuses import CORRECTIONS, BillStatus, NotificationKind, PaymentStatus, can_transition
from payments.unit_of_work import UnitOfWork, note_status_reached, rowcount

log = logging.getLogger(__name__)

P = PaymentStatus
# Staff must look at these (log shipping turns the logger into a page): a charge the records missed.
alerts = logging.getLogger("paychat.alerts")
SETTLED_BY_GATEWAY = {
    ChargeStatus.SUCCEEDED: P.SUCCEEDED,
    ChargeStatus.FAILED: P.FAILED,
    ChargeStatus.REQUIRES_ACTION: P.REQUIRES_ACTION,
    ChargeStatus.UNKNOWN: P.UNKNOWN,
}
# Final statuses the user hears about later when they were reached outside their own chat turn.
NOTIFIED_OUTCOMES = {P.SUCCEEDED: NotificationKind.SUCCEEDED, P.FAILED: NotificationKind.FAILED}


class StateMachine:
    """Compare-and-set transitions of payments (payments.statuses.TRANSITIONS), audited."""

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        consent_key: bytes,
        outcome_hold: timedelta = timedelta(seconds=60),
    ) -> None:
        self._uow = uow
        # How long an outcome told in the user's own chat turn waits in the outbox (see `settle`).
        self._outcome_hold = outcome_hold
        # Signs a PaymentIntent into the consent receipt wherever one is first recorded (bind_intent).
        self._consent_key = consent_key

    def move(
        self,
        session: Session,
        payment: Payment,
        expected: PaymentStatus,
        new: PaymentStatus,
        *,
        audit_event: str = "payment.transition",
        reason: str | None = None,
        audit_data: dict[str, Any] | None = None,
        **values: Any,
    ) -> bool:
        """One compare-and-set UPDATE of the status; audited when it wins. False when it lost."""
        if not can_transition(expected, new):
            raise ValueError(f"illegal transition {expected} → {new}")
        written = {"status": new.value, "updated_at": self._uow.now(), **values}
        result = session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status == expected.value)
            .values(**written)
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        # The compare-and-set won: the row holds exactly what was written (no re-read, issue 12),
        # as the database hands it back (SQLite: naive UTC datetimes).
        naive = session.get_bind().dialect.name == "sqlite"
        for key, value in written.items():
            if naive and isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            set_committed_value(payment, key, value)
        data: dict[str, Any] = {
            k: v
            for k, v in values.items()
            if isinstance(v, str | int) and v is not None and k != "next_action_url"
        }
        if values.get("next_action_url"):
            # The challenge link acts for whoever holds it: the audit keeps only that one was sent.
            data["challenge_sent"] = True
            data["challenge_host"] = urlsplit(str(values["next_action_url"])).hostname or ""
        if reason:
            data["reason"] = reason
        data.update(audit_data or {})
        append_audit(
            session,
            event=audit_event,
            payment_id=payment.id,
            user_id=payment.user_id,
            from_status=expected.value,
            to_status=new.value,
            data=data,
        )
        note_status_reached(session, new.value)
        with about_payment(payment.id):
            log.info("payment %s -> %s", expected.value, new.value, extra={"event": audit_event})
        return True

    def settle(
        self,
        session: Session,
        payment: Payment,
        expected: PaymentStatus,
        outcome: ChargeOutcome,
        *,
        event: str,
        user_waiting: bool = False,
    ) -> bool:
        """Move `payment` from `expected` to what the gateway said, updating the bill on success.

        A final outcome reached while the user is not `user_waiting` in their confirming chat turn
        (approval, schedule, webhook, return page, reconciliation) queues a notification in the
        same transaction, so a committed outcome is never left untold and a rolled-back one is never told.
        One reached in the user's turn is queued too, held for `outcome_hold`: their front end drops
        it once the turn's reply is delivered, and it is sent when that reply was lost (a turn
        longer than the front end's timeout, a connection reset after the answer).
        """
        new = SETTLED_BY_GATEWAY.get(outcome.status, P.UNKNOWN)
        if new == expected or not can_transition(expected, new):
            return False
        bill = session.execute(select(Bill).where(Bill.id == payment.bill_id).with_for_update()).scalar_one()
        values: dict[str, Any] = {
            "failure_code": str(outcome.failure_code) if outcome.failure_code else None,
            "failure_message": outcome.failure_message,
            "next_action_url": outcome.next_action_url,
        }
        if outcome.payment_intent_id:
            values["payment_intent_id"] = outcome.payment_intent_id
        if new in (P.SUCCEEDED, P.FAILED):
            values["completed_at"] = self._uow.now()
        if not self.move(session, payment, expected, new, audit_event=event, **values):
            return False
        # The one place (with correct_late_success) a PaymentIntent is recorded: the charge's answer,
        # reconciliation, a webhook, the 3-D Secure return or the worker. The receipt signs it here.
        bind_intent(session, payment=payment, key=self._consent_key)
        if new == P.SUCCEEDED:
            self._mark_paid(session, bill)
        kind = NOTIFIED_OUTCOMES.get(new)
        if kind is not None and not user_waiting:
            queue_notification(session, payment, kind, self._uow.now())
        elif kind is not None and self._reachable_later(session, payment):
            now = self._uow.now()
            queue_notification(session, payment, kind, now, hold_until=now + self._outcome_hold)
        return True

    @staticmethod
    def _reachable_later(session: Session, payment: Payment) -> bool:
        """True when the outbox can reach the user outside a turn (a Telegram user)."""
        user = session.get(User, payment.user_id)
        return user is not None and user.telegram_user_id is not None

    def correct_late_success(
        self, session: Session, payment: Payment, outcome: ChargeOutcome, *, event: str
    ) -> bool:
        """failed → succeeded: the processor holds a charge for a payment we recorded as never charged.

        Not a move of the state machine but an explicit correction (statuses.CORRECTIONS): only a
        payment failed with `charge_not_created` is corrected, audited as `payment.corrected`, the
        bill updated, the user told (`payment_succeeded_late`) and an alert logged for staff (the
        user may have paid the bill again meanwhile: check for a refund).
        """
        if outcome.status != ChargeStatus.SUCCEEDED or (P.FAILED, P.SUCCEEDED) not in CORRECTIONS:
            return False
        now = self._uow.now()
        result = session.execute(
            update(Payment)
            .where(
                Payment.id == payment.id,
                Payment.status == P.FAILED.value,
                Payment.failure_code == FailureCode.CHARGE_NOT_CREATED.value,
            )
            .values(
                status=P.SUCCEEDED.value,
                payment_intent_id=outcome.payment_intent_id,
                failure_code=None,
                failure_message=None,
                completed_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return False
        append_audit(
            session,
            event="payment.corrected",
            payment_id=payment.id,
            user_id=payment.user_id,
            from_status=P.FAILED.value,
            to_status=P.SUCCEEDED.value,
            data={
                "reason": "late_success",
                "found_by": event,
                "payment_intent_id": outcome.payment_intent_id or "",
            },
        )
        session.refresh(payment)
        bind_intent(session, payment=payment, key=self._consent_key)
        bill = session.execute(select(Bill).where(Bill.id == payment.bill_id).with_for_update()).scalar_one()
        self._mark_paid(session, bill)
        queue_notification(session, payment, NotificationKind.SUCCEEDED_LATE, now)
        alerts.warning(
            "ALERT payment %s of user %s was recorded failed (no charge found) but PaymentIntent %s "
            "succeeded: record corrected to succeeded; check the bill %s for a second payment to refund",
            payment.id,
            payment.user_id,
            outcome.payment_intent_id,
            payment.bill_id,
        )
        return True

    def _mark_paid(self, session: Session, bill: Bill) -> None:
        """The bill is paid once its succeeded payments cover it, else partially paid."""
        paid = session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
                Payment.bill_id == bill.id, Payment.status == P.SUCCEEDED.value
            )
        ).scalar_one()
        bill.status = (
            BillStatus.PAID if int(paid) >= bill.amount_due_minor else BillStatus.PARTIALLY_PAID
        ).value
        bill.updated_at = self._uow.now()
