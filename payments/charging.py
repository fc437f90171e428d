"""Confirming a draft with the user's signed consent, and charging it once through the gateway.

draft → approved (or awaiting_approval for a large payment) → processing → succeeded | failed |
requires_action | unknown. Each move is a compare-and-set (payments.machine), so concurrent
confirmations produce one charge; the gateway call happens outside any transaction with an
idempotency key derived from the payment id, and an unanswered call becomes `unknown`.

The time lock: a payment to a biller the user has never paid successfully, and every scheduled
payment, is approved but held until `ServiceConfig.time_lock` after the user's consent (its
schedule's `not_before`); the worker's `run_due_payments` charges it after that, and `charge`
itself refuses to start one earlier. Until then it is cancellable like any scheduled payment.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from db.models import (
    Bill,
    Payment,
    SavedPaymentMethod,
    ScheduledPayment,
    StepUpChallenge,
    StripeCustomer,
    User,
)
from observability.context import payment as about_payment
from payments.config import ServiceConfig
from payments.consent import TapEvidence, record_consent
from payments.dates import today_in
from payments.errors import (
    BillNotFoundError,
    ConsentMissingError,
    PaymentNotFoundError,
    PaymentNotPendingError,
)
from payments.gateway import ChargeOutcome, ChargeRequest, ChargeStatus, PaymentGateway
from payments.ledger import Ledger, outstanding
from payments.machine import StateMachine
from payments.mandate_guard import mandate_refusal, withdraw_payment
from payments.money import Money
from payments.statuses import PaymentStatus, ScheduleStatus
from payments.step_up import GateVerdict, StepUp, unverified
from payments.unit_of_work import OPEN_BILL_STATUSES, UnitOfWork, load_user, lock_user, owned_payment
from payments.views import PaymentResult, PendingReason, ScheduledPaymentView, payment_result, schedule_view

P = PaymentStatus
log = logging.getLogger("paychat.payments")


class Charging:
    """Approve with consent, schedule or charge, and report the result."""

    def __init__(
        self,
        uow: UnitOfWork,
        ledger: Ledger,
        machine: StateMachine,
        gateway: PaymentGateway,
        config: ServiceConfig,
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._machine = machine
        self._gateway = gateway
        self._config = config
        self.step_up = StepUp(uow, ledger, machine, config)

    def confirm_payment(
        self, *, user_id: int, payment_id: int, consent_text: str, confirmation: str = "",
        tap: TapEvidence | None = None, gated: GateVerdict | None = None,
    ) -> PaymentResult:  # fmt: skip
        """Approve a draft with the user's consent and charge it (or schedule it for its day).

        `consent_text` is the summary the user was shown; `confirmation` is what they sent to
        confirm it (the button's payload or their words), kept in the signed consent; `tap` is the
        platform's record of the button tap (callback id, time), kept in the receipt too.
        `gated`: the step-up gate's verdict when the caller ran it in its own committed
        transaction (payments.confirming); otherwise the gate runs here first.
        Idempotent: a repeated or concurrent call returns the first call's result and never
        charges twice.
        """
        if not consent_text or not consent_text.strip():
            raise ConsentMissingError(payment_id=payment_id)
        # Issue 13: risk check and the user's one-time code come before approval (payments/step_up.py).
        if gated is None:
            waiting = self.step_up.gate(
                user_id=user_id, payment_id=payment_id,
                confirmation=confirmation.strip() or consent_text, tap=tap or TapEvidence(),
            )  # fmt: skip
        else:
            waiting = gated.outcome()
        if waiting is None:
            approval = self.approve(
                user_id, payment_id, confirmation.strip() or consent_text, tap or TapEvidence()
            )
            if not isinstance(approval, GateVerdict):
                approved_now, scheduled = approval
                if approved_now and not scheduled:
                    # The user is waiting in chat: the result is their reply, so no notification for it.
                    return self.charge(payment_id, user_waiting=True)
                return self.wait_for_result(user_id, payment_id)
            waiting = approval.outcome()  # large now (StepUp.recheck): the gate's verdict after all
        with self._uow.tx() as session:
            payment = owned_payment(session, user_id, payment_id)
            held = payment_result(session, payment, self._uow.now())
        return dataclasses.replace(held, pending_reason=PendingReason.STEP_UP_CODE.value, step_up=waiting)

    def schedule_payment(self, *, user_id: int, payment_id: int, consent_text: str) -> ScheduledPaymentView:
        """Confirm a draft dated in the future: it is charged on its day by `run_due_payments`."""
        with self._uow.tx() as session:
            payment = owned_payment(session, user_id, payment_id)
            if payment.pay_on <= self._uow.today_of(load_user(session, user_id)):
                raise PaymentNotPendingError(payment_id=payment_id, reason="not_in_future")
        self.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text=consent_text)
        with self._uow.tx() as session:
            schedule = session.execute(
                select(ScheduledPayment).where(ScheduledPayment.payment_id == payment_id)
            ).scalar_one_or_none()
            if schedule is None:
                raise PaymentNotPendingError(payment_id=payment_id)
            return schedule_view(session, schedule, self._uow.now())

    def approve(
        self, user_id: int, payment_id: int, confirmation: str, tap: TapEvidence | None = None
    ) -> tuple[bool, bool] | GateVerdict:
        """draft → approved with a signed consent; returns (this call approved it, it is scheduled),
        or the step-up gate's verdict when the draft turned out to need a code (`StepUp.recheck`)."""
        with self._uow.tx() as session:
            # Row locks on PostgreSQL (SQLite transactions are already serialized by BEGIN IMMEDIATE):
            # the user's row serializes the daily limit across all their bills, the bill's row the
            # outstanding amount. Always user first, then bill, so two approvals never deadlock.
            user = lock_user(session, user_id)
            # Read under the user's lock (a racing confirmation may have approved it meanwhile), with
            # its one-time code's status: nothing is approved before the code is verified.
            payment, code_status = _with_code_status(session, user_id, payment_id)
            if payment.status != P.DRAFT.value or unverified(code_status):
                return False, False
            bill = session.execute(
                select(Bill).where(Bill.id == payment.bill_id).with_for_update()
            ).scalar_one()
            if bill.status not in OPEN_BILL_STATUSES:
                raise BillNotFoundError(bill_id=bill.id)
            amount = Money(payment.amount_minor, payment.currency)
            owed = outstanding(session, bill)
            now = self._uow.now()
            today = today_in(user.timezone, now)
            if payment.pay_on < today:
                # Drafted before the user's midnight (or month end), confirmed after it: it is
                # charged today, so it counts against today's (and this month's) limits, checked
                # below under the row lock, never against the day it was drafted on.
                payment.pay_on = today
                session.flush()
            if code_status is None:
                # The gate committed before this transaction: a part to this biller approved since
                # (a concurrent confirmation) may make this draft need the code after all (issue 13).
                gated = self.step_up.recheck(
                    session, user, payment, confirmation=confirmation, tap=tap or TapEvidence()
                )
                if gated is not None:
                    return gated
            self._ledger.check_amount(session, user, amount=amount, owed=owed, pay_on=payment.pay_on)
            # Multi-signature: a large payment keeps its consent but waits for a second approver.
            # "Large" is what the user pays this biller within the period, this payment included,
            # so splitting a bill into smaller payments does not dodge it (issue 10). The user's
            # row lock above serializes this sum with every concurrent approval of theirs.
            # Summed by pay day (scheduled or today) around this payment's own pay day, so halves
            # consented to far apart but paid close together are counted together.
            before = self._ledger.paid_to_biller_around(session, payment, self._config.second_approval_period)
            needs_second = before.amount_minor + payment.amount_minor >= self._config.second_approval_minor
            target = P.AWAITING_APPROVAL if needs_second else P.APPROVED
            if not self._machine.move(session, payment, P.DRAFT, target, confirmed_at=now):
                return False, False
            record_consent(
                session, payment=payment, confirmation=confirmation, now=now,
                key=self._config.consent_signing_key, tap=tap or TapEvidence(),
            )  # fmt: skip
            if needs_second:
                return False, False
            not_before = self.time_lock(session, payment, user, consented_at=now)
            return True, self.schedule_if_dated(session, payment, user, now, not_before=not_before)

    def time_lock(
        self, session: Session, payment: Payment, user: User, *, consented_at: datetime
    ) -> datetime | None:
        """Until when the payment is held (its cancel window), or None when it is not time-locked.

        Held: every scheduled payment, and one to a biller the user has never paid successfully;
        the window runs from the user's consent. Called under the user's row lock.
        """
        window = self._config.time_lock
        if window.total_seconds() <= 0:
            return None
        scheduled = payment.pay_on > today_in(user.timezone, self._uow.now())
        if not scheduled and self._ledger.paid_biller_before(session, payment.user_id, payment.bill_id):
            return None
        return _aware(consented_at) + window

    def schedule_if_dated(
        self,
        session: Session,
        payment: Payment,
        user: User,
        now: datetime,
        *,
        not_before: datetime | None = None,
    ) -> bool:
        """Record the schedule of an approved payment dated after today, or held by its time lock
        until `not_before`; True when it is scheduled (the worker charges it, not this call)."""
        held = not_before is not None and now < not_before
        if payment.pay_on <= today_in(user.timezone, now) and not held:
            return False
        session.add(
            ScheduledPayment(
                user_id=payment.user_id,
                bill_id=payment.bill_id,
                payment_id=payment.id,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                pay_on=payment.pay_on,
                status=ScheduleStatus.SCHEDULED.value,
                not_before=not_before,
            )
        )
        return True

    def charge(self, payment_id: int, *, user_waiting: bool = False) -> PaymentResult:
        """approved → processing → charge once → succeeded | failed | requires_action | unknown.

        `user_waiting`: the user is in the confirming chat turn and reads the result there.
        Write-ahead: the move to processing records when the call starts and until when it may
        still run (`charge_deadline_at`) before the gateway is called; reconciliation leaves the
        payment alone until then. The answer is recorded with retries while the database is busy;
        if it still cannot be, the result says "processing, outcome not recorded" (never "nothing
        was charged") and the reconciliation round after the deadline finds it at the gateway.
        """
        with about_payment(payment_id):
            return self._charge(payment_id, user_waiting=user_waiting)

    def _charge(self, payment_id: int, *, user_waiting: bool) -> PaymentResult:
        try:
            started = self._start_charge(payment_id)
        except OperationalError:
            # Approved (consent kept) but the charge could not be started: the worker charges it
            # after PAYCHAT_APPROVED_CHARGE_DEADLINE_SECONDS and the user is told through the outbox,
            # so the reply says "on its way, I'll tell you" — never "nothing was charged".
            log.exception("payment %s approved, its charge not started: the database stayed busy", payment_id)
            with self._uow.tx() as session:
                payment = session.get(Payment, payment_id, populate_existing=True)
                assert payment is not None
                pending = payment_result(session, payment, self._uow.now())
            if pending.status != P.APPROVED:
                return pending
            return dataclasses.replace(pending, pending_reason=PendingReason.CHARGE_NOT_STARTED.value)
        if isinstance(started, PaymentResult):
            return started
        started_at, request, in_flight = started
        try:
            outcome = self._gateway.charge(request)
        except Exception:
            log.exception("the gateway's charge raised; the outcome is unknown until reconciled")
            outcome = ChargeOutcome(status=ChargeStatus.UNKNOWN)
        try:
            return self._record_outcome(payment_id, outcome, user_waiting=user_waiting)
        except OperationalError:
            log.exception(
                "outcome %s of payment %s (PaymentIntent %s) not recorded: the database stayed busy; "
                "reconciliation settles it after %s",
                outcome.status,
                payment_id,
                outcome.payment_intent_id,
                started_at + self._config.charge_deadline,
            )
            return dataclasses.replace(in_flight, pending_reason=PendingReason.OUTCOME_NOT_RECORDED.value)

    def _start_charge(self, payment_id: int) -> tuple[datetime, ChargeRequest, PaymentResult] | PaymentResult:
        """approved → processing (write-ahead), retried like the outcome while the database is busy.

        Returns when the charge started, its request and the in-flight result; or, when another
        caller moved the payment meanwhile, the payment's result as it is now.
        """
        for attempt in Retrying(
            retry=retry_if_exception_type(OperationalError),
            stop=stop_after_attempt(max(1, self._config.outcome_write_attempts)),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        ):
            with attempt, self._uow.tx() as session:
                # The payment with its time lock and its one-time code's status (if any), in one statement.
                row = session.execute(
                    select(Payment, ScheduledPayment.not_before, StepUpChallenge.status)
                    .outerjoin(ScheduledPayment, ScheduledPayment.payment_id == Payment.id)
                    .outerjoin(StepUpChallenge, StepUpChallenge.payment_id == Payment.id)
                    .where(Payment.id == payment_id)
                    .execution_options(populate_existing=True)
                ).one()
                payment, not_before, code_status = row[0], row[1], row[2]
                started = self._uow.now()
                if unverified(code_status):
                    # Nothing is charged before the user's one-time code is verified, whoever asks.
                    log.warning("payment %s waits for its step-up code: not charged", payment_id)
                    return payment_result(session, payment, started)
                if not_before is not None and started < _aware(not_before):
                    # Nothing is charged before its time lock, whoever asks: the worker's round after it does.
                    log.warning("payment %s is held by its time lock: not charged yet", payment_id)
                    return payment_result(session, payment, started)
                refusal = mandate_refusal(session, payment, started)
                if refusal is not None:
                    # Nothing is charged under a mandate that no longer authorises it, whoever asks.
                    log.warning("payment %s: its mandate no longer authorises it (%s)", payment_id, refusal)
                    withdraw_payment(session, self._machine, payment, refusal, started)
                    return payment_result(session, payment, started)
                if not self._machine.move(
                    session,
                    payment,
                    P.APPROVED,
                    P.PROCESSING,
                    charge_started_at=started,
                    charge_deadline_at=started + self._config.charge_deadline,
                ):
                    session.refresh(payment)  # another caller moved it: report what it is now
                    return payment_result(session, payment, self._uow.now())
                request = self._charge_request(session, payment)
                return started, request, payment_result(session, payment, started)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _record_outcome(
        self, payment_id: int, outcome: ChargeOutcome, *, user_waiting: bool
    ) -> PaymentResult:
        """Settle the payment with the gateway's answer, retrying while the database is busy or gone."""
        for attempt in Retrying(
            retry=retry_if_exception_type(OperationalError),
            stop=stop_after_attempt(max(1, self._config.outcome_write_attempts)),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        ):
            with attempt, self._uow.tx() as session:
                payment = session.get(Payment, payment_id, populate_existing=True)
                assert payment is not None
                # Held for the transaction: settling and the result read the user once (identity map).
                owner = session.get(User, payment.user_id)
                settled = self._machine.settle(
                    session,
                    payment,
                    P.PROCESSING,
                    outcome,
                    event="payment.charged",
                    user_waiting=user_waiting,
                )
                if not settled:
                    # Reconciliation failed it meanwhile (it found no charge): a success corrects that.
                    session.refresh(payment)
                    self._machine.correct_late_success(session, payment, outcome, event="payment.charged")
                # The payment holds what was written (StateMachine.move), or was refreshed above.
                result = payment_result(session, payment, self._uow.now())
                del owner
                return result
        raise AssertionError("unreachable: tenacity reraises the last error")

    @staticmethod
    def _charge_request(session: Session, payment: Payment) -> ChargeRequest:
        card, customer = session.execute(
            select(SavedPaymentMethod, StripeCustomer)
            .join(StripeCustomer, SavedPaymentMethod.customer_id == StripeCustomer.id)
            .where(SavedPaymentMethod.id == payment.payment_method_id)
        ).one()
        return ChargeRequest(
            amount=Money(payment.amount_minor, payment.currency),
            customer_id=customer.stripe_customer_id,
            payment_method_id=card.stripe_payment_method_id,
            idempotency_key=payment.idempotency_key,
            metadata={"paychat_payment_id": str(payment.id), "paychat_bill_id": str(payment.bill_id)},
        )

    def result(self, user_id: int, payment_id: int) -> PaymentResult:
        """The current state of one of the user's payments."""
        with self._uow.tx() as session:
            return payment_result(session, owned_payment(session, user_id, payment_id), self._uow.now())

    def wait_for_result(self, user_id: int, payment_id: int) -> PaymentResult:
        """The payment's result, waiting briefly while another call is still charging it."""
        deadline = time.monotonic() + self._config.confirm_wait.total_seconds()
        while True:
            with self._uow.tx() as session:
                payment = owned_payment(session, user_id, payment_id)
                in_flight = payment.status == P.PROCESSING.value or (
                    payment.status == P.APPROVED.value
                    and session.execute(
                        select(ScheduledPayment.id).where(ScheduledPayment.payment_id == payment_id)
                    ).first()
                    is None
                )
                if not in_flight or time.monotonic() >= deadline:
                    return payment_result(session, payment, self._uow.now())
            time.sleep(0.05)


def _with_code_status(session: Session, user_id: int, payment_id: int) -> tuple[Payment, str | None]:
    """The user's payment, read afresh, and its one-time code's status (None: it has none)."""
    row = session.execute(
        select(Payment, StepUpChallenge.status)
        .outerjoin(StepUpChallenge, StepUpChallenge.payment_id == Payment.id)
        .where(Payment.id == payment_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None or row[0].user_id != user_id:
        raise PaymentNotFoundError(payment_id=payment_id)
    return row[0], row[1]


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
