"""Bills arriving, and the worker paying them under the user's standing mandate (payments.mandates).

`issue_bill` makes a bill arrive (a biller's feed, `paychat bills add`, tests). Each worker round
(`run_mandates`) first expires mandates past their last day (the user's day), then looks at every
open bill that arrived after a live mandate of its user and biller went active and that no round
decided on yet. Per bill, in one transaction under the user's row lock (the lock the limits use,
so concurrent rounds and the user's own confirmations see each other's spending): within the
cap, the month's budget (calendar month in the user's zone, counting the mandate's consented, in
flight and paid payments) and the user's limits → a payment approved with a consent that references
the mandate's signed consent, charged through the normal charging path after the commit; the user
is told through the outbox like any payment outcome. Otherwise (over the cap or budget, paused,
over a limit, no card) → one BILL_NEEDS_YOU notification and the user decides. The decision row is
unique per bill, so a bill is paid or asked about once, however many workers run.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import (
    Bill,
    Biller,
    Mandate,
    MandateBillDecision,
    MandateConsent,
    Payment,
    SavedPaymentMethod,
    User,
)
from payments.audit import append_audit
from payments.charging import Charging
from payments.config import ServiceConfig
from payments.consent import TapEvidence, record_consent
from payments.dates import today_in
from payments.errors import BillerUnknownError, PaymentsError
from payments.ledger import Ledger, outstanding
from payments.machine import StateMachine
from payments.mandate_guard import withdraw_unauthorised
from payments.mandates import LIVE, MandateStatus, spent_in_month
from payments.money import Money
from payments.outbox import queue_bill_notification, queue_notification
from payments.statuses import NotificationKind, PaymentStatus
from payments.unit_of_work import UnitOfWork, load_user, lock_user
from payments.views import BillView, bill_view

P = PaymentStatus
log = logging.getLogger("paychat.autopay")
ROUND_BATCH = 200


class AskReason:
    """Why a bill under a mandate was not paid by itself (decision reasons; limits add their codes)."""

    PAUSED = "paused"
    OVER_CAP = "over_cap"
    OVER_BUDGET = "over_budget"
    CURRENCY = "currency"
    NO_CARD = "no_card"


@dataclass(frozen=True)
class AutopayReport:
    """One round: mandates expired, bills paid (their payment ids), bills asked about (bill ids)."""

    expired: int = 0
    paid: tuple[int, ...] = ()
    asked: tuple[int, ...] = ()
    charged: dict[int, str] = field(default_factory=dict)  # payment id → status after the charge

    def __bool__(self) -> bool:
        return bool(self.expired or self.paid or self.asked)


def issue_bill(
    session: Session, *, user_id: int, biller_name: str, reference: str, amount_minor: int, due_date: date,
    now: datetime,
) -> BillView:  # fmt: skip
    """A new open bill of `biller_name` (exact name) for the user, in the biller's currency, audited
    (`bill.issued`). PaymentNotFoundError for no such user, BillerUnknownError for an unknown biller,
    IntegrityError when the user already has a bill of that biller with this reference."""
    user = load_user(session, user_id)
    biller = session.execute(select(Biller).where(Biller.name == biller_name)).scalar_one_or_none()
    if biller is None:
        raise BillerUnknownError(text=biller_name)
    bill = Bill(
        user_id=user_id, biller_id=biller.id, reference=reference, amount_due_minor=amount_minor,
        currency=biller.currency, due_date=due_date, status="open", created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(bill)
    session.flush()
    append_audit(
        session, event="bill.issued", user_id=user_id,
        data={"bill_id": bill.id, "amount_minor": amount_minor, "currency": biller.currency},
    )  # fmt: skip
    return bill_view(bill, biller, Money(amount_minor, biller.currency), user.locale)


class Autopay:
    """Bills arriving, and paying them under standing mandates."""

    def __init__(
        self,
        uow: UnitOfWork,
        ledger: Ledger,
        machine: StateMachine,
        charging: Charging,
        config: ServiceConfig,
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._machine = machine
        self._charging = charging
        self._config = config

    def issue_bill(
        self, *, user_id: int, biller_name: str, reference: str, amount_minor: int, due_date: date
    ) -> BillView:
        """A new open bill (see `issue_bill`) in its own transaction."""
        with self._uow.tx() as session:
            return issue_bill(
                session, user_id=user_id, biller_name=biller_name, reference=reference,
                amount_minor=amount_minor, due_date=due_date, now=self._uow.now(),
            )  # fmt: skip

    # --- the worker's step -----------------------------------------------------------------------

    def run_mandates(self) -> AutopayReport:
        """Expire mandates past their day, then pay or ask about each new bill under a live mandate."""
        expired = self.expire_mandates()
        paid: list[int] = []
        asked: list[int] = []
        to_charge: list[int] = []
        for user_id, bill_id in self._candidates():
            try:
                outcome = self._decide(user_id, bill_id)
            except IntegrityError:  # another worker decided this bill first
                continue
            if outcome is None:
                continue
            decision, payment_id, charge_now = outcome
            (paid if decision == "paid" else asked).append(payment_id if payment_id else bill_id)
            if charge_now and payment_id is not None:
                to_charge.append(payment_id)
        charged = {pid: str(self._charging.charge(pid).status) for pid in to_charge}
        return AutopayReport(expired=expired, paid=tuple(paid), asked=tuple(asked), charged=charged)

    def expire_mandates(self) -> int:
        """Live mandates whose last day is behind the user's today become expired (audited)."""
        count = 0
        with self._uow.tx() as session:
            now = self._uow.now()
            rows = session.execute(
                select(Mandate, User.timezone)
                .join(User, Mandate.user_id == User.id)
                .where(Mandate.status.in_(LIVE), Mandate.expires_on <= now.date())  # a zone is ≤ a day ahead
            ).all()
            for mandate, timezone in rows:
                if mandate.expires_on >= today_in(timezone, now):
                    continue
                result = session.execute(
                    update(Mandate)
                    .where(Mandate.id == mandate.id, Mandate.status.in_(LIVE))
                    .values(status=MandateStatus.EXPIRED.value, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    count += 1
                    append_audit(
                        session, event="mandate.expired", user_id=mandate.user_id,
                        from_status=mandate.status, to_status=MandateStatus.EXPIRED.value,
                        data={"mandate_id": mandate.id, "actor": "worker"},
                    )  # fmt: skip
                    withdraw_unauthorised(session, self._machine, mandate.id, now)
        return count

    def _candidates(self) -> list[tuple[int, int]]:
        """(user id, bill id) of open bills that arrived under a live mandate and are undecided."""
        with self._uow.tx() as session:
            rows = session.execute(
                select(Bill.user_id, Bill.id)
                .join(
                    Mandate,
                    and_(
                        Mandate.user_id == Bill.user_id,
                        Mandate.biller_id == Bill.biller_id,
                        Mandate.status.in_(LIVE),
                        Bill.created_at >= Mandate.active_since,
                    ),
                )
                .outerjoin(MandateBillDecision, MandateBillDecision.bill_id == Bill.id)
                .where(Bill.status == "open", MandateBillDecision.id.is_(None))
                .order_by(Bill.id)
                .limit(ROUND_BATCH)
            ).all()
            return [(int(user_id), int(bill_id)) for user_id, bill_id in rows]

    def _decide(self, user_id: int, bill_id: int) -> tuple[str, int | None, bool] | None:
        """Pay or ask about one bill, once: (decision, payment id, charge it now) or None when
        there is nothing (left) to decide. Under the user's row lock, user first then bill."""
        with self._uow.tx() as session:
            user = lock_user(session, user_id)
            bill = session.execute(
                select(Bill)
                .where(Bill.id == bill_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
            decided = session.execute(
                select(MandateBillDecision.id).where(MandateBillDecision.bill_id == bill_id)
            ).first()
            mandate = session.execute(
                select(Mandate)
                .where(
                    Mandate.user_id == user_id, Mandate.biller_id == bill.biller_id, Mandate.status.in_(LIVE)
                )
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if decided is not None or mandate is None or bill.status != "open":
                return None
            today = today_in(user.timezone, self._uow.now())
            if mandate.expires_on < today:
                return None  # expired: the next round's expire step ends it; the bill is the user's
            amount = outstanding(session, bill)
            reason = self._ask_reason(session, user, bill, mandate, amount, today)
            if reason is not None:
                self._ask(session, bill, mandate, reason)
                return "asked", None, False
            payment_id, charge_now = self._pay(session, user, bill, mandate, amount, today)
            return "paid", payment_id, charge_now

    def _ask_reason(
        self, session: Session, user: User, bill: Bill, mandate: Mandate, amount: Money, today: date
    ) -> str | None:
        """Why this bill may not be paid by itself under the mandate, or None when it may."""
        if mandate.status == MandateStatus.PAUSED.value:
            return AskReason.PAUSED
        if amount.currency != mandate.currency:
            return AskReason.CURRENCY
        if amount.amount_minor > mandate.cap_minor:
            return AskReason.OVER_CAP
        if spent_in_month(session, mandate, today) + amount.amount_minor > mandate.budget_minor:
            return AskReason.OVER_BUDGET
        card = session.get(SavedPaymentMethod, mandate.payment_method_id)
        if card is None or card.user_id != user.id:
            return AskReason.NO_CARD
        try:
            self._ledger.check_amount(session, user, amount=amount, owed=amount, pay_on=today)
        except PaymentsError as refused:  # the user's own limits (and the gateway's minimum) still hold
            return refused.code
        return None

    def _ask(self, session: Session, bill: Bill, mandate: Mandate, reason: str) -> None:
        """Record the decision to ask and queue the one BILL_NEEDS_YOU notification for the bill."""
        now = self._uow.now()
        session.add(
            MandateBillDecision(
                bill_id=bill.id, mandate_id=mandate.id, decision="asked", reason=reason, decided_at=now
            )
        )
        session.flush()  # the unique bill id: a racing second decision fails here, before any message
        queue_bill_notification(session, bill, NotificationKind.BILL_NEEDS_YOU, now)
        append_audit(
            session, event="mandate.bill_asked", user_id=bill.user_id,
            data={"mandate_id": mandate.id, "bill_id": bill.id, "reason": reason},
        )  # fmt: skip

    def _pay(
        self, session: Session, user: User, bill: Bill, mandate: Mandate, amount: Money, today: date
    ) -> tuple[int, bool]:
        """Approve a payment of the bill under the mandate's consent; (payment id, charge it now)."""
        now = self._uow.now()
        consent = session.get(MandateConsent, mandate.consent_id)
        assert consent is not None and consent.receipt_hash is not None  # live mandates are consented
        payment = self._record(session, user, bill, mandate, amount, today, consent.summary_text)
        session.add(
            MandateBillDecision(
                bill_id=bill.id, mandate_id=mandate.id, decision="paid", payment_id=payment.id, decided_at=now
            )
        )
        session.flush()
        before = self._ledger.paid_to_biller_around(session, payment, self._config.second_approval_period)
        needs_second = before.amount_minor + amount.amount_minor >= self._config.second_approval_minor
        target = P.AWAITING_APPROVAL if needs_second else P.APPROVED
        moved = self._machine.move(
            session, payment, P.DRAFT, target, confirmed_at=now, audit_data={"mandate_id": mandate.id}
        )
        assert moved  # a row this transaction just inserted
        reference = {"id": mandate.id, "consent_id": consent.id, "consent_sha256": consent.receipt_hash}
        record_consent(
            session, payment=payment, confirmation=f"mandate:{mandate.id}:consent:{consent.id}", now=now,
            key=self._config.consent_signing_key, tap=TapEvidence(), mandate=reference,
        )  # fmt: skip
        append_audit(
            session, event="mandate.bill_paid", payment_id=payment.id, user_id=user.id,
            data={"mandate_id": mandate.id, "bill_id": bill.id, "amount_minor": amount.amount_minor},
        )  # fmt: skip
        if needs_second:
            return payment.id, False
        not_before = self._charging.time_lock(session, payment, user, consented_at=now)
        scheduled = self._charging.schedule_if_dated(session, payment, user, now, not_before=not_before)
        if not_before is not None and now < not_before:  # held: its cancel window is the user's to use
            queue_notification(session, payment, NotificationKind.AUTOPAY_HELD, now)
        return payment.id, not scheduled

    def _record(
        self,
        session: Session,
        user: User,
        bill: Bill,
        mandate: Mandate,
        amount: Money,
        today: date,
        summary: str,
    ) -> Payment:
        """Insert the automatic payment as a draft with its idempotency key, naming its mandate."""
        nonce = secrets.token_hex(8)
        payment = Payment(
            user_id=user.id, bill_id=bill.id, payment_method_id=mandate.payment_method_id,
            amount_minor=amount.amount_minor, currency=amount.currency, status=P.DRAFT.value, pay_on=today,
            summary_text=summary, idempotency_key=f"pending-{nonce}", mandate_id=mandate.id,
        )  # fmt: skip
        session.add(payment)
        session.flush()
        payment.idempotency_key = f"paychat-payment-{payment.id}-{nonce}"
        append_audit(
            session, event="payment.drafted", payment_id=payment.id, user_id=user.id, to_status=P.DRAFT.value,
            data={"bill_id": bill.id, "amount_minor": amount.amount_minor, "currency": amount.currency,
                  "mandate_id": mandate.id},
        )  # fmt: skip
        return payment
