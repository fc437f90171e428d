"""Settling payments after the confirming turn: the worker's rounds, webhooks and the return page.

The worker charges scheduled payments whose day has come, reconciles payments whose outcome is
unknown by asking the gateway by their idempotency key, and expires drafts and approvals nobody
answered. Stripe's webhooks and the customer's return from 3-D Secure only make the core ask the
gateway what is true now and settle the payment accordingly.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

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
from payments.statuses import PaymentStatus, ScheduleStatus
from payments.unit_of_work import UnitOfWork, owned_payment, payment_by_intent, rowcount
from payments.views import PaymentResult, ReconcileReport

P = PaymentStatus
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
        """Charge every scheduled payment whose day has come (called by the worker)."""
        with self._uow.tx() as session:
            due = session.execute(
                select(ScheduledPayment, User)
                .join(User, ScheduledPayment.user_id == User.id)
                .where(ScheduledPayment.status == ScheduleStatus.SCHEDULED.value)
                .order_by(ScheduledPayment.pay_on, ScheduledPayment.id)
            ).all()
            now = self._uow.now()
            ready = [(s.id, s.payment_id) for s, u in due if s.pay_on <= today_in(u.timezone, now)]
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
        """Settle `unknown` (and long-stuck `processing`) payments by asking the gateway by their key."""
        cutoff = self._uow.now() - older_than
        with self._uow.tx() as session:
            ids = list(
                session.execute(
                    select(Payment.id).where(
                        Payment.status.in_([P.UNKNOWN.value, P.PROCESSING.value]),
                        Payment.updated_at <= cutoff,
                    )
                ).scalars()
            )
        settled: dict[int, PaymentStatus] = {}
        for payment_id in ids:
            status = self._reconcile(payment_id)
            if status is not None:
                settled[payment_id] = status
        return ReconcileReport(checked=len(ids), settled=settled)

    def _reconcile(self, payment_id: int) -> PaymentStatus | None:
        """Ask the gateway about one stuck payment and settle it; its new status, or None."""
        with self._uow.tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                return None
            card = session.get(SavedPaymentMethod, payment.payment_method_id)
            customer = session.get(StripeCustomer, card.customer_id) if card else None
            customer_id = customer.stripe_customer_id if customer else ""
            key, intent_id = payment.idempotency_key, payment.payment_intent_id
        if intent_id:
            outcome = self._gateway.retrieve_charge(intent_id)
        else:
            outcome = self._gateway.find_charge(idempotency_key=key, customer_id=customer_id)
        if outcome.status == ChargeStatus.NOT_FOUND:
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

    def record_webhook_event(self, *, event_id: str, event_type: str, payment_intent_id: str | None) -> bool:
        """Apply a verified Stripe event once (deduplicated by id); False when already processed.

        The event is marked processed in the same transaction that settles its payment, so a
        failure in between leaves it unprocessed and Stripe's retry applies it.
        """
        with self._uow.tx() as session:
            seen = session.execute(
                select(ProcessedWebhookEvent.id).where(ProcessedWebhookEvent.event_id == event_id)
            ).first()
            if seen is not None:
                return False
            payment = payment_by_intent(session, payment_intent_id) if payment_intent_id else None
            current = P(payment.status) if payment is not None else None
        outcome: ChargeOutcome | None = None
        if payment_intent_id and current in (P.REQUIRES_ACTION, P.UNKNOWN):
            # The event says what happened; the gateway says what is true now (events can be stale).
            outcome = self._gateway.retrieve_charge(payment_intent_id)
        try:
            with self._uow.tx() as session:
                session.add(ProcessedWebhookEvent(event_id=event_id, event_type=event_type))
                session.flush()
                if outcome is not None and current is not None and payment_intent_id:
                    payment = payment_by_intent(session, payment_intent_id)
                    assert payment is not None
                    self._machine.settle(session, payment, current, outcome, event="payment.webhook")
        except IntegrityError:
            return False  # a concurrent delivery of the same event won
        return True

    def handle_stripe_webhook(self, *, payload: bytes, signature: str) -> bool:
        """Verify a Stripe webhook and apply it once; raises WebhookInvalidError when it does not verify."""
        if not self._config.stripe_webhook_secret:
            raise WebhookInvalidError(reason="no_secret_configured")
        event = self._gateway.parse_webhook(payload, signature, self._config.stripe_webhook_secret)
        return self.record_webhook_event(
            event_id=event.event_id, event_type=event.event_type, payment_intent_id=event.payment_intent_id
        )

    def expire_stale_drafts(self, *, older_than_minutes: int = 30) -> int:
        """Cancel drafts nobody confirmed in time and approvals nobody answered in 48 h; returns how many.

        An approval's age counts from the user's consent (`confirmed_at`); the limit is
        `ServiceConfig.approval_expiry_hours`.
        """
        now = self._uow.now()
        cutoff = now - timedelta(minutes=older_than_minutes)
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
                count += int(moved)
        return count
