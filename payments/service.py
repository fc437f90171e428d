"""`PaymentsService`: the one handle the edges hold on the payments core, and `build_service` that wires it.

A thin facade: every public use case keeps its name and signature (docs/contracts.md) and
delegates to the room that owns it — users, ledger (bills), drafting, charging, approvals,
settlement, the sandbox's bank, history and the outbox. Methods are synchronous and keyword-only,
take the acting `user_id`, and return frozen views (payments.views).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.models import utcnow
from payments.approvals import Approvals
from payments.autopay import Autopay, AutopayReport
from payments.charging import Charging
from payments.config import ServiceConfig, service_config_from
from payments.confirming import Confirmations
from payments.consent import TapEvidence
from payments.demo import provision_demo_user
from payments.drafting import Drafting, SummaryRenderer, terms_line
from payments.gateway import PaymentGateway
from payments.history import History
from payments.ledger import Ledger
from payments.machine import StateMachine
from payments.mandates import Mandates, MandateView
from payments.outbox import Outbox
from payments.oversight import BillerOption, Oversight, PaymentFilter, StaffPaymentDetail, StaffPaymentRow
from payments.personal_data import ForgetReport, PersonalData
from payments.refunds import RefundAmount, Refunds, RefundView
from payments.reminders import ReminderRound, Reminders, ReminderSetting
from payments.risk import RiskDecisionView, decisions_of, flagged_decisions
from payments.sandbox_bank import SandboxBank
from payments.settlement import Settlement
from payments.several import PayingAll
from payments.statuses import PaymentStatus
from payments.stripe_gateway import build_gateway
from payments.testusers import ResetReport, TestCard, TestUsers
from payments.unit_of_work import UnitOfWork
from payments.users import Users
from payments.views import (
    ApprovalView,
    BillView,
    CancelOutcome,
    DueBills,
    NextBill,
    NotificationView,
    PayAllReport,
    PaymentResult,
    PaymentSummary,
    PaymentView,
    ReconcileReport,
    ScheduledPaymentView,
    StepUpView,
    UserView,
)
from settings import Settings

__all__ = ["PaymentsService", "ServiceConfig", "build_service"]


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
        uow = UnitOfWork(session_factory, clock)
        machine = StateMachine(uow, outcome_hold=config.outcome_hold, consent_key=config.consent_signing_key)
        self.users = Users(uow, config)
        self.ledger = Ledger(uow, config)
        self.drafting = Drafting(uow, self.ledger, machine, config)
        self.charging = Charging(uow, self.ledger, machine, gateway, config)
        self.confirmations = Confirmations(uow, self.drafting, self.charging)
        self.paying_all = PayingAll(uow, self.ledger, self.drafting)
        self.approvals = Approvals(uow, machine, self.charging)
        self.settlement = Settlement(uow, machine, self.charging, gateway, config)
        self.sandbox_bank = SandboxBank(uow, gateway, self.settlement, config)
        self.history = History(uow)
        self.outbox = Outbox(uow)
        self.personal_data = PersonalData(uow, machine, gateway)
        self.refunds = Refunds(uow, gateway, wait=config.confirm_wait)
        self.oversight = Oversight(uow, gateway, config)
        self.test_users = TestUsers(uow, session_factory, gateway)
        self.reminders = Reminders(uow, config)  # issue 13 item 4
        # --- standing mandates (issue 13, item 8): the edges call these rooms directly ---
        self.mandates = Mandates(uow, config, machine)
        self.charging.step_up.on_lock = self.mandates.codes.fail_pending  # the lock closes both kinds
        self.autopay = Autopay(uow, self.ledger, machine, self.charging, config)
        # --- end standing mandates ---
        self._uow = uow

    # --- users -----------------------------------------------------------------------------------

    def user_id_for_sender(self, *, sender_id: str) -> int:
        """users.id for a `tg-…` or `console-…` sender id; UnknownUserError otherwise."""
        return self.users.user_id_for_sender(sender_id=sender_id)

    def ensure_telegram_user(
        self, *, telegram_user_id: int, name: str | None, language_code: str | None
    ) -> UserView:
        """The user behind a Telegram account, created on first contact (with demo bills in demo mode)."""
        user, created = self.users.ensure_telegram_user(
            telegram_user_id=telegram_user_id,
            name=name,
            language_code=language_code,
            is_demo=self.config.demo_mode,
        )
        if created and self.config.demo_mode:
            provision_demo_user(self.session_factory, self.gateway, user_id=user.id)
        return user

    def set_telegram_reachable(self, *, telegram_user_id: int, reachable: bool) -> bool:
        """Record that a Telegram user blocked the bot (False) or came back (True); True when changed."""
        return self.users.set_telegram_reachable(telegram_user_id=telegram_user_id, reachable=reachable)

    def get_user(self, *, user_id: int) -> UserView:
        """The user's view (name, locale, time zone, currency)."""
        return self.users.get_user(user_id=user_id)

    # --- bills -----------------------------------------------------------------------------------

    def open_bills(self, *, user_id: int) -> list[BillView]:
        """The user's bills that still have something to pay, earliest due first."""
        return self.ledger.open_bills(user_id=user_id)

    def find_bill(self, *, user_id: int, biller_text: str) -> BillView:
        """The user's open bill from the biller `biller_text` names (alias or fuzzy match)."""
        with self._uow.tx() as session:
            return self.ledger.find_bill(session, user_id, biller_text)

    # --- paying several bills, one at a time --------------------------------------------------

    def bills_due(self, *, user_id: int) -> DueBills:
        """The user's open bills (biller, what is owed, due date), earliest due first, and the
        total still owed per currency."""
        return self.paying_all.bills_due(user_id=user_id)

    def next_bill(
        self,
        *,
        user_id: int,
        conversation: str,
        bill_ids: Sequence[int],
        listed_bill_ids: Collection[int],
        payment_ids: Collection[int],
        replacing_payment_id: int | None = None,
        render_summary: SummaryRenderer = terms_line,
    ) -> NextBill:
        """The next bill of a pay-everything round drafted as the conversation's live offer (its own
        summary, nonce and payment), or, with none left, the round's report."""
        return self.paying_all.next_bill(
            user_id=user_id,
            conversation=conversation,
            bill_ids=bill_ids,
            listed_bill_ids=listed_bill_ids,
            payment_ids=payment_ids,
            replacing_payment_id=replacing_payment_id,
            render_summary=render_summary,
        )

    def pay_all_report(
        self, *, user_id: int, listed_bill_ids: Collection[int], payment_ids: Collection[int]
    ) -> PayAllReport:
        """What a pay-everything round did: its confirmed payments and its bills still open."""
        return self.paying_all.report(
            user_id=user_id, listed_bill_ids=listed_bill_ids, payment_ids=payment_ids
        )

    # --- drafting and cancelling -----------------------------------------------------------------

    def draft_payment(
        self,
        *,
        user_id: int,
        bill_id: int,
        amount_text: str | None,
        date_text: str | None,
        render_summary: SummaryRenderer = terms_line,
    ) -> PaymentSummary:
        """Check amount, date, limits and card, and record a draft with the rendered consent text."""
        with self._uow.tx() as session:
            return self.drafting.draft(session, user_id, bill_id, amount_text, date_text, render_summary)

    def prepare_payment(
        self,
        *,
        user_id: int,
        biller_text: str | None,
        bill_id: int | None,
        amount_text: str | None,
        date_text: str | None,
        replacing_payment_id: int | None = None,
        render_summary: SummaryRenderer = terms_line,
        conversation: str | None = None,
        unspanned_text: str | None = None,
    ) -> PaymentSummary:
        """Draft on the bill `biller_text` names (else `bill_id`), replacing an earlier draft (one call).

        `render_summary` words the typed terms at the edge; what it returns is stored as the consent text.
        With `conversation` (the chat's sender id) the summary is that conversation's live offer and
        carries a one-time `confirm_nonce` for its buttons (see `confirm_shown_summary`).
        `unspanned_text` (the latest message outside its entity spans) refuses a draft without an
        amount when money was written there (`Drafting.draft`).
        """
        return self.drafting.prepare_payment(
            user_id=user_id,
            biller_text=biller_text,
            bill_id=bill_id,
            amount_text=amount_text,
            date_text=date_text,
            replacing_payment_id=replacing_payment_id,
            render_summary=render_summary,
            conversation=conversation,
            unspanned_text=unspanned_text,
        )

    def cancel_payment(self, *, user_id: int, payment_id: int) -> PaymentView:
        """Cancel a draft (or a scheduled payment not yet charged)."""
        with self._uow.tx() as session:
            return self.drafting.cancel(session, user_id, payment_id)

    def cancel_scheduled_payment(self, *, user_id: int, scheduled_payment_id: int) -> ScheduledPaymentView:
        """Cancel a scheduled payment before its day."""
        return self.drafting.cancel_scheduled_payment(
            user_id=user_id, scheduled_payment_id=scheduled_payment_id
        )

    def cancel_pending_payment(
        self, *, user_id: int, biller_text: str | None = None, payment_id: int | None = None
    ) -> CancelOutcome:
        """Cancel the payment the user picked or named, or say which scheduled ones they can pick."""
        return self.drafting.cancel_pending_payment(
            user_id=user_id, biller_text=biller_text, payment_id=payment_id
        )

    # --- confirming and charging -----------------------------------------------------------------

    def confirm_payment(
        self, *, user_id: int, payment_id: int, consent_text: str, confirmation: str = "",
        tap: TapEvidence | None = None,
    ) -> PaymentResult:  # fmt: skip
        """Approve a draft with the user's consent and charge it (or schedule it); idempotent."""
        return self.charging.confirm_payment(
            user_id=user_id,
            payment_id=payment_id,
            consent_text=consent_text,
            confirmation=confirmation,
            tap=tap,
        )

    def confirm_shown_summary(
        self,
        *,
        user_id: int,
        conversation: str,
        payment_id: int,
        nonce: str | None,
        shown_text: str,
        confirmation: str = "",
        tap: TapEvidence | None = None,
    ) -> PaymentResult:
        """Confirm from chat: only the conversation's live summary, its nonce once, its exact text."""
        return self.confirmations.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=payment_id,
            nonce=nonce,
            shown_text=shown_text,
            confirmation=confirmation,
            tap=tap,
        )

    def withdraw_shown_summaries(self, *, user_id: int, conversation: str) -> int:
        """The user asked to change the summary: its offer closes, so nothing confirms it any more."""
        return self.confirmations.withdraw_offers(user_id=user_id, conversation=conversation)

    def cancel_shown_summary(
        self, *, user_id: int, conversation: str, payment_id: int, nonce: str | None
    ) -> PaymentView:
        """Cancel from chat the draft of the live summary whose Cancel was tapped."""
        return self.confirmations.cancel_shown_summary(
            user_id=user_id, conversation=conversation, payment_id=payment_id, nonce=nonce
        )

    def schedule_payment(self, *, user_id: int, payment_id: int, consent_text: str) -> ScheduledPaymentView:
        """Confirm a draft dated in the future: it is charged on its day by `run_due_payments`."""
        return self.charging.schedule_payment(
            user_id=user_id, payment_id=payment_id, consent_text=consent_text
        )

    def get_payment(self, *, user_id: int, payment_id: int) -> PaymentResult:
        """The current state of one of the user's payments."""
        return self.charging.result(user_id, payment_id)

    # --- history ---------------------------------------------------------------------------------

    def pending_payments(self, *, user_id: int) -> list[ScheduledPaymentView]:
        """The user's scheduled payments still waiting for their day."""
        return self.history.pending_payments(user_id=user_id)

    def payment_history(self, *, user_id: int, limit: int = 10) -> list[PaymentView]:
        """The user's latest payments (drafts left out), newest first."""
        return self.history.payment_history(user_id=user_id, limit=limit)

    # --- staff: second approval ------------------------------------------------------------------

    def payments_awaiting_approval(self) -> list[ApprovalView]:
        """Every consented payment waiting for a second approval, oldest first (for staff)."""
        return self.approvals.payments_awaiting_approval()

    def approve_payment(self, *, payment_id: int, approver: str) -> PaymentResult:
        """Second approval: charge (or schedule) once, however often it is called."""
        return self.approvals.approve_payment(payment_id=payment_id, approver=approver)

    def reject_payment(self, *, payment_id: int, approver: str, reason: str) -> PaymentView:
        """Refuse the second approval: the payment is cancelled and the user told."""
        return self.approvals.reject_payment(payment_id=payment_id, approver=approver, reason=reason)

    def cancel_held_payment(self, *, payment_id: int, staff: str, reason: str = "") -> PaymentView:
        """Staff cancel a payment waiting for its day or its time lock (audited; the user is told)."""
        return self.approvals.cancel_held_payment(payment_id=payment_id, staff=staff, reason=reason)

    # --- settlement: worker, webhooks, 3-D Secure ------------------------------------------------

    def run_due_payments(self) -> list[PaymentResult]:
        """Charge every scheduled payment whose day has come and time lock passed (the worker)."""
        return self.settlement.run_due_payments()

    def reconcile_unknown_payments(self, *, older_than: timedelta = timedelta(seconds=60)) -> ReconcileReport:
        """Settle `unknown` (and long-stuck `processing`) payments by asking the gateway by their key."""
        return self.settlement.reconcile_unknown_payments(older_than=older_than)

    def run_mandates(self) -> AutopayReport:
        """Worker: expire mandates past their day; pay (or ask about) new bills under live mandates."""
        return self.autopay.run_mandates()

    def settle_overdue_payments(self) -> dict[int, PaymentStatus]:
        """Give approved and 3-D Secure payments waiting past their deadlines a final status (worker)."""
        return self.settlement.settle_overdue_payments()

    def refresh_payment(self, *, user_id: int, payment_id: int) -> PaymentResult:
        """Ask the gateway again about a payment awaiting 3-D Secure (or unknown) and settle it."""
        return self.settlement.refresh_payment(user_id=user_id, payment_id=payment_id)

    def settle_payment_intent(self, *, payment_intent_id: str) -> PaymentStatus | None:
        """Settle the payment of a PaymentIntent the customer came back from the bank with."""
        return self.settlement.settle_payment_intent(payment_intent_id=payment_intent_id)

    def record_webhook_event(
        self,
        *,
        event_id: str,
        event_type: str,
        payment_intent_id: str | None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Apply a verified Stripe event once (deduplicated by id); False when already processed."""
        return self.settlement.record_webhook_event(
            event_id=event_id,
            event_type=event_type,
            payment_intent_id=payment_intent_id,
            idempotency_key=idempotency_key,
        )

    def handle_stripe_webhook(self, *, payload: bytes, signature: str) -> bool:
        """Verify a Stripe webhook and apply it once; raises WebhookInvalidError when it does not verify."""
        return self.settlement.handle_stripe_webhook(payload=payload, signature=signature)

    def expire_stale_drafts(self, *, older_than_minutes: int | None = None) -> int:
        """Cancel drafts nobody confirmed in time and approvals nobody answered; returns how many."""
        return self.settlement.expire_stale_drafts(older_than_minutes=older_than_minutes)

    def complete_sandbox_authentication(
        self, *, user_id: int, payment_id: int, success: bool
    ) -> PaymentResult:
        """Pass (or fail) a 3-D Secure challenge in the Stripe sandbox, then settle the payment."""
        return self.sandbox_bank.complete_sandbox_authentication(
            user_id=user_id, payment_id=payment_id, success=success
        )

    def sandbox_challenge(self, *, payment_intent_id: str, signature: str) -> PaymentResult:
        """The payment behind a signed sandbox challenge link (for the bank page); checks the link."""
        user_id, payment_id = self.sandbox_bank.challenge_owner(payment_intent_id, signature)
        return self.get_payment(user_id=user_id, payment_id=payment_id)

    def complete_sandbox_challenge(
        self, *, payment_intent_id: str, signature: str, success: bool
    ) -> PaymentResult:
        """Answer a sandbox 3-D Secure challenge reached through its signed link, then settle."""
        return self.sandbox_bank.complete_sandbox_challenge(
            payment_intent_id=payment_intent_id, signature=signature, success=success
        )

    # --- personal data (/mydata, /forget) ------------------------------------------------------

    def telegram_user(self, *, telegram_user_id: int) -> int | None:
        """The id of the user behind a Telegram account (None: unknown or forgotten)."""
        return self.personal_data.telegram_user(telegram_user_id=telegram_user_id)

    def export_user_data(self, *, user_id: int) -> dict[str, Any]:
        """Everything the payments core keeps about the user, as JSON-ready values."""
        return self.personal_data.export(user_id=user_id)

    def forget_user(self, *, user_id: int) -> ForgetReport:
        """Anonymize the user; payments, consent receipts and the audit chain stay (anonymized)."""
        return self.personal_data.forget(user_id=user_id)

    def forget_pending_at_processor(self) -> int:
        """Anonymize the processor customers of users forgotten while it was unreachable; how many."""
        return self.personal_data.forget_pending_at_processor()

    # --- notifications (the outbox the Telegram bot delivers) -----------------------------------

    def pending_notifications(self, *, limit: int = 50) -> list[NotificationView]:
        """Undelivered notifications of users reachable on Telegram, oldest first."""
        return self.outbox.pending_notifications(limit=limit)

    def turn_outcomes(self, *, user_id: int, since: datetime) -> list[NotificationView]:
        """Outcomes reached in the user's chat turns since `since` and not yet told (for a lost reply)."""
        return self.outbox.turn_outcomes(user_id=user_id, since=since)

    def acknowledge_turn_outcomes(
        self, *, user_id: int, since: datetime, payment_ids: Collection[int]
    ) -> int:
        """The user's chat turn since `since` reached them, telling `payment_ids`: those held
        outcomes need no message."""
        return self.outbox.acknowledge_turn_outcomes(user_id=user_id, since=since, payment_ids=payment_ids)

    def mark_notification_sent(self, *, notification_id: int) -> bool:
        """Record a notification as delivered; False when it already was."""
        return self.outbox.mark_notification_sent(notification_id=notification_id)

    # --- reminders of bills due soon (issue 13 item 4) -------------------------------------------

    def remind_due_bills(self) -> ReminderRound:
        """Worker step: queue one reminder per bill due soon and window (payments.reminders)."""
        return self.reminders.remind_due_bills()

    def set_reminders(self, *, user_id: int, enabled: bool) -> ReminderSetting:
        """The user switches their bill reminders on or off (audited as their setting change)."""
        return self.reminders.set_reminders(user_id=user_id, enabled=enabled, changed_by="user")

    def reminders_enabled(self, *, user_id: int) -> bool:
        """Whether the user's bill reminders are on."""
        return self.reminders.reminders_enabled(user_id=user_id)

    def pay_reminded_bill(
        self,
        *,
        user_id: int,
        bill_id: int,
        conversation: str,
        replacing_payment_id: int | None = None,
        render_summary: SummaryRenderer = terms_line,
    ) -> PaymentSummary:
        """A bill message's "Pay now" (a reminder, a bill a mandate could not pay): draft the whole
        outstanding amount of that bill as the conversation's live offer. BillSettledError when it was
        paid (or is being paid) since; PayNowBillUnknownError when it is not the user's."""
        with self._uow.tx() as session:
            self.reminders.payable_bill(session, user_id=user_id, bill_id=bill_id)
        return self.prepare_payment(
            user_id=user_id,
            biller_text=None,
            bill_id=bill_id,
            amount_text=None,
            date_text=None,
            replacing_payment_id=replacing_payment_id,
            render_summary=render_summary,
            conversation=conversation,
        )

    # --- staff: payments oversight, refunds, test users -----------------------------------------

    def staff_payments(
        self, *, flt: PaymentFilter, limit: int = 100, offset: int = 0
    ) -> list[StaffPaymentRow]:
        """Payments matching the staff filter (status, user, biller, creation days), newest first."""
        return self.oversight.list_payments(flt, limit=limit, offset=offset)

    def staff_billers(self) -> list[BillerOption]:
        """Every biller (for the staff filter)."""
        return self.oversight.billers()

    def staff_payment_detail(self, *, payment_id: int) -> StaffPaymentDetail:
        """One payment with consent, audit trail, refunds and the processor's record of it."""
        return self.oversight.payment_detail(payment_id=payment_id)

    def refund_payment(
        self,
        *,
        payment_id: int,
        amount_minor: int | None = None,
        amount_text: str | None = None,
        locale: str = "en",
        requested_by: str,
        idempotency_key: str,
    ) -> RefundView:
        """Refund (part of) a succeeded payment through the gateway, once per idempotency key.

        The amount (`amount_minor`, or `amount_text` read in `locale`; neither: all that is left)
        is always in the payment's own currency.
        """
        amount = (
            None
            if amount_minor is None and amount_text is None
            else RefundAmount(minor=amount_minor, text=amount_text, locale=locale)
        )
        return self.refunds.refund_payment(
            payment_id=payment_id,
            amount=amount,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
        )

    def create_test_user(self, *, name: str, card: TestCard, created_by: str) -> UserView:
        """A new console-only test user with the demo bills and a sandbox card."""
        return self.test_users.create_test_user(name=name, card=card, created_by=created_by)

    def reset_test_user(self, *, user_id: int, reset_by: str) -> ResetReport:
        """Put a test user back to fresh demo bills and no payments (test users only)."""
        return self.test_users.reset_test_user(user_id=user_id, reset_by=reset_by)

    # --- issue 13 items 2 and 5: step-up codes and risk decisions ----------------------------------

    def verify_step_up_code(
        self, *, user_id: int, code_text: str, payment_id: int | None = None
    ) -> PaymentResult | MandateView:
        """Check the one-time code the user typed against their latest pending code (or the given
        payment's): a payment's, once verified, goes on as confirmed (second approval, time lock,
        charge) and its result is returned; a mandate offer's is signed and the live mandate
        returned. Errors: payments.step_up, payments.mandate_step_up."""
        if payment_id is None:
            mandate = self.mandates.verify_code(user_id=user_id, code_text=code_text)
            if mandate is not None:
                return mandate
        kept = self.charging.step_up.verify(user_id=user_id, code_text=code_text, payment_id=payment_id)
        return self.charging.confirm_payment(
            user_id=user_id, payment_id=kept.payment_id, consent_text=kept.consent_text,
            confirmation=kept.confirmation, tap=kept.tap,
        )  # fmt: skip

    def pending_step_up(self, *, user_id: int) -> StepUpView | None:
        """The user's one-time code waiting to be typed (why, until when, tries left), or None."""
        return self.charging.step_up.pending(user_id=user_id)

    def expire_step_up_codes(self) -> int:
        """The worker's round: expired codes cancel their drafts (users told) or withdraw their
        mandate offers; how many."""
        return self.charging.step_up.expire_codes() + self.mandates.codes.expire_codes()

    def pending_codes_for(self, *, user_id: int) -> list[NotificationView]:
        """A user's undelivered one-time-code messages (the console's test chat shows them)."""
        return self.outbox.pending_codes_for(user_id=user_id)

    def staff_risk_decisions(self, *, payment_id: int) -> list[RiskDecisionView]:
        """Every risk decision about one payment, oldest first (staff)."""
        with self.session_factory() as session:
            return decisions_of(session, payment_id)

    def staff_flagged_decisions(self, *, limit: int = 100) -> list[RiskDecisionView]:
        """The latest risk decisions that asked for a code or refused, newest first (staff)."""
        with self.session_factory() as session:
            return flagged_decisions(session, limit=limit)


def build_service(
    settings: Settings,
    *,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
) -> PaymentsService:
    """A PaymentsService on the configured database and Stripe (call once per process).

    The process's own `session_factory` (or `engine`) is used when given, so that one engine serves
    the payments core and whatever else the process keeps in the database.
    """
    if session_factory is None:
        session_factory = make_session_factory(engine or make_engine(settings.effective_database_url))
    return PaymentsService(
        session_factory=session_factory,
        gateway=build_gateway(settings),
        config=service_config_from(settings),
    )
