"""A user's rights over their personal data: a copy of everything kept (`export`), and `forget`.

Forgetting anonymizes instead of deleting what the law and the audit need: the user row stays (the
payments, consents and audit rows point at its id) with the name removed, the Telegram id
unlinked and `forgotten_at` set; drafts nobody confirmed are cancelled through the state machine;
undelivered notifications are dropped. Payments keep amounts, statuses, dates and the signed
consent receipts (evidence for disputes and bookkeeping); standing mandates are revoked and open
mandate offers cancelled, signed mandate consents kept whole like consent receipts (the summaries of
offers never signed are cleared); the audit chain is appended to, never rewritten, so it still
verifies. The processor's customer loses the name and our user id too, after the local commit: when
the processor cannot be reached the user is forgotten here all the same and the worker finishes it
later (`forget_pending_at_processor`; a `user.forgotten_at_processor` audit row marks it done).
Conversations are the transcripts' business (transcripts.forgetting).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from db.models import (
    AuditLogEntry,
    Bill,
    Biller,
    Consent,
    Mandate,
    MandateBillDecision,
    MandateConsent,
    Notification,
    Payment,
    RiskDecision,
    SavedPaymentMethod,
    ScheduledPayment,
    StepUpChallenge,
    StripeCustomer,
    User,
)
from payments.audit import append_audit
from payments.gateway import PaymentGateway
from payments.machine import StateMachine
from payments.mandate_guard import withdraw_unauthorised
from payments.mandates import LIVE, MandateStatus, close_open_offers
from payments.statuses import PaymentStatus, StepUpStatus
from payments.unit_of_work import UnitOfWork

# The audit event that records a forgotten user's processor customer as anonymized.
PROCESSOR_FORGOTTEN = "user.forgotten_at_processor"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForgetReport:
    """What forgetting did."""

    user_id: int
    drafts_cancelled: int
    notifications_dropped: int
    payments_kept: int
    # True when the processor could not be told yet: the worker finishes it (forget_pending_at_processor).
    processor_pending: bool = False


# The payment columns a user's export shows.
PAYMENT_FIELDS = (
    "id",
    "bill_id",
    "amount_minor",
    "currency",
    "status",
    "pay_on",
    "summary_text",
    "payment_intent_id",
    "failure_code",
    "created_at",
    "confirmed_at",
    "completed_at",
)

# Issue 13's safety controls as the user sees them in their export. Never exported: a code's keyed
# hash or its sealed plain code (step_up_challenges.code_hash, code_sealed), an offer's nonce hash
# (mandate_consents.nonce_sha256): secrets that check the user, not data about them.
MANDATE_FIELDS = (
    "id", "status", "cap_minor", "budget_minor", "currency", "expires_on", "consent_id", "active_since",
    "created_at", "updated_at",
)  # fmt: skip
MANDATE_CONSENT_FIELDS = (
    "id", "mandate_id", "cap_minor", "budget_minor", "currency", "expires_on", "summary_text",
    "offered_at", "closed_at", "closed_reason", "confirmation", "signature", "receipt_hash",
)  # fmt: skip
MANDATE_DECISION_FIELDS = ("id", "mandate_id", "bill_id", "decision", "reason", "payment_id", "decided_at")
RISK_FIELDS = ("id", "payment_id", "score", "reasons", "decision", "created_at")
STEP_UP_FIELDS = (
    "id", "payment_id", "status", "reasons", "attempts", "created_at", "expires_at", "closed_at",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _row(row: Any, *names: str) -> dict[str, Any]:
    return {name: _plain(getattr(row, name)) for name in names}


def revoke_mandates_of(session: Session, machine: StateMachine, user_id: int, now: datetime) -> int:
    """Revoke a forgotten user's live standing mandates (audited): nothing is paid for them any more."""
    live = list(session.scalars(select(Mandate).where(Mandate.user_id == user_id, Mandate.status.in_(LIVE))))
    for mandate in live:
        append_audit(
            session, event="mandate.revoked", user_id=user_id, from_status=mandate.status,
            to_status=MandateStatus.REVOKED.value, data={"mandate_id": mandate.id, "actor": "forget"},
        )  # fmt: skip
        mandate.status, mandate.updated_at = MandateStatus.REVOKED.value, now
        withdraw_unauthorised(session, machine, mandate.id, now)  # its held payments are not charged
    return len(live)


def withdraw_mandate_offers(session: Session, user_id: int, now: datetime) -> None:
    """A forgotten user's open mandate offers are cancelled (a proposed mandate with them), and the
    summaries of offers never signed are cleared: they are evidence of nothing. A signed consent stays
    whole, like a payment's consent receipt: its signature covers its summary and confirmation, and
    the automatic charges kept under the anonymized user id name it as their consent."""
    close_open_offers(session, user_id, "cancelled", now)
    session.execute(
        update(MandateConsent)
        .where(MandateConsent.user_id == user_id, MandateConsent.signature.is_(None))
        .values(summary_text="", confirmation=None)
        .execution_options(synchronize_session=False)
    )


def _safety_sections(session: Session, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """The user's standing mandates, their consents, the worker's decisions on their bills under
    them, their risk decisions and step-up codes (issue 13), oldest first."""
    mandates = session.execute(
        select(Mandate, Biller.name, SavedPaymentMethod.brand, SavedPaymentMethod.last4)
        .join(Biller, Mandate.biller_id == Biller.id)
        .outerjoin(SavedPaymentMethod, Mandate.payment_method_id == SavedPaymentMethod.id)
        .where(Mandate.user_id == user_id)
        .order_by(Mandate.id)
    ).all()
    decisions = (
        select(MandateBillDecision)
        .join(Mandate, MandateBillDecision.mandate_id == Mandate.id)
        .where(Mandate.user_id == user_id)
        .order_by(MandateBillDecision.id)
    )
    return {
        "mandates": [
            {"biller": biller, "card": {"brand": brand, "last4": last4}, **_row(mandate, *MANDATE_FIELDS)}
            for mandate, biller, brand, last4 in mandates
        ],
        "mandate_consents": [
            {
                **_row(consent, *MANDATE_CONSENT_FIELDS),
                "confirmed_at": _plain(consent.closed_at) if consent.closed_reason == "confirmed" else None,
            }
            for consent in session.scalars(
                select(MandateConsent).where(MandateConsent.user_id == user_id).order_by(MandateConsent.id)
            )
        ],
        "mandate_bill_decisions": [_row(row, *MANDATE_DECISION_FIELDS) for row in session.scalars(decisions)],
        "risk_decisions": [
            _row(row, *RISK_FIELDS)
            for row in session.scalars(
                select(RiskDecision).where(RiskDecision.user_id == user_id).order_by(RiskDecision.id)
            )
        ],
        "step_up_challenges": [
            _row(row, *STEP_UP_FIELDS)
            for row in session.scalars(
                select(StepUpChallenge).where(StepUpChallenge.user_id == user_id).order_by(StepUpChallenge.id)
            )
        ],
    }


class PersonalData:
    """Export and forget one user's personal data."""

    def __init__(self, uow: UnitOfWork, machine: StateMachine, gateway: PaymentGateway) -> None:
        self._uow = uow
        self._machine = machine
        self._gateway = gateway

    def telegram_user(self, *, telegram_user_id: int) -> int | None:
        """The id of the (not forgotten) user behind a Telegram account, if any."""
        with self._uow.tx() as session:
            return session.scalar(select(User.id).where(User.telegram_user_id == telegram_user_id))

    def export(self, *, user_id: int) -> dict[str, Any]:
        """Everything the payments core keeps about the user, as JSON-ready values."""
        with self._uow.tx() as session:
            user = session.get(User, user_id)
            if user is None:
                return {}
            return {
                "user": _row(
                    user,
                    "id",
                    "name",
                    "telegram_user_id",
                    "locale",
                    "timezone",
                    "currency",
                    "created_at",
                    "reminders_enabled",  # issue 13 item 4: their bill-reminder switch
                ),
                "cards": [
                    _row(card, "brand", "last4", "exp_month", "exp_year", "created_at")
                    for card in session.scalars(
                        select(SavedPaymentMethod).where(SavedPaymentMethod.user_id == user_id)
                    )
                ],
                "bills": [
                    {
                        "biller": biller,
                        **_row(bill, "id", "reference", "amount_due_minor", "currency", "due_date", "status"),
                    }
                    for bill, biller in session.execute(
                        select(Bill, Biller.name)
                        .join(Biller, Bill.biller_id == Biller.id)
                        .where(Bill.user_id == user_id)
                        .order_by(Bill.id)
                    ).all()
                ],
                "payments": [
                    _row(payment, *PAYMENT_FIELDS)
                    for payment in session.scalars(
                        select(Payment).where(Payment.user_id == user_id).order_by(Payment.id)
                    )
                ],
                "scheduled_payments": [
                    _row(schedule, "id", "payment_id", "amount_minor", "currency", "pay_on", "status")
                    for schedule in session.scalars(
                        select(ScheduledPayment).where(ScheduledPayment.user_id == user_id)
                    )
                ],
                "consents": [
                    _row(
                        consent, "id", "payment_id", "confirmed_at", "summary_text", "confirmation", "receipt"
                    )
                    for consent in session.scalars(
                        select(Consent).where(Consent.user_id == user_id).order_by(Consent.id)
                    )
                ],
                **_safety_sections(session, user_id),
            }

    def forget(self, *, user_id: int) -> ForgetReport:
        """Anonymize the user (see the module docstring); forgetting twice changes nothing more."""
        with self._uow.tx() as session:
            user = session.execute(select(User).where(User.id == user_id).with_for_update()).scalar_one()
            drafts = list(
                session.scalars(
                    select(Payment).where(
                        Payment.user_id == user_id, Payment.status == PaymentStatus.DRAFT.value
                    )
                )
            )
            cancelled = sum(
                self._machine.move(
                    session, p, PaymentStatus.DRAFT, PaymentStatus.CANCELLED, reason="forgotten"
                )
                for p in drafts
            )
            # Standing mandates (issue 13, item 8), and their payments not charged yet; open offers.
            revoke_mandates_of(session, self._machine, user_id, self._uow.now())
            withdraw_mandate_offers(session, user_id, self._uow.now())
            dropped = session.execute(
                delete(Notification).where(Notification.user_id == user_id, Notification.sent_at.is_(None))
            )
            # Issue 13: pending codes die with their drafts; the words the user confirmed with go.
            session.execute(
                update(StepUpChallenge)
                .where(StepUpChallenge.user_id == user_id)
                .values(
                    confirmation="",
                    code_sealed=None,
                    status=case(
                        (StepUpChallenge.status == StepUpStatus.PENDING.value, StepUpStatus.CANCELLED.value),
                        else_=StepUpChallenge.status,
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            kept = len(list(session.scalars(select(Payment.id).where(Payment.user_id == user_id))))
            if user.forgotten_at is None:
                user.name = ""
                user.telegram_user_id = None
                user.demo_key = None
                user.forgotten_at = self._uow.now()
                append_audit(session, event="user.forgotten", user_id=user_id, data={"payments_kept": kept})
            report = ForgetReport(
                user_id=user_id,
                drafts_cancelled=int(cancelled),
                notifications_dropped=int(getattr(dropped, "rowcount", 0) or 0),
                payments_kept=kept,
            )
        # After the commit: the user is forgotten here whatever the processor answers.
        return replace(report, processor_pending=not self._forget_at_processor(user_id))

    def forget_pending_at_processor(self, *, limit: int = 50) -> int:
        """Finish forgetting at the processor for users forgotten here while it was unreachable.

        Returns how many customers were anonymized now; stops at the first failure (the processor
        is most likely still unreachable: the next worker round tries again).
        """
        done = select(AuditLogEntry.id).where(
            AuditLogEntry.user_id == User.id, AuditLogEntry.event == PROCESSOR_FORGOTTEN
        )
        with self._uow.tx() as session:
            pending = list(
                session.scalars(
                    select(User.id)
                    .join(StripeCustomer, StripeCustomer.user_id == User.id)
                    .where(User.forgotten_at.is_not(None), ~done.exists())
                    .order_by(User.id)
                    .limit(limit)
                )
            )
        forgotten = 0
        for user_id in pending:
            if not self._forget_at_processor(user_id):
                break
            forgotten += 1
        return forgotten

    def _forget_at_processor(self, user_id: int) -> bool:
        """Anonymize the user's processor customer once (an audit row records it); False: not now."""
        with self._uow.tx() as session:
            customer_id = session.scalar(
                select(StripeCustomer.stripe_customer_id).where(StripeCustomer.user_id == user_id)
            )
            if customer_id is None or _forgotten_at_processor(session, user_id):
                return True
        if not self._gateway.forget_customer(customer_id):
            log.warning("user %s forgotten here but not yet at the processor: the worker retries", user_id)
            return False
        with self._uow.tx() as session:
            # Under the user's row lock: two workers finishing the same user write one audit row.
            session.execute(select(User.id).where(User.id == user_id).with_for_update())
            if not _forgotten_at_processor(session, user_id):
                append_audit(session, event=PROCESSOR_FORGOTTEN, user_id=user_id)
        return True


def _forgotten_at_processor(session: Session, user_id: int) -> bool:
    """True when the user's processor customer has already been anonymized (its audit row exists)."""
    return (
        session.scalar(
            select(AuditLogEntry.id)
            .where(AuditLogEntry.user_id == user_id, AuditLogEntry.event == PROCESSOR_FORGOTTEN)
            .limit(1)
        )
        is not None
    )
