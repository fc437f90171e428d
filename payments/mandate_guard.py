"""One rule: a payment made under a standing mandate is charged only while that mandate authorises it.

A mandate authorises one of its payments while it is active, not past its last day (the user's
today), the payment is within its cap (in its currency) and within its monthly budget: the
payment's month counting the mandate's payments already charged or in flight and the uncharged
ones decided before it (first decided, first served). When a mandate stops authorising a payment
not charged yet (draft, waiting for the second approval, or approved and held by its time lock),
that payment is cancelled, its schedule cancelled, audited (`payment.mandate_withdrawn`, with the
reason) and the user told through the outbox (`AUTOPAY_CANCELLED`). The mandate moves (pause,
revoke by the user or staff, a new cap or budget, expiry, /forget) call `withdraw_unauthorised`;
the charging and approval paths call `mandate_refusal` again just before starting a charge, so no
path slips through (a worker round charges due payments before its mandate step expires mandates).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from db.models import Mandate, Payment, ScheduledPayment, User
from payments.dates import first_of_next_month, today_in
from payments.machine import StateMachine
from payments.mandate_step_up import close_mandate_offers
from payments.outbox import queue_notification
from payments.statuses import RESERVING, NotificationKind, PaymentStatus, ScheduleStatus

P = PaymentStatus
# A mandate's payment that may still be stopped: nothing has reached the gateway for it.
UNCHARGED = (P.DRAFT, P.AWAITING_APPROVAL, P.APPROVED)
ACTIVE = "active"  # payments.mandates.MandateStatus.ACTIVE (that module imports this one's users)
PROPOSED = "proposed"


def mandate_refusal(session: Session, payment: Payment, now: datetime) -> str | None:
    """Why the payment's mandate no longer authorises it at `now` — "mandate_<status>" (paused,
    revoked, expired; expired too once its last day is behind the user's today), "mandate_over_cap"
    or "mandate_over_budget" — or None when it does, or the payment has no mandate."""
    if payment.mandate_id is None:
        return None
    mandate = session.get(Mandate, payment.mandate_id, populate_existing=True)
    if mandate is None:
        return "mandate_revoked"
    if mandate.status != ACTIVE:
        return f"mandate_{mandate.status}"
    user = session.get_one(User, payment.user_id)
    if mandate.expires_on < today_in(user.timezone, now):
        return "mandate_expired"
    if payment.currency != mandate.currency or payment.amount_minor > mandate.cap_minor:
        return "mandate_over_cap"
    if _counted_in_month(session, payment) + payment.amount_minor > mandate.budget_minor:
        return "mandate_over_budget"
    return None


def _counted_in_month(session: Session, payment: Payment) -> int:
    """Minor units of the mandate's other payments in the payment's month that its budget counts
    first: charged or in flight (reserving, not uncharged), and uncharged ones decided before it."""
    first = payment.pay_on.replace(day=1)
    total = session.execute(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
            Payment.mandate_id == payment.mandate_id,
            Payment.id != payment.id,
            Payment.status.in_([s.value for s in RESERVING]),
            or_(Payment.status.not_in([s.value for s in UNCHARGED]), Payment.id < payment.id),
            Payment.pay_on >= first,
            Payment.pay_on < first_of_next_month(first),
        )
    ).scalar_one()
    return int(total)


def withdraw_payment(
    session: Session, machine: StateMachine, payment: Payment, reason: str, now: datetime
) -> bool:
    """Cancel one uncharged mandate payment (compare-and-set from its status), its schedule too,
    audited with `reason`, the user told; False when it was no longer uncharged."""
    status = P(payment.status)
    if status not in UNCHARGED or not machine.move(
        session, payment, status, P.CANCELLED, audit_event="payment.mandate_withdrawn", reason=reason,
        audit_data={"mandate_id": payment.mandate_id},
    ):  # fmt: skip
        return False
    session.execute(
        update(ScheduledPayment)
        .where(
            ScheduledPayment.payment_id == payment.id,
            ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
        )
        .values(status=ScheduleStatus.CANCELLED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    queue_notification(session, payment, NotificationKind.AUTOPAY_CANCELLED, now)
    session.refresh(payment)
    return True


def withdraw_unauthorised(session: Session, machine: StateMachine, mandate_id: int, now: datetime) -> int:
    """Cancel every uncharged payment of the mandate it no longer authorises; how many. A mandate
    that left the live states (paused, revoked, expired, cancelled) also loses its open offers and
    their pending codes (payments.mandate_step_up.close_mandate_offers): every move calls this."""
    session.flush()
    mandate = session.get(Mandate, mandate_id, populate_existing=True)
    if mandate is not None and mandate.status not in (ACTIVE, PROPOSED):
        close_mandate_offers(session, mandate_id, mandate.status, now)
    pending = session.scalars(
        select(Payment).where(
            Payment.mandate_id == mandate_id, Payment.status.in_([s.value for s in UNCHARGED])
        )
    ).all()
    count = 0
    for payment in pending:
        reason = mandate_refusal(session, payment, now)
        if reason is not None and withdraw_payment(session, machine, payment, reason, now):
            count += 1
    return count
