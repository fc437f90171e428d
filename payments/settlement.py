"""Settling payments after the confirming turn: the worker's rounds, webhooks and the return page.

The worker charges scheduled payments whose day has come, reconciles payments whose outcome is
unknown by asking the gateway by their idempotency key, and expires drafts and approvals nobody
answered. Stripe's webhooks and the customer's return from 3-D Secure only make the core ask the
gateway what is true now and settle the payment accordingly.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import (
    Payment,
    ProcessedWebhookEvent,
    SavedPaymentMethod,
    ScheduledPayment,
    StripeCustomer,
    User,
)
from payments.charging import Charging
from payments.config import ServiceConfig
from payments.dates import today_in
from payments.errors import WebhookInvalidError
from payments.gateway import ChargeOutcome, ChargeStatus, FailureCode, PaymentGateway
from payments.machine import SETTLED_BY_GATEWAY, StateMachine
from payments.outbox import queue_notification
from payments.statuses import NotificationKind, PaymentStatus, ScheduleStatus
from payments.unit_of_work import UnitOfWork, owned_payment, payment_by_intent, rowcount
from payments.views import PaymentResult, ReconcileReport

P = PaymentStatus
alerts = logging.getLogger("paychat.alerts")
# How many payments failed for lack of a charge one reconciliation round looks up again.
LATE_CHECKS_PER_ROUND = 50
# Past the grace period and the processor has no charge with our key: none was made.
NOT_CREATED = ChargeOutcome(status=ChargeStatus.FAILED, failure_code=FailureCode.CHARGE_NOT_CREATED)


class Settlement:
    """Time-driven and processor-driven settlement of payments."""

    def __init__(
        self,
        uow: UnitOfWork,
        machine: StateMachine,
        charging: Charging,
        gateway: PaymentGateway,
        config: ServiceConfig,
    ) -> None:
        self._uow = uow
        self._machine = machine
        self._charging = charging
        self._gateway = gateway
        self._config = config

    def run_due_payments(self) -> list[PaymentResult]:
        """Charge every scheduled payment whose day has come and whose time lock has passed (worker)."""
        with self._uow.tx() as session:
            due = session.execute(
                select(ScheduledPayment, User)
                .join(User, ScheduledPayment.user_id == User.id)
                .where(ScheduledPayment.status == ScheduleStatus.SCHEDULED.value)
                .order_by(ScheduledPayment.pay_on, ScheduledPayment.id)
            ).all()
            now = self._uow.now()
            # Its day has come in the user's zone and its time lock (cancel window) has passed.
            ready = [
                (s.id, s.payment_id)
                for s, u in due
                if s.pay_on <= today_in(u.timezone, now)
                and (s.not_before is None or _aware(s.not_before) <= now)
            ]
        results = []
        for schedule_id, payment_id in ready:
            with self._uow.tx() as session:
                moved = session.execute(
                    update(ScheduledPayment)
                    .where(
                        ScheduledPayment.id == schedule_id,
                        ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
                    )
                    .values(status=ScheduleStatus.EXECUTED.value, updated_at=self._uow.now())
                )
                if rowcount(moved) != 1:
                    continue
            results.append(self._charging.charge(payment_id, user_waiting=False))
        return results

    def reconcile_unknown_payments(self, *, older_than: timedelta = timedelta(seconds=60)) -> ReconcileReport:
        """Settle `unknown` (and long-stuck `processing`) payments by asking the gateway by their key.

        A payment whose charge call may still be running (before its `charge_deadline_at`) is never
        failed: only a charge the gateway shows settles it then. After the deadline, no PaymentIntent
        under its idempotency key means none was made: failed (`charge_not_created`). Payments failed
        that way within `late_success_window` are looked up again; a charge found after all corrects
        the record (`StateMachine.correct_late_success`).
        """
        now = self._uow.now()
        cutoff = now - older_than
        with self._uow.tx() as session:
            ids = list(
                session.execute(
                    select(Payment.id)
                    .where(
                        Payment.status.in_([P.UNKNOWN.value, P.PROCESSING.value]),
                        Payment.updated_at <= cutoff,
                    )
                    .order_by(Payment.id)
                ).scalars()
            )
            failed_for_lack_of_charge = list(
                session.execute(
                    select(Payment.id)
                    .where(
                        Payment.status == P.FAILED.value,
                        Payment.failure_code == FailureCode.CHARGE_NOT_CREATED.value,
                        Payment.completed_at >= now - self._config.late_success_window,
                    )
                    # Newest first, a bounded number per round: each is a lookup at the processor.
                    .order_by(Payment.completed_at.desc(), Payment.id.desc())
                    .limit(LATE_CHECKS_PER_ROUND)
                ).scalars()
            )
        settled: dict[int, PaymentStatus] = {}
        for payment_id in ids:
            status = self._reconcile(payment_id)
            if status is not None:
                settled[payment_id] = status
        for payment_id in failed_for_lack_of_charge:
            if payment_id not in settled and self._look_for_late_charge(payment_id):
                settled[payment_id] = P.SUCCEEDED
        return ReconcileReport(checked=len(ids) + len(failed_for_lack_of_charge), settled=settled)

    def _lookup(self, payment_id: int) -> ChargeOutcome | None:
        """What the gateway knows of the payment's charge, by intent id or by idempotency key."""
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                return None
            card = session.get(SavedPaymentMethod, payment.payment_method_id)
            customer = session.get(StripeCustomer, card.customer_id) if card else None
            customer_id = customer.stripe_customer_id if customer else ""
        if payment.payment_intent_id:
            return self._gateway.retrieve_charge(payment.payment_intent_id)
        return self._gateway.find_charge(idempotency_key=payment.idempotency_key, customer_id=customer_id)

    def _reconcile(self, payment_id: int) -> PaymentStatus | None:
        """Ask the gateway about one stuck payment and settle it; its new status, or None."""
        now = self._uow.now()
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                return None
            deadline = payment.charge_deadline_at
            may_still_run = deadline is not None and now < _aware(deadline)
            if payment.status == P.PROCESSING.value and may_still_run:
                return None  # the charging call is still out: it records its own answer
        outcome = self._lookup(payment_id)
        if outcome is None:
            return None
        if outcome.status == ChargeStatus.NOT_FOUND:
            if may_still_run:
                return None  # a request still on its way may yet create it
            outcome = NOT_CREATED
        if outcome.status == ChargeStatus.UNKNOWN:
            return None
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            if payment.status == P.PROCESSING.value:
                self._machine.move(session, payment, P.PROCESSING, P.UNKNOWN, reason="reconcile_stuck")
            if self._machine.settle(session, payment, P.UNKNOWN, outcome, event="payment.reconciled"):
                return SETTLED_BY_GATEWAY[outcome.status]
        return None

    def _look_for_late_charge(self, payment_id: int) -> bool:
        """Look again for a charge of a payment failed for lack of one; True when one corrected it.

        A charge found waiting for 3-D Secure is cancelled at the processor instead, so it can
        never complete behind a record that says the payment failed.
        """
        outcome = self._lookup(payment_id)
        if outcome is None:
            return False
        if outcome.status == ChargeStatus.REQUIRES_ACTION and outcome.payment_intent_id:
            self._gateway.cancel_charge(outcome.payment_intent_id)
            alerts.warning(
                "ALERT payment %s failed (no charge found) has PaymentIntent %s awaiting 3-D Secure: "
                "cancelled",
                payment_id,
                outcome.payment_intent_id,
            )
            return False
        if outcome.status != ChargeStatus.SUCCEEDED:
            return False
        with self._uow.tx() as session:
            row = session.get(Payment, payment_id)
            assert row is not None
            return self._machine.correct_late_success(session, row, outcome, event="payment.reconciled")

    def settle_overdue_payments(self) -> dict[int, PaymentStatus]:
        """Give every payment waiting past its deadline a final status (called by the worker).

        - approved and never charged (a crash between approval and charge; a scheduled payment whose
          run stopped half-way) past `approved_charge_deadline`: charged while its approval is younger
          than `consent_validity`, else cancelled and the user told;
        - requires_action past `authentication_deadline`: the PaymentIntent is cancelled at the
          processor (so the bank's link can no longer complete it), then the payment is cancelled and
          the user told; a challenge finished meanwhile settles as what the processor says.
        Cancelled payments reserve nothing, so the bill is free again. Returns the new statuses.
        """
        now = self._uow.now()
        with self._uow.tx() as session:
            approved = session.execute(
                select(Payment.id, Payment.updated_at, ScheduledPayment.status, ScheduledPayment.updated_at)
                .outerjoin(ScheduledPayment, ScheduledPayment.payment_id == Payment.id)
                .where(
                    Payment.status == P.APPROVED.value,
                    Payment.updated_at <= now - self._config.approved_charge_deadline,
                )
                .order_by(Payment.id)
            ).all()
            waiting_for_bank = list(
                session.execute(
                    select(Payment.id)
                    .where(
                        Payment.status == P.REQUIRES_ACTION.value,
                        Payment.updated_at <= now - self._config.authentication_deadline,
                    )
                    .order_by(Payment.id)
                ).scalars()
            )
        done: dict[int, PaymentStatus] = {}
        for payment_id, approved_at, schedule_status, schedule_moved_at in approved:
            if schedule_status == ScheduleStatus.SCHEDULED.value:
                continue  # waits for its day: run_due_payments charges it then
            # A scheduled payment's approval counts from the moment its day's run took it up.
            since = max(
                _aware(approved_at), _aware(schedule_moved_at) if schedule_moved_at else _aware(approved_at)
            )
            if now - since < self._config.approved_charge_deadline:
                continue  # its day's run took it up only just now: that run is still charging it
            if now - since <= self._config.consent_validity:
                done[payment_id] = self._charging.charge(payment_id, user_waiting=False).status
            elif self._expire(payment_id, P.APPROVED, reason="consent_expired"):
                done[payment_id] = P.CANCELLED
        for payment_id in waiting_for_bank:
            status = self._abandon_authentication(payment_id)
            if status is not None:
                done[payment_id] = status
        return done

    def _abandon_authentication(self, payment_id: int) -> PaymentStatus | None:
        """Cancel a 3-D Secure challenge nobody finished; the payment's new status, or None (next round)."""
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            intent_id = payment.payment_intent_id if payment is not None else None
        if intent_id is None:
            return (
                P.CANCELLED
                if self._expire(payment_id, P.REQUIRES_ACTION, reason="authentication_expired")
                else None
            )
        outcome = self._gateway.cancel_charge(intent_id)
        if outcome.status == ChargeStatus.SUCCEEDED:
            with self._uow.tx() as session:
                payment = session.get(Payment, payment_id)
                assert payment is not None
                moved = self._machine.settle(
                    session, payment, P.REQUIRES_ACTION, outcome, event="payment.deadline"
                )
                return P.SUCCEEDED if moved else None
        if outcome.status == ChargeStatus.FAILED:
            moved = self._expire(payment_id, P.REQUIRES_ACTION, reason="authentication_expired")
            return P.CANCELLED if moved else None
        return None  # the processor did not answer (or the charge is still pending): next round

    def _expire(self, payment_id: int, current: PaymentStatus, *, reason: str) -> bool:
        """current → cancelled at its deadline, and the user told (payment_expired), in one transaction."""
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                return False
            if not self._machine.move(
                session, payment, current, P.CANCELLED, audit_event="payment.deadline", reason=reason
            ):
                return False
            queue_notification(session, payment, NotificationKind.EXPIRED, self._uow.now())
            return True

    def refresh_payment(self, *, user_id: int, payment_id: int) -> PaymentResult:
        """Ask the gateway again about a payment awaiting 3-D Secure (or unknown) and settle it."""
        with self._uow.tx() as session:
            payment = owned_payment(session, user_id, payment_id)
            intent_id = payment.payment_intent_id
            current = P(payment.status)
        if current in (P.REQUIRES_ACTION, P.UNKNOWN) and intent_id:
            outcome = self._gateway.retrieve_charge(intent_id)
            with self._uow.tx() as session:
                payment = owned_payment(session, user_id, payment_id)
                if outcome.status != ChargeStatus.REQUIRES_ACTION or current != P.REQUIRES_ACTION:
                    self._machine.settle(session, payment, current, outcome, event="payment.refreshed")
        return self._charging.result(user_id, payment_id)

    def settle_payment_intent(self, *, payment_intent_id: str) -> PaymentStatus | None:
        """Ask the gateway about a PaymentIntent awaiting 3-D Secure and settle its payment.

        Used when the customer comes back from the bank: it only copies what the processor says,
        so it needs no proof of who asks. Returns the payment's status, None when it is not ours.
        """
        with self._uow.tx() as session:
            payment = payment_by_intent(session, payment_intent_id)
            if payment is None:
                return None
            current = P(payment.status)
        if current not in (P.REQUIRES_ACTION, P.UNKNOWN):
            return current
        outcome = self._gateway.retrieve_charge(payment_intent_id)
        with self._uow.tx() as session:
            payment = payment_by_intent(session, payment_intent_id)
            assert payment is not None
            self._machine.settle(session, payment, current, outcome, event="payment.returned")
            return P(payment.status)

    def record_webhook_event(
        self,
        *,
        event_id: str,
        event_type: str,
        payment_intent_id: str | None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Apply a verified Stripe event once (deduplicated by id); False when already processed.

        The payment is found by the PaymentIntent id, else by the idempotency key our charge put in
        its metadata (a charge whose answer never reached us). A payment still open (3-D Secure,
        unknown) settles as the gateway says now; one failed for lack of a charge is
        corrected when the gateway shows the charge succeeded. The event is marked processed in the
        same transaction that settles its payment, so a failure in between leaves it unprocessed
        and Stripe's retry applies it.
        """
        with self._uow.tx() as session:
            seen = session.execute(
                select(ProcessedWebhookEvent.id).where(ProcessedWebhookEvent.event_id == event_id)
            ).first()
            if seen is not None:
                return False
            payment = self._payment_of_event(session, payment_intent_id, idempotency_key)
            payment_id = payment.id if payment is not None else None
            current = P(payment.status) if payment is not None else None
            failed_for_lack_of_charge = (
                payment is not None and payment.failure_code == FailureCode.CHARGE_NOT_CREATED.value
            )
        outcome: ChargeOutcome | None = None
        # A processing payment is left to its charging call (it tells the user in their turn) and,
        # past its deadline, to reconciliation.
        open_statuses = (P.REQUIRES_ACTION, P.UNKNOWN)
        if payment_intent_id and (
            current in open_statuses or (current == P.FAILED and failed_for_lack_of_charge)
        ):
            # The event says what happened; the gateway says what is true now (events can be stale).
            outcome = self._gateway.retrieve_charge(payment_intent_id)
        try:
            with self._uow.tx() as session:
                session.add(ProcessedWebhookEvent(event_id=event_id, event_type=event_type))
                session.flush()
                if outcome is not None and current is not None and payment_id is not None:
                    payment = session.get(Payment, payment_id)
                    assert payment is not None
                    if current == P.FAILED:
                        self._machine.correct_late_success(session, payment, outcome, event="payment.webhook")
                    else:
                        self._machine.settle(session, payment, current, outcome, event="payment.webhook")
        except IntegrityError:
            return False  # a concurrent delivery of the same event won
        return True

    @staticmethod
    def _payment_of_event(
        session: Session, payment_intent_id: str | None, idempotency_key: str | None
    ) -> Payment | None:
        """The payment an event concerns: by PaymentIntent id, else by our idempotency key."""
        payment = payment_by_intent(session, payment_intent_id) if payment_intent_id else None
        if payment is None and idempotency_key:
            payment = session.execute(
                select(Payment).where(Payment.idempotency_key == idempotency_key)
            ).scalar_one_or_none()
        return payment

    def handle_stripe_webhook(self, *, payload: bytes, signature: str) -> bool:
        """Verify a Stripe webhook and apply it once; raises WebhookInvalidError when it does not verify."""
        if not self._config.stripe_webhook_secret:
            raise WebhookInvalidError(reason="no_secret_configured")
        event = self._gateway.parse_webhook(payload, signature, self._config.stripe_webhook_secret)
        return self.record_webhook_event(
            event_id=event.event_id,
            event_type=event.event_type,
            payment_intent_id=event.payment_intent_id,
            idempotency_key=event.idempotency_key,
        )

    def expire_stale_drafts(self, *, older_than_minutes: int | None = None) -> int:
        """Cancel drafts nobody confirmed in time and approvals nobody answered in 48 h; returns how many.

        A draft's limit is `older_than_minutes`, else `ServiceConfig.draft_expiry`. An approval's age
        counts from the user's consent (`confirmed_at`); the limit is
        `ServiceConfig.approval_expiry_hours`, and the user (told they would hear back) is told.
        """
        now = self._uow.now()
        draft_expiry = (
            timedelta(minutes=older_than_minutes)
            if older_than_minutes is not None
            else self._config.draft_expiry
        )
        cutoff = now - draft_expiry
        approval_cutoff = now - timedelta(hours=self._config.approval_expiry_hours)
        count = 0
        with self._uow.tx() as session:
            drafts = session.execute(
                select(Payment).where(Payment.status == P.DRAFT.value, Payment.created_at <= cutoff)
            ).scalars()
            for payment in list(drafts):
                count += int(self._machine.move(session, payment, P.DRAFT, P.CANCELLED, reason="expired"))
            waiting = session.execute(
                select(Payment).where(
                    Payment.status == P.AWAITING_APPROVAL.value,
                    func.coalesce(Payment.confirmed_at, Payment.created_at) <= approval_cutoff,
                )
            ).scalars()
            for payment in list(waiting):
                moved = self._machine.move(
                    session, payment, P.AWAITING_APPROVAL, P.CANCELLED, reason="approval_expired"
                )
                if moved:
                    queue_notification(session, payment, NotificationKind.EXPIRED, now)
                count += int(moved)
        return count


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
