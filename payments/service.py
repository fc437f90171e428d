"""The payments use cases: `PaymentsService`, built once per process by `build_service(settings)`.

Every method is synchronous, keyword-only, takes the acting `user_id`, checks ownership, and returns
frozen views. Money moves only through `confirm_payment` (and the worker's `run_due_payments`):
each state change is one compare-and-set UPDATE on the payment's status, so concurrent
confirmations of one draft produce one charge, and the gateway call happens outside any
transaction with an idempotency key derived from the payment id.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from babel.dates import format_date
from sqlalchemy import CursorResult, Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.models import (
    Bill,
    Biller,
    Consent,
    Notification,
    Payment,
    ProcessedWebhookEvent,
    SavedPaymentMethod,
    ScheduledPayment,
    StripeCustomer,
    User,
    utcnow,
)
from payments import identity
from payments.audit import append_audit
from payments.billers import BillerCandidate, match_biller
from payments.challenge import challenge_signature_valid, challenge_url
from payments.consent import consent_message, sign
from payments.dates import parse_pay_date, today_in
from payments.errors import (
    AmountAboveOutstandingError,
    BillerAmbiguousError,
    BillerUnknownError,
    BillNotFoundError,
    ConsentMissingError,
    DailyLimitError,
    NoCardError,
    PaymentNotFoundError,
    PaymentNotPendingError,
    PaymentsError,
    PerPaymentLimitError,
    ScheduleNotFoundError,
    WebhookInvalidError,
)
from payments.gateway import ChargeOutcome, ChargeStatus, PaymentGateway
from payments.money import Money, format_money, parse_amount
from payments.statuses import (
    RESERVING,
    BillStatus,
    NotificationKind,
    PaymentStatus,
    ScheduleStatus,
    can_transition,
)
from payments.views import (
    ApprovalView,
    BillView,
    CancelOutcome,
    NotificationView,
    PaymentResult,
    PaymentSummary,
    PaymentView,
    ReconcileReport,
    ScheduledPaymentView,
    UserView,
)

P = PaymentStatus
OPEN_BILL_STATUSES = (BillStatus.OPEN.value, BillStatus.PARTIALLY_PAID.value)
DEV_CONSENT_KEY = "paychat-development-consent-key"
# Only ever used with the sandbox (production refuses it); `make run` sets a random key instead.
DEV_CHALLENGE_KEY = "paychat-development-sandbox-challenge-key"
SETTLED_BY_GATEWAY = {
    ChargeStatus.SUCCEEDED: P.SUCCEEDED,
    ChargeStatus.FAILED: P.FAILED,
    ChargeStatus.REQUIRES_ACTION: P.REQUIRES_ACTION,
    ChargeStatus.UNKNOWN: P.UNKNOWN,
}
# Final statuses the user hears about later when they were reached outside their own chat turn.
NOTIFIED_OUTCOMES = {P.SUCCEEDED: NotificationKind.SUCCEEDED, P.FAILED: NotificationKind.FAILED}


@dataclass(frozen=True)
class ServiceConfig:
    """The settings the use cases need (a subset of `settings.Settings`)."""

    per_payment_limit_minor: int = 200_000
    daily_limit_minor: int = 500_000
    schedule_horizon_days: int = 365
    demo_mode: bool = True
    consent_signing_key: bytes = DEV_CONSENT_KEY.encode()
    default_locale: str = "en_IE"
    default_timezone: str = "Europe/Berlin"
    default_currency: str = "EUR"
    # How long a second confirmation waits for the first one's charge to settle.
    confirm_wait: timedelta = timedelta(seconds=15)
    stripe_webhook_secret: str = ""
    # Signs the sandbox's 3-D Secure challenge links (payments.challenge).
    challenge_signing_key: bytes = DEV_CHALLENGE_KEY.encode()
    # Payments of at least this many minor units wait for a staff member's second approval.
    second_approval_minor: int = 100_000
    # Approvals nobody answered within this many hours are cancelled by `expire_stale_drafts`.
    approval_expiry_hours: int = 48


class PaymentsService:
    """The use cases of paying bills; see docs/contracts.md ("payments/ public API")."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        gateway: PaymentGateway,
        config: ServiceConfig,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session_factory = session_factory
        self.gateway = gateway
        self.config = config
        self._clock = clock

    # --- users -----------------------------------------------------------------------------------

    def user_id_for_sender(self, *, sender_id: str) -> int:
        """users.id for a `tg-…` or `console-…` sender id; UnknownUserError otherwise."""
        with self.session_factory() as session:
            return identity.user_id_for_sender(session, sender_id)

    def ensure_telegram_user(
        self, *, telegram_user_id: int, name: str, language_code: str | None
    ) -> UserView:
        """The user behind a Telegram account, created on first contact (with demo bills in demo mode)."""
        with self._tx() as session:
            user = session.execute(select(User).where(User.telegram_user_id == telegram_user_id)).scalar()
            if user is not None:
                return _user_view(user)
        user_view = self._create_telegram_user(telegram_user_id, name, language_code)
        if self.config.demo_mode:
            from payments.demo import provision_demo_user

            provision_demo_user(self.session_factory, self.gateway, user_id=user_view.id)
        return user_view

    def _create_telegram_user(self, telegram_user_id: int, name: str, language_code: str | None) -> UserView:
        try:
            with self._tx() as session:
                user = User(
                    telegram_user_id=telegram_user_id,
                    name=name[:200] or "Telegram user",
                    locale=_locale_for(language_code, self.config.default_locale),
                    timezone=self.config.default_timezone,
                    currency=self.config.default_currency,
                    is_test=False,
                )
                session.add(user)
                session.flush()
                append_audit(session, event="user.created", user_id=user.id, data={"channel": "telegram"})
                return _user_view(user)
        except IntegrityError:
            # Two first messages raced: the other one created the user.
            with self._tx() as session:
                existing = session.execute(
                    select(User).where(User.telegram_user_id == telegram_user_id)
                ).scalar_one()
                return _user_view(existing)

    def get_user(self, *, user_id: int) -> UserView:
        """The user's view (name, locale, time zone, currency)."""
        with self._tx() as session:
            return _user_view(self._user(session, user_id))

    # --- bills -----------------------------------------------------------------------------------

    def open_bills(self, *, user_id: int) -> list[BillView]:
        """The user's bills that still have something to pay, earliest due first."""
        with self._tx() as session:
            user = self._user(session, user_id)
            rows = session.execute(
                select(Bill, Biller)
                .join(Biller, Bill.biller_id == Biller.id)
                .where(Bill.user_id == user_id, Bill.status.in_(OPEN_BILL_STATUSES))
                .order_by(Bill.due_date, Bill.id)
            ).all()
            views = [self._bill_view(session, bill, biller, user.locale) for bill, biller in rows]
            return [view for view in views if view.outstanding.amount_minor > 0]

    def find_bill(self, *, user_id: int, biller_text: str) -> BillView:
        """The user's open bill from the biller `biller_text` names (alias or fuzzy match)."""
        with self._tx() as session:
            return self._find_bill(session, user_id, biller_text)

    def _find_bill(self, session: Session, user_id: int, biller_text: str) -> BillView:
        user = self._user(session, user_id)
        # Match among the user's own billers first: another user's biller is no candidate.
        own = session.execute(
            select(Biller).where(Biller.id.in_(select(Bill.biller_id).where(Bill.user_id == user_id)))
        ).scalars()
        candidates = [_candidate(b) for b in own]
        try:
            chosen = match_biller(biller_text, candidates)
        except BillerUnknownError:
            # A biller we know but this user owes nothing: "no open bill", not "who is that?".
            everyone = [_candidate(b) for b in session.execute(select(Biller)).scalars()]
            try:
                known = match_biller(biller_text, everyone)
            except BillerAmbiguousError:
                raise BillerUnknownError(text=biller_text) from None
            raise BillNotFoundError(biller=known.name) from None
        row = session.execute(
            select(Bill, Biller)
            .join(Biller, Bill.biller_id == Biller.id)
            .where(Bill.user_id == user_id, Bill.biller_id == chosen.biller_id)
            .where(Bill.status.in_(OPEN_BILL_STATUSES))
            .order_by(Bill.due_date, Bill.id)
            .limit(1)
        ).first()
        if row is None:
            raise BillNotFoundError(biller=chosen.name)
        view = self._bill_view(session, row[0], row[1], user.locale)
        if view.outstanding.amount_minor <= 0:
            raise BillNotFoundError(biller=chosen.name)
        return view

    # --- drafting and confirming -----------------------------------------------------------------

    def draft_payment(
        self, *, user_id: int, bill_id: int, amount_text: str | None, date_text: str | None
    ) -> PaymentSummary:
        """Check amount, date, limits and card, and record a draft with the exact consent text."""
        with self._tx() as session:
            return self._draft(session, user_id, bill_id, amount_text, date_text)

    def _draft(
        self, session: Session, user_id: int, bill_id: int, amount_text: str | None, date_text: str | None
    ) -> PaymentSummary:
        user = self._user(session, user_id)
        bill, biller = self._owned_bill(session, user_id, bill_id)
        outstanding = self._outstanding(session, bill)
        if outstanding.amount_minor <= 0:
            raise BillNotFoundError(biller=biller.name)
        if amount_text and amount_text.strip():
            amount = parse_amount(
                amount_text, currency=bill.currency, locale=user.locale, outstanding=outstanding
            )
        else:
            amount = outstanding
        pay_on = parse_pay_date(
            date_text,
            timezone=user.timezone,
            now=self._clock(),
            horizon_days=self.config.schedule_horizon_days,
        )
        self._check_amount(session, user, amount=amount, outstanding=outstanding, pay_on=pay_on)
        card = self._default_card(session, user_id)
        amount_text_out = format_money(amount, user.locale)
        pay_on_text = self._date_text(user, pay_on)
        card_label = _card_label(card)
        summary = (
            f"Pay {amount_text_out} to {biller.name} (bill {bill.reference}) with {card_label} {pay_on_text}."
        )
        nonce = secrets.token_hex(8)
        payment = Payment(
            user_id=user_id,
            bill_id=bill.id,
            payment_method_id=card.id,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            status=P.DRAFT.value,
            pay_on=pay_on,
            summary_text=summary,
            idempotency_key=f"pending-{nonce}",
        )
        session.add(payment)
        session.flush()
        # Derived from the payment id; the nonce keeps keys unique if a database is ever recreated
        # while Stripe still remembers old keys.
        payment.idempotency_key = f"paychat-payment-{payment.id}-{nonce}"
        append_audit(
            session,
            event="payment.drafted",
            payment_id=payment.id,
            user_id=user_id,
            to_status=P.DRAFT.value,
            data={"bill_id": bill.id, "amount_minor": amount.amount_minor, "currency": amount.currency},
        )
        return PaymentSummary(
            payment_id=payment.id,
            biller_name=biller.name,
            amount=amount,
            amount_text=amount_text_out,
            card_label=card_label,
            pay_on=pay_on,
            pay_on_text=pay_on_text,
            summary_text=summary,
            status=P.DRAFT,
            bill_id=bill.id,
            is_scheduled=pay_on > today_in(user.timezone, self._clock()),
        )

    def prepare_payment(
        self,
        *,
        user_id: int,
        biller_text: str | None,
        bill_id: int | None,
        amount_text: str | None,
        date_text: str | None,
        replacing_payment_id: int | None = None,
    ) -> PaymentSummary:
        """Draft a payment on the bill `biller_text` names (else `bill_id`), replacing an earlier draft.

        The replaced draft is cancelled in the same transaction that records the new one, so at most
        one of them is ever confirmable. When the new draft is refused, the replaced one is still
        cancelled (the user no longer sees its summary) and the refusal is raised.
        """
        try:
            with self._tx() as session:
                self._drop_draft(session, user_id, replacing_payment_id)
                if biller_text and biller_text.strip():
                    bill_id = self._find_bill(session, user_id, biller_text).id
                elif bill_id is None:
                    raise BillerUnknownError(text=biller_text or "")
                return self._draft(session, user_id, bill_id, amount_text, date_text)
        except PaymentsError:
            if replacing_payment_id is not None:
                with self._tx() as session:
                    self._drop_draft(session, user_id, replacing_payment_id)
            raise

    def _drop_draft(self, session: Session, user_id: int, payment_id: int | None) -> None:
        """Cancel a replaced draft; a missing, foreign, confirmed or cancelled one is left alone."""
        payment = session.get(Payment, payment_id) if payment_id is not None else None
        if payment is not None and payment.user_id == user_id and payment.status == P.DRAFT.value:
            self._cas(session, payment, P.DRAFT, P.CANCELLED, reason="replaced")

    def confirm_payment(
        self, *, user_id: int, payment_id: int, consent_text: str, confirmation: str = ""
    ) -> PaymentResult:
        """Approve a draft with the user's consent and charge it (or schedule it for its day).

        `consent_text` is the summary the user was shown; `confirmation` is what they sent to
        confirm it (the button's payload or their words), kept in the signed consent.
        Idempotent: a repeated or concurrent call returns the first call's result and never
        charges twice.
        """
        if not consent_text or not consent_text.strip():
            raise ConsentMissingError(payment_id=payment_id)
        approved_now, scheduled = self._approve(user_id, payment_id, confirmation.strip() or consent_text)
        if approved_now and not scheduled:
            # The user is waiting in chat: the result is their reply, so no notification for it.
            return self._charge(payment_id, user_waiting=True)
        return self._wait_for_result(user_id, payment_id)

    def schedule_payment(self, *, user_id: int, payment_id: int, consent_text: str) -> ScheduledPaymentView:
        """Confirm a draft dated in the future: it is charged on its day by `run_due_payments`."""
        with self._tx() as session:
            payment = self._owned_payment(session, user_id, payment_id)
            user = self._user(session, user_id)
            if payment.pay_on <= today_in(user.timezone, self._clock()):
                raise PaymentNotPendingError(payment_id=payment_id, reason="not_in_future")
        self.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text=consent_text)
        with self._tx() as session:
            schedule = session.execute(
                select(ScheduledPayment).where(ScheduledPayment.payment_id == payment_id)
            ).scalar_one_or_none()
            if schedule is None:
                raise PaymentNotPendingError(payment_id=payment_id)
            return self._schedule_view(session, schedule)

    def cancel_payment(self, *, user_id: int, payment_id: int) -> PaymentView:
        """Cancel a draft (or a scheduled payment not yet charged)."""
        with self._tx() as session:
            return self._cancel(session, user_id, payment_id)

    def _cancel(self, session: Session, user_id: int, payment_id: int) -> PaymentView:
        payment = self._owned_payment(session, user_id, payment_id)
        current = P(payment.status)
        if current in (P.DRAFT, P.AWAITING_APPROVAL):
            # The user may withdraw a large payment while it still waits for its second approval.
            moved = self._cas(session, payment, current, P.CANCELLED)
        elif current == P.APPROVED:
            schedule = session.execute(
                select(ScheduledPayment).where(
                    ScheduledPayment.payment_id == payment_id,
                    ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
                )
            ).scalar_one_or_none()
            if schedule is None:
                raise PaymentNotPendingError(payment_id=payment_id, status=current.value)
            moved = self._cas(session, payment, P.APPROVED, P.CANCELLED)
            if moved:
                schedule.status = ScheduleStatus.CANCELLED.value
                schedule.updated_at = self._clock()
        else:
            raise PaymentNotPendingError(payment_id=payment_id, status=current.value)
        if not moved:
            raise PaymentNotPendingError(payment_id=payment_id)
        session.refresh(payment)
        return self._payment_view(session, payment)

    def cancel_scheduled_payment(self, *, user_id: int, scheduled_payment_id: int) -> ScheduledPaymentView:
        """Cancel a scheduled payment before its day."""
        with self._tx() as session:
            schedule = session.get(ScheduledPayment, scheduled_payment_id)
            if schedule is None or schedule.user_id != user_id:
                raise ScheduleNotFoundError(scheduled_payment_id=scheduled_payment_id)
            payment_id = schedule.payment_id
        self.cancel_payment(user_id=user_id, payment_id=payment_id)
        with self._tx() as session:
            schedule = session.get(ScheduledPayment, scheduled_payment_id)
            assert schedule is not None
            return self._schedule_view(session, schedule)

    def cancel_pending_payment(
        self, *, user_id: int, biller_text: str | None = None, payment_id: int | None = None
    ) -> CancelOutcome:
        """Cancel the payment the user picked or named, or say which scheduled ones they can pick.

        `payment_id` is cancelled as it is. Otherwise, when `biller_text` names the biller of exactly
        one scheduled payment, that one is cancelled; when it names several, those are the candidates;
        when it names none of them (or nothing was named), every scheduled payment is a candidate.
        """
        with self._tx() as session:
            if payment_id is not None:
                return CancelOutcome(cancelled=self._cancel(session, user_id, payment_id), candidates=[])
            rows = session.execute(
                select(ScheduledPayment, Biller)
                .join(Bill, ScheduledPayment.bill_id == Bill.id)
                .join(Biller, Bill.biller_id == Biller.id)
                .where(
                    ScheduledPayment.user_id == user_id,
                    ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
                )
                .order_by(ScheduledPayment.pay_on, ScheduledPayment.id)
            ).all()
            views = [(self._schedule_view(session, schedule), biller) for schedule, biller in rows]
            everything = [view for view, _ in views]
            if not biller_text or not views:
                return CancelOutcome(cancelled=None, candidates=everything)
            # Only the billers of scheduled payments count: naming another one means "which of these?".
            billers = {biller.id: biller for _, biller in views}
            try:
                chosen = match_biller(biller_text, [_candidate(b) for b in billers.values()])
            except BillerAmbiguousError as error:
                named = [view for view, biller in views if biller.name in error.candidates]
                return CancelOutcome(cancelled=None, candidates=named)
            except BillerUnknownError:
                return CancelOutcome(cancelled=None, candidates=everything)
            named = [view for view, biller in views if biller.id == chosen.biller_id]
            if len(named) == 1:
                cancelled = self._cancel(session, user_id, named[0].payment_id)
                return CancelOutcome(cancelled=cancelled, candidates=[])
            return CancelOutcome(cancelled=None, candidates=named)

    def pending_payments(self, *, user_id: int) -> list[ScheduledPaymentView]:
        """The user's scheduled payments still waiting for their day."""
        with self._tx() as session:
            schedules = session.execute(
                select(ScheduledPayment)
                .where(
                    ScheduledPayment.user_id == user_id,
                    ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
                )
                .order_by(ScheduledPayment.pay_on, ScheduledPayment.id)
            ).scalars()
            return [self._schedule_view(session, s) for s in schedules]

    def payment_history(self, *, user_id: int, limit: int = 10) -> list[PaymentView]:
        """The user's latest payments (drafts left out), newest first."""
        with self._tx() as session:
            payments = session.execute(
                select(Payment)
                .where(Payment.user_id == user_id, Payment.status != P.DRAFT.value)
                .order_by(Payment.created_at.desc(), Payment.id.desc())
                .limit(max(1, min(limit, 100)))
            ).scalars()
            return [self._payment_view(session, p) for p in payments]

    def get_payment(self, *, user_id: int, payment_id: int) -> PaymentResult:
        """The current state of one of the user's payments."""
        with self._tx() as session:
            return self._result(session, self._owned_payment(session, user_id, payment_id))

    # --- staff: second approval ("multi-signature") ---------------------------------------------

    def payments_awaiting_approval(self) -> list[ApprovalView]:
        """Every consented payment waiting for a second approval, oldest first (for staff)."""
        with self._tx() as session:
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
                    biller_name=self._biller_name(session, payment.bill_id),
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
        """
        with self._tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise PaymentNotFoundError(payment_id=payment_id)
            user_id = payment.user_id
            user = self._user(session, user_id)
            won = self._cas(
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
            scheduled = self._schedule_if_dated(session, payment, user, self._clock()) if won else False
        if won and not scheduled:
            return self._charge(payment_id, user_waiting=False)
        return self._wait_for_result(user_id, payment_id)

    def reject_payment(self, *, payment_id: int, approver: str, reason: str) -> PaymentView:
        """Refuse the second approval: awaiting_approval → cancelled, audited with approver and reason."""
        with self._tx() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise PaymentNotFoundError(payment_id=payment_id)
            moved = self._cas(
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
            self._notify(session, payment, NotificationKind.CANCELLED_BY_STAFF)
            return self._payment_view(session, payment)

    # --- worker: schedules, reconciliation, 3-D Secure, webhooks --------------------------------

    def run_due_payments(self) -> list[PaymentResult]:
        """Charge every scheduled payment whose day has come (called by the worker)."""
        results = []
        with self._tx() as session:
            due = session.execute(
                select(ScheduledPayment, User)
                .join(User, ScheduledPayment.user_id == User.id)
                .where(ScheduledPayment.status == ScheduleStatus.SCHEDULED.value)
                .order_by(ScheduledPayment.pay_on, ScheduledPayment.id)
            ).all()
            ready = [(s.id, s.payment_id) for s, u in due if s.pay_on <= today_in(u.timezone, self._clock())]
        for schedule_id, payment_id in ready:
            with self._tx() as session:
                moved = session.execute(
                    update(ScheduledPayment)
                    .where(
                        ScheduledPayment.id == schedule_id,
                        ScheduledPayment.status == ScheduleStatus.SCHEDULED.value,
                    )
                    .values(status=ScheduleStatus.EXECUTED.value, updated_at=self._clock())
                )
                if _rowcount(moved) != 1:
                    continue
            results.append(self._charge(payment_id, user_waiting=False))
        return results

    def reconcile_unknown_payments(self, *, older_than: timedelta = timedelta(seconds=60)) -> ReconcileReport:
        """Settle `unknown` (and long-stuck `processing`) payments by asking the gateway by their key."""
        cutoff = self._clock() - older_than
        with self._tx() as session:
            stuck = session.execute(
                select(Payment.id).where(
                    Payment.status.in_([P.UNKNOWN.value, P.PROCESSING.value]),
                    Payment.updated_at <= cutoff,
                )
            ).scalars()
            ids = list(stuck)
        settled: dict[int, PaymentStatus] = {}
        for payment_id in ids:
            with self._tx() as session:
                payment = session.get(Payment, payment_id)
                if payment is None:
                    continue
                customer_id = self._customer_id_for(session, payment)
                key, intent_id = payment.idempotency_key, payment.payment_intent_id
            if intent_id:
                outcome = self.gateway.retrieve_charge(intent_id)
            else:
                outcome = self.gateway.find_charge(idempotency_key=key, customer_id=customer_id)
            if outcome.status == ChargeStatus.NOT_FOUND:
                # Past the grace period and Stripe has no charge with our key: none was made.
                outcome = ChargeOutcome(
                    status=ChargeStatus.FAILED,
                    failure_code="charge_not_created",
                    failure_message="The payment did not reach the card processor; nothing was charged.",
                )
            if outcome.status == ChargeStatus.UNKNOWN:
                continue
            with self._tx() as session:
                payment = session.get(Payment, payment_id)
                assert payment is not None
                if payment.status == P.PROCESSING.value:
                    self._cas(session, payment, P.PROCESSING, P.UNKNOWN, reason="reconcile_stuck")
                if self._settle(session, payment, P.UNKNOWN, outcome, event="payment.reconciled"):
                    settled[payment_id] = SETTLED_BY_GATEWAY[outcome.status]
        return ReconcileReport(checked=len(ids), settled=settled)

    def refresh_payment(self, *, user_id: int, payment_id: int) -> PaymentResult:
        """Ask the gateway again about a payment awaiting 3-D Secure (or unknown) and settle it."""
        with self._tx() as session:
            payment = self._owned_payment(session, user_id, payment_id)
            intent_id = payment.payment_intent_id
            current = P(payment.status)
        if current in (P.REQUIRES_ACTION, P.UNKNOWN) and intent_id:
            outcome = self.gateway.retrieve_charge(intent_id)
            with self._tx() as session:
                payment = self._owned_payment(session, user_id, payment_id)
                if outcome.status != ChargeStatus.REQUIRES_ACTION or current != P.REQUIRES_ACTION:
                    self._settle(session, payment, current, outcome, event="payment.refreshed")
        with self._tx() as session:
            return self._result(session, self._owned_payment(session, user_id, payment_id))

    def complete_sandbox_authentication(
        self, *, user_id: int, payment_id: int, success: bool
    ) -> PaymentResult:
        """Pass (or fail) a 3-D Secure challenge in the Stripe sandbox, then settle the payment."""
        with self._tx() as session:
            payment = self._owned_payment(session, user_id, payment_id)
            intent_id = payment.payment_intent_id
            if payment.status != P.REQUIRES_ACTION.value or not intent_id:
                raise PaymentNotPendingError(payment_id=payment_id, status=payment.status)
        authenticate = getattr(self.gateway, "authenticate_in_sandbox", None)
        if authenticate is None or not self._gateway_is_sandbox():
            raise PaymentNotPendingError(payment_id=payment_id, reason="not_sandbox")
        authenticate(intent_id, success=success)
        return self.refresh_payment(user_id=user_id, payment_id=payment_id)

    def sandbox_challenge(self, *, payment_intent_id: str, signature: str) -> PaymentResult:
        """The payment behind a signed sandbox challenge link (for the bank page); checks the link."""
        user_id, payment_id = self._challenge_owner(payment_intent_id, signature)
        return self.get_payment(user_id=user_id, payment_id=payment_id)

    def complete_sandbox_challenge(
        self, *, payment_intent_id: str, signature: str, success: bool
    ) -> PaymentResult:
        """Answer a sandbox 3-D Secure challenge reached through its signed link, then settle."""
        user_id, payment_id = self._challenge_owner(payment_intent_id, signature)
        return self.complete_sandbox_authentication(user_id=user_id, payment_id=payment_id, success=success)

    def settle_payment_intent(self, *, payment_intent_id: str) -> PaymentStatus | None:
        """Ask the gateway about a PaymentIntent awaiting 3-D Secure and settle its payment.

        Used when the customer comes back from the bank: it only copies what the processor says,
        so it needs no proof of who asks. Returns the payment's status, None when it is not ours.
        """
        with self._tx() as session:
            payment = self._payment_by_intent(session, payment_intent_id)
            if payment is None:
                return None
            current = P(payment.status)
        if current not in (P.REQUIRES_ACTION, P.UNKNOWN):
            return current
        outcome = self.gateway.retrieve_charge(payment_intent_id)
        with self._tx() as session:
            payment = self._payment_by_intent(session, payment_intent_id)
            assert payment is not None
            self._settle(session, payment, current, outcome, event="payment.returned")
            return P(payment.status)

    def record_webhook_event(self, *, event_id: str, event_type: str, payment_intent_id: str | None) -> bool:
        """Apply a verified Stripe event once (deduplicated by id); False when already processed.

        The event is marked processed in the same transaction that settles its payment, so a
        failure in between leaves it unprocessed and Stripe's retry applies it.
        """
        with self._tx() as session:
            seen = session.execute(
                select(ProcessedWebhookEvent.id).where(ProcessedWebhookEvent.event_id == event_id)
            ).first()
            if seen is not None:
                return False
            payment = self._payment_by_intent(session, payment_intent_id) if payment_intent_id else None
            current = P(payment.status) if payment is not None else None
        outcome: ChargeOutcome | None = None
        if payment_intent_id and current in (P.REQUIRES_ACTION, P.UNKNOWN):
            # The event says what happened; the gateway says what is true now (events can be stale).
            outcome = self.gateway.retrieve_charge(payment_intent_id)
        try:
            with self._tx() as session:
                session.add(ProcessedWebhookEvent(event_id=event_id, event_type=event_type))
                session.flush()
                if outcome is not None and current is not None and payment_intent_id:
                    payment = self._payment_by_intent(session, payment_intent_id)
                    assert payment is not None
                    self._settle(session, payment, current, outcome, event="payment.webhook")
        except IntegrityError:
            return False  # a concurrent delivery of the same event won
        return True

    def handle_stripe_webhook(self, *, payload: bytes, signature: str) -> bool:
        """Verify a Stripe webhook and apply it once; raises WebhookInvalidError when it does not verify."""
        from payments.stripe_gateway import parse_webhook

        if not self.config.stripe_webhook_secret:
            raise WebhookInvalidError(reason="no_secret_configured")
        event = parse_webhook(payload, signature, self.config.stripe_webhook_secret)
        return self.record_webhook_event(
            event_id=event.event_id, event_type=event.event_type, payment_intent_id=event.payment_intent_id
        )

    def expire_stale_drafts(self, *, older_than_minutes: int = 30) -> int:
        """Cancel drafts nobody confirmed in time and approvals nobody answered in 48 h; returns how many.

        An approval's age counts from the user's consent (`confirmed_at`); the limit is
        `ServiceConfig.approval_expiry_hours`.
        """
        now = self._clock()
        cutoff = now - timedelta(minutes=older_than_minutes)
        approval_cutoff = now - timedelta(hours=self.config.approval_expiry_hours)
        count = 0
        with self._tx() as session:
            drafts = session.execute(
                select(Payment).where(Payment.status == P.DRAFT.value, Payment.created_at <= cutoff)
            ).scalars()
            for payment in list(drafts):
                count += int(self._cas(session, payment, P.DRAFT, P.CANCELLED, reason="expired"))
            waiting = session.execute(
                select(Payment).where(
                    Payment.status == P.AWAITING_APPROVAL.value,
                    func.coalesce(Payment.confirmed_at, Payment.created_at) <= approval_cutoff,
                )
            ).scalars()
            for payment in list(waiting):
                count += int(
                    self._cas(session, payment, P.AWAITING_APPROVAL, P.CANCELLED, reason="approval_expired")
                )
        return count

    # --- notifications (the outbox the Telegram bot delivers) -----------------------------------

    def pending_notifications(self, *, limit: int = 50) -> list[NotificationView]:
        """Undelivered notifications of users reachable on Telegram, oldest first."""
        with self._tx() as session:
            rows = session.execute(
                select(Notification, Payment, User, Biller.name)
                .join(Payment, Notification.payment_id == Payment.id)
                .join(User, Notification.user_id == User.id)
                .join(Bill, Payment.bill_id == Bill.id)
                .join(Biller, Bill.biller_id == Biller.id)
                .where(Notification.sent_at.is_(None), User.telegram_user_id.is_not(None))
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
                    biller_name=str(biller_name),
                    amount_text=format_money(Money(payment.amount_minor, payment.currency), user.locale),
                    failure_message=payment.failure_message,
                    locale=user.locale,
                )
                for note, payment, user, biller_name in rows
            ]

    def mark_notification_sent(self, *, notification_id: int) -> bool:
        """Record a notification as delivered; False when it already was (compare-and-set on sent_at)."""
        with self._tx() as session:
            result = session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.sent_at.is_(None))
                .values(sent_at=self._clock())
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    # --- the state machine -----------------------------------------------------------------------

    def _approve(self, user_id: int, payment_id: int, consent_text: str) -> tuple[bool, bool]:
        """draft → approved with a signed consent; returns (this call approved it, it is scheduled)."""
        with self._tx() as session:
            payment = self._owned_payment(session, user_id, payment_id)
            if payment.status != P.DRAFT.value:
                return False, False
            # Row locks on PostgreSQL (SQLite transactions are already serialized by BEGIN IMMEDIATE):
            # the user's row serializes the daily limit across all their bills, the bill's row the
            # outstanding amount. Always user first, then bill, so two approvals never deadlock.
            user = self._lock_user(session, user_id)
            bill = session.execute(
                select(Bill).where(Bill.id == payment.bill_id).with_for_update()
            ).scalar_one()
            # Re-read under the lock: a racing confirmation may have approved it meanwhile.
            session.refresh(payment)
            if payment.status != P.DRAFT.value:
                return False, False
            if bill.status not in OPEN_BILL_STATUSES:
                raise BillNotFoundError(bill_id=bill.id)
            amount = Money(payment.amount_minor, payment.currency)
            outstanding = self._outstanding(session, bill)
            self._check_amount(session, user, amount=amount, outstanding=outstanding, pay_on=payment.pay_on)
            now = self._clock()
            # Multi-signature: a large payment keeps its consent but waits for a second approver.
            needs_second = payment.amount_minor >= self.config.second_approval_minor
            target = P.AWAITING_APPROVAL if needs_second else P.APPROVED
            if not self._cas(session, payment, P.DRAFT, target, confirmed_at=now):
                return False, False
            message = consent_message(
                payment_id=payment.id,
                user_id=user_id,
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                summary_text=payment.summary_text,
                confirmation=consent_text,
                confirmed_at=now,
            )
            signature = sign(self.config.consent_signing_key, message)
            session.add(
                Consent(
                    payment_id=payment.id,
                    user_id=user_id,
                    summary_text=payment.summary_text,
                    confirmation=consent_text,
                    confirmed_at=now,
                    signature=signature,
                )
            )
            if needs_second:
                return False, False
            return True, self._schedule_if_dated(session, payment, user, now)

    def _schedule_if_dated(self, session: Session, payment: Payment, user: User, now: datetime) -> bool:
        """Record the schedule of an approved payment dated after today; True when it is scheduled."""
        if payment.pay_on <= today_in(user.timezone, now):
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
            )
        )
        return True

    def _charge(self, payment_id: int, *, user_waiting: bool = False) -> PaymentResult:
        """approved → processing → charge once → succeeded | failed | requires_action | unknown.

        `user_waiting`: the user is in the confirming chat turn and reads the result there.
        """
        with self._tx() as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            if not self._cas(session, payment, P.APPROVED, P.PROCESSING):
                session.refresh(payment)  # another caller moved it: report what it is now
                return self._result(session, payment)
            card = session.get(SavedPaymentMethod, payment.payment_method_id)
            assert card is not None
            customer = session.get(StripeCustomer, card.customer_id)
            assert customer is not None
            request: dict[str, Any] = {
                "amount": Money(payment.amount_minor, payment.currency),
                "customer_id": customer.stripe_customer_id,
                "payment_method_id": card.stripe_payment_method_id,
                "idempotency_key": payment.idempotency_key,
                "metadata": {"paychat_payment_id": str(payment.id), "paychat_bill_id": str(payment.bill_id)},
            }
        try:
            outcome = self.gateway.charge(**request)
        except Exception:
            outcome = ChargeOutcome(status=ChargeStatus.UNKNOWN)
        with self._tx() as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            self._settle(
                session, payment, P.PROCESSING, outcome, event="payment.charged", user_waiting=user_waiting
            )
            session.refresh(payment)
            return self._result(session, payment)

    def _settle(
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
        """
        new = SETTLED_BY_GATEWAY.get(outcome.status, P.UNKNOWN)
        if new == expected or not can_transition(expected, new):
            return False
        bill = session.execute(select(Bill).where(Bill.id == payment.bill_id).with_for_update()).scalar_one()
        values: dict[str, Any] = {
            "failure_code": outcome.failure_code,
            "failure_message": outcome.failure_message,
            "next_action_url": outcome.next_action_url,
        }
        if outcome.payment_intent_id:
            values["payment_intent_id"] = outcome.payment_intent_id
        if new in (P.SUCCEEDED, P.FAILED):
            values["completed_at"] = self._clock()
        if not self._cas(session, payment, expected, new, audit_event=event, **values):
            return False
        if new == P.SUCCEEDED:
            paid = session.execute(
                select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
                    Payment.bill_id == bill.id, Payment.status == P.SUCCEEDED.value
                )
            ).scalar_one()
            bill.status = (
                BillStatus.PAID if int(paid) >= bill.amount_due_minor else BillStatus.PARTIALLY_PAID
            ).value
            bill.updated_at = self._clock()
        kind = NOTIFIED_OUTCOMES.get(new)
        if kind is not None and not user_waiting:
            self._notify(session, payment, kind)
        return True

    def _notify(self, session: Session, payment: Payment, kind: NotificationKind) -> None:
        """Queue a notification in the caller's transaction (the outbox the bot delivers)."""
        session.add(
            Notification(
                user_id=payment.user_id, payment_id=payment.id, kind=kind.value, created_at=self._clock()
            )
        )

    def _cas(
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
        """One compare-and-set UPDATE of the status; audited when it wins."""
        if not can_transition(expected, new):
            raise ValueError(f"illegal transition {expected} → {new}")
        result = session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status == expected.value)
            .values(status=new.value, updated_at=self._clock(), **values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return False
        data: dict[str, Any] = {k: v for k, v in values.items() if isinstance(v, str | int) and v is not None}
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
        session.refresh(payment)
        return True

    def _wait_for_result(self, user_id: int, payment_id: int) -> PaymentResult:
        """The payment's result, waiting briefly while another call is still charging it."""
        deadline = time.monotonic() + self.config.confirm_wait.total_seconds()
        while True:
            with self._tx() as session:
                payment = self._owned_payment(session, user_id, payment_id)
                in_flight = payment.status == P.PROCESSING.value or (
                    payment.status == P.APPROVED.value
                    and session.execute(
                        select(ScheduledPayment.id).where(ScheduledPayment.payment_id == payment_id)
                    ).first()
                    is None
                )
                if not in_flight or time.monotonic() >= deadline:
                    return self._result(session, payment)
            time.sleep(0.05)

    # --- helpers ---------------------------------------------------------------------------------

    def _gateway_is_sandbox(self) -> bool:
        return bool(getattr(self.gateway, "is_sandbox", False))

    def _payment_by_intent(self, session: Session, payment_intent_id: str) -> Payment | None:
        return session.execute(
            select(Payment).where(Payment.payment_intent_id == payment_intent_id)
        ).scalar_one_or_none()

    def _challenge_owner(self, payment_intent_id: str, signature: str) -> tuple[int, int]:
        """(user id, payment id) of a signed challenge link; the same error for every refusal."""
        # One answer for a bad signature, an unknown intent and a real gateway: no existence oracle.
        if not self._gateway_is_sandbox() or not challenge_signature_valid(
            self.config.challenge_signing_key, payment_intent_id, signature
        ):
            raise PaymentNotFoundError(reason="challenge_link_invalid")
        with self._tx() as session:
            payment = self._payment_by_intent(session, payment_intent_id)
            if payment is None:
                raise PaymentNotFoundError(reason="challenge_link_invalid")
            return payment.user_id, payment.id

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.session_factory.begin() as session:
            yield session

    def _user(self, session: Session, user_id: int) -> User:
        user = session.get(User, user_id)
        if user is None:
            raise PaymentNotFoundError(user_id=user_id)
        return user

    def _lock_user(self, session: Session, user_id: int) -> User:
        """The user's row, locked until the transaction ends (SELECT … FOR UPDATE on PostgreSQL)."""
        user = session.execute(
            select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if user is None:
            raise PaymentNotFoundError(user_id=user_id)
        return user

    def _owned_bill(self, session: Session, user_id: int, bill_id: int) -> tuple[Bill, Biller]:
        row = session.execute(
            select(Bill, Biller).join(Biller, Bill.biller_id == Biller.id).where(Bill.id == bill_id)
        ).first()
        # Someone else's bill looks exactly like a missing one: no existence oracle.
        if row is None or row[0].user_id != user_id or row[0].status not in OPEN_BILL_STATUSES:
            raise BillNotFoundError(bill_id=bill_id)
        return row[0], row[1]

    def _owned_payment(self, session: Session, user_id: int, payment_id: int) -> Payment:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.user_id != user_id:
            raise PaymentNotFoundError(payment_id=payment_id)
        return payment

    def _outstanding(self, session: Session, bill: Bill) -> Money:
        reserved = session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
                Payment.bill_id == bill.id, Payment.status.in_([s.value for s in RESERVING])
            )
        ).scalar_one()
        return Money(bill.amount_due_minor - int(reserved), bill.currency)

    def _check_amount(
        self, session: Session, user: User, *, amount: Money, outstanding: Money, pay_on: date
    ) -> None:
        if amount.amount_minor > outstanding.amount_minor:
            raise AmountAboveOutstandingError(
                amount=format_money(amount, user.locale), outstanding=format_money(outstanding, user.locale)
            )
        if amount.amount_minor > self.config.per_payment_limit_minor:
            limit = Money(self.config.per_payment_limit_minor, amount.currency)
            raise PerPaymentLimitError(limit=format_money(limit, user.locale))
        same_day = session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
                Payment.user_id == user.id,
                Payment.pay_on == pay_on,
                Payment.status.in_([s.value for s in RESERVING]),
            )
        ).scalar_one()
        if int(same_day) + amount.amount_minor > self.config.daily_limit_minor:
            left = max(0, self.config.daily_limit_minor - int(same_day))
            raise DailyLimitError(remaining=format_money(Money(left, amount.currency), user.locale))

    def _default_card(self, session: Session, user_id: int) -> SavedPaymentMethod:
        card = session.execute(
            select(SavedPaymentMethod)
            .where(SavedPaymentMethod.user_id == user_id)
            .order_by(SavedPaymentMethod.is_default.desc(), SavedPaymentMethod.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if card is None:
            raise NoCardError(user_id=user_id)
        return card

    def _customer_id_for(self, session: Session, payment: Payment) -> str:
        card = session.get(SavedPaymentMethod, payment.payment_method_id)
        customer = session.get(StripeCustomer, card.customer_id) if card else None
        return customer.stripe_customer_id if customer else ""

    def _date_text(self, user: User, day: date) -> str:
        today = today_in(user.timezone, self._clock())
        formatted = str(format_date(day, format="medium", locale=_babel_locale(user.locale)))
        if day == today:
            return f"today ({formatted})"
        if day == today + timedelta(days=1):
            return f"tomorrow ({formatted})"
        return f"on {formatted}"

    def _bill_view(self, session: Session, bill: Bill, biller: Biller, locale: str) -> BillView:
        amount_due = Money(bill.amount_due_minor, bill.currency)
        outstanding = self._outstanding(session, bill)
        return BillView(
            id=bill.id,
            biller_name=biller.name,
            biller_category=biller.category,
            reference=bill.reference,
            amount_due=amount_due,
            outstanding=outstanding,
            due_date=bill.due_date,
            status=bill.status,
            amount_due_text=format_money(amount_due, locale),
            outstanding_text=format_money(Money(max(0, outstanding.amount_minor), bill.currency), locale),
            due_date_text=_list_date_text(bill.due_date, locale),
        )

    def _biller_name(self, session: Session, bill_id: int) -> str:
        name = session.execute(
            select(Biller.name).join(Bill, Bill.biller_id == Biller.id).where(Bill.id == bill_id)
        ).scalar_one()
        return str(name)

    def _result(self, session: Session, payment: Payment) -> PaymentResult:
        user = self._user(session, payment.user_id)
        amount = Money(payment.amount_minor, payment.currency)
        amount_text = format_money(amount, user.locale)
        biller = self._biller_name(session, payment.bill_id)
        status = P(payment.status)
        schedule_id = session.execute(
            select(ScheduledPayment.id).where(ScheduledPayment.payment_id == payment.id)
        ).scalar_one_or_none()
        receipts = {
            P.SUCCEEDED: f"Paid {amount_text} to {biller}. Receipt: {payment.payment_intent_id}.",
            P.FAILED: f"The payment of {amount_text} to {biller} failed: {payment.failure_message}",
            P.REQUIRES_ACTION: f"Your bank wants to confirm the payment of {amount_text} to {biller}: "
            f"{payment.next_action_url}",
            P.UNKNOWN: f"The card processor has not answered yet about {amount_text} to {biller}. "
            "We will check and tell you; you will not be charged twice.",
            P.PROCESSING: f"The payment of {amount_text} to {biller} is being processed.",
            P.APPROVED: f"Scheduled {amount_text} to {biller} {self._date_text(user, payment.pay_on)}."
            if schedule_id
            else f"The payment of {amount_text} to {biller} is being processed.",
            P.CANCELLED: f"The payment of {amount_text} to {biller} was cancelled.",
            P.DRAFT: f"The payment of {amount_text} to {biller} is waiting for your confirmation.",
            P.AWAITING_APPROVAL: f"The payment of {amount_text} to {biller} needs a second approval; "
            "it is charged once a staff member approves it.",
        }
        return PaymentResult(
            payment_id=payment.id,
            status=status,
            amount=amount,
            amount_text=amount_text,
            biller_name=biller,
            receipt_text=receipts[status],
            payment_intent_id=payment.payment_intent_id,
            failure_code=payment.failure_code,
            failure_message=payment.failure_message,
            next_action_url=payment.next_action_url,
            pay_on=payment.pay_on,
            scheduled_payment_id=schedule_id,
        )

    def _payment_view(self, session: Session, payment: Payment) -> PaymentView:
        user = self._user(session, payment.user_id)
        amount = Money(payment.amount_minor, payment.currency)
        return PaymentView(
            payment_id=payment.id,
            biller_name=self._biller_name(session, payment.bill_id),
            amount=amount,
            amount_text=format_money(amount, user.locale),
            status=P(payment.status),
            pay_on=payment.pay_on,
            created_at=payment.created_at,
            payment_intent_id=payment.payment_intent_id,
            failure_code=payment.failure_code,
            failure_message=payment.failure_message,
            pay_on_text=_list_date_text(payment.pay_on, user.locale),
        )

    def _schedule_view(self, session: Session, schedule: ScheduledPayment) -> ScheduledPaymentView:
        user = self._user(session, schedule.user_id)
        amount = Money(schedule.amount_minor, schedule.currency)
        return ScheduledPaymentView(
            scheduled_payment_id=schedule.id,
            payment_id=schedule.payment_id,
            biller_name=self._biller_name(session, schedule.bill_id),
            amount=amount,
            amount_text=format_money(amount, user.locale),
            pay_on=schedule.pay_on,
            pay_on_text=self._date_text(user, schedule.pay_on),
            status=schedule.status,
        )


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _candidate(biller: Biller) -> BillerCandidate:
    return BillerCandidate(
        biller_id=biller.id, name=biller.name, category=biller.category, aliases=tuple(biller.aliases or ())
    )


def _user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        telegram_user_id=user.telegram_user_id,
        locale=user.locale,
        timezone=user.timezone,
        currency=user.currency,
        is_test=user.is_test,
    )


def _card_label(card: SavedPaymentMethod) -> str:
    return f"{card.brand.capitalize()} •••• {card.last4}"


def _list_date_text(day: date, locale: str) -> str:
    """A day as list lines show it, in the user's locale ("3 Dec 2025", "03.12.2025")."""
    # Stored days are already the user's calendar days (pay_on is taken in their time zone).
    return str(format_date(day, format="medium", locale=_babel_locale(locale)))


def _babel_locale(locale: str) -> str:
    return locale.replace("-", "_") or "en_IE"


def _locale_for(language_code: str | None, default: str) -> str:
    """A babel locale for a Telegram language code ("de" → de_DE), else the default."""
    known = {
        "de": "de_DE",
        "en": default if default.startswith("en") else "en_IE",
        "fr": "fr_FR",
        "es": "es_ES",
    }
    if not language_code:
        return default
    return known.get(language_code.split("-")[0].lower(), default)


def service_config_from(settings: Any) -> ServiceConfig:
    """The use cases' configuration from `settings.Settings`."""
    key = getattr(settings, "consent_signing_key", "") or DEV_CONSENT_KEY
    return ServiceConfig(
        per_payment_limit_minor=settings.per_payment_limit_minor,
        daily_limit_minor=settings.daily_limit_minor,
        schedule_horizon_days=settings.schedule_horizon_days,
        demo_mode=settings.demo_mode,
        consent_signing_key=key.encode(),
        default_locale=settings.default_locale,
        default_timezone=settings.default_timezone,
        default_currency=settings.default_currency,
        confirm_wait=timedelta(seconds=settings.stripe_timeout_seconds + 5),
        stripe_webhook_secret=settings.stripe_webhook_secret,
        challenge_signing_key=_challenge_key(settings),
        second_approval_minor=int(getattr(settings, "second_approval_minor", 100_000)),
    )


def _challenge_key(settings: Any) -> bytes:
    return (getattr(settings, "sandbox_challenge_key", "") or DEV_CHALLENGE_KEY).encode()


def build_gateway(settings: Any) -> PaymentGateway:
    """The Stripe gateway for `settings` (the sandbox unless a real key is configured)."""
    from payments.stripe_gateway import StripeGateway

    public_url = str(getattr(settings, "public_url", "") or "http://127.0.0.1:8000").rstrip("/")
    key = _challenge_key(settings)
    return StripeGateway(
        api_key=settings.effective_stripe_api_key,
        api_base=settings.effective_stripe_api_base,
        timeout_seconds=settings.stripe_timeout_seconds,
        sandbox=settings.uses_stripe_sandbox,
        return_url=f"{public_url}/payments/return",
        challenge_url=lambda intent_id: challenge_url(public_url, key, intent_id),
    )


def build_service(settings: Any, *, engine: Engine | None = None) -> PaymentsService:
    """A PaymentsService on the configured database and Stripe (call once per process)."""
    engine = engine or make_engine(settings.effective_database_url)
    return PaymentsService(
        session_factory=make_session_factory(engine),
        gateway=build_gateway(settings),
        config=service_config_from(settings),
    )
