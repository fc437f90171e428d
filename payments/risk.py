"""The risk check: a score from the user's own history, with named reasons, and a verdict.

Run when the user confirms a payment (payments/step_up.py calls it before approval, under the
user's row lock). Each reason adds its weight (`WEIGHTS`); the sum against the configured
thresholds decides `allow`, `step_up` (the user's one-time code) or `refuse` (the draft is
cancelled). Every decision is stored in `risk_decisions` and chained into the audit log in the
caller's transaction, so staff can see why a payment was stopped or asked for a code.

Reasons (payments.statuses.RiskReason):
- `amount_above_usual`: at least `amount_ratio_percent` % of the median of the user's succeeded payments to
  that biller (once there are `min_history` of them), in the same currency;
- `rapid_attempts`: `attempts_max` confirmations (this one included) within `attempts_window`;
- `new_card`: the card paying was saved less than `new_card_age` ago;
- `new_payee_large`: a biller the user never paid successfully, and at least `new_payee_large_minor`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Bill, Payment, RiskDecision, SavedPaymentMethod
from payments.audit import append_audit
from payments.config import RiskConfig
from payments.statuses import PaymentStatus, RiskReason, RiskVerdict

# What each reason adds to the score. A new card alone (30) stays under the default step-up score
# (40): every new customer has one. Many attempts (60) plus any other reason reaches refusal (100):
# the pattern of a stolen card being tried.
WEIGHTS: dict[RiskReason, int] = {
    RiskReason.AMOUNT_ABOVE_USUAL: 40,
    RiskReason.RAPID_ATTEMPTS: 60,
    RiskReason.NEW_CARD: 30,
    RiskReason.NEW_PAYEE_LARGE: 40,
}
# How many of the user's latest succeeded payments to a biller make "their usual".
USUAL_SAMPLE = 20


@dataclass(frozen=True)
class RiskAssessment:
    """A risk check's result: score (sum of the reasons' weights), reasons in `WEIGHTS` order, verdict."""

    score: int
    reasons: tuple[RiskReason, ...]
    decision: RiskVerdict


@dataclass(frozen=True)
class RiskDecisionView:
    """One stored risk decision, for staff (times in UTC)."""

    id: int
    payment_id: int
    user_id: int
    score: int
    reasons: tuple[str, ...]
    decision: RiskVerdict
    created_at: datetime


def assess(session: Session, payment: Payment, config: RiskConfig, now: datetime) -> RiskAssessment:
    """Score `payment` (a draft being confirmed) from its user's history; stores nothing."""
    found = [
        reason
        for reason, hit in (
            (RiskReason.AMOUNT_ABOVE_USUAL, _above_usual(session, payment, config)),
            (RiskReason.RAPID_ATTEMPTS, _rapid_attempts(session, payment, config, now)),
            (RiskReason.NEW_CARD, _new_card(session, payment, config, now)),
            (RiskReason.NEW_PAYEE_LARGE, _new_payee_large(session, payment, config)),
        )
        if hit
    ]
    score = sum(WEIGHTS[reason] for reason in found)
    if score >= config.refuse_score:
        decision = RiskVerdict.REFUSE
    elif score >= config.step_up_score:
        decision = RiskVerdict.STEP_UP
    else:
        decision = RiskVerdict.ALLOW
    return RiskAssessment(score=score, reasons=tuple(found), decision=decision)


def check_payment(
    session: Session, payment: Payment, config: RiskConfig, now: datetime, *, stage: str = "confirm"
) -> RiskAssessment:
    """Assess `payment` and record the decision (row + audit) in the caller's transaction.

    With the check off (`config.enabled` False) every payment is allowed and nothing is recorded.
    """
    if not config.enabled:
        return RiskAssessment(score=0, reasons=(), decision=RiskVerdict.ALLOW)
    assessment = assess(session, payment, config, now)
    reasons = [reason.value for reason in assessment.reasons]
    session.add(
        RiskDecision(
            payment_id=payment.id,
            user_id=payment.user_id,
            score=assessment.score,
            reasons=reasons,
            decision=assessment.decision.value,
            created_at=now,
        )
    )
    append_audit(
        session,
        event="risk.decided",
        payment_id=payment.id,
        user_id=payment.user_id,
        data={"score": assessment.score, "reasons": reasons, "decision": assessment.decision.value,
              "stage": stage},
    )  # fmt: skip
    return assessment


def decisions_of(session: Session, payment_id: int) -> list[RiskDecisionView]:
    """Every risk decision about one payment, oldest first."""
    rows = session.execute(
        select(RiskDecision).where(RiskDecision.payment_id == payment_id).order_by(RiskDecision.id)
    ).scalars()
    return [_view(row) for row in rows]


def flagged_decisions(session: Session, *, limit: int = 100) -> list[RiskDecisionView]:
    """The latest decisions that asked for a code or refused (newest first), for the staff list."""
    rows = session.execute(
        select(RiskDecision)
        .where(RiskDecision.decision != RiskVerdict.ALLOW.value)
        .order_by(RiskDecision.id.desc())
        .limit(max(1, min(limit, 500)))
    ).scalars()
    return [_view(row) for row in rows]


def _view(row: RiskDecision) -> RiskDecisionView:
    return RiskDecisionView(
        id=row.id,
        payment_id=row.payment_id,
        user_id=row.user_id,
        score=row.score,
        reasons=tuple(row.reasons or ()),
        decision=RiskVerdict(row.decision),
        created_at=_aware(row.created_at),
    )


def _above_usual(session: Session, payment: Payment, config: RiskConfig) -> bool:
    """At least `amount_ratio_percent` % of the median of the user's latest succeeded payments to this
    biller (the lower median: integers only, money never meets a float)."""
    biller_id = select(Bill.biller_id).where(Bill.id == payment.bill_id).scalar_subquery()
    amounts = list(
        session.execute(
            select(Payment.amount_minor)
            .join(Bill, Payment.bill_id == Bill.id)
            .where(
                Payment.user_id == payment.user_id,
                Payment.id != payment.id,
                Payment.currency == payment.currency,
                Payment.status == PaymentStatus.SUCCEEDED.value,
                Bill.biller_id == biller_id,
            )
            .order_by(Payment.id.desc())
            .limit(USUAL_SAMPLE)
        ).scalars()
    )
    if len(amounts) < config.min_history:
        return False
    return payment.amount_minor * 100 >= config.amount_ratio_percent * statistics.median_low(amounts)


def _rapid_attempts(session: Session, payment: Payment, config: RiskConfig, now: datetime) -> bool:
    """This confirmation and the user's earlier ones within the window reach `attempts_max`.

    Every confirmation that reached the risk check left a decision, whatever became of it.
    """
    earlier = session.execute(
        select(func.count(RiskDecision.id)).where(
            RiskDecision.user_id == payment.user_id,
            RiskDecision.created_at >= now - config.attempts_window,
        )
    ).scalar_one()
    return int(earlier) + 1 >= config.attempts_max


def _new_card(session: Session, payment: Payment, config: RiskConfig, now: datetime) -> bool:
    """The card paying was saved less than `new_card_age` ago."""
    if config.new_card_age.total_seconds() <= 0:
        return False
    added = session.execute(
        select(SavedPaymentMethod.created_at).where(SavedPaymentMethod.id == payment.payment_method_id)
    ).scalar_one_or_none()
    return added is not None and now - _aware(added) < config.new_card_age


def _new_payee_large(session: Session, payment: Payment, config: RiskConfig) -> bool:
    """A biller the user never paid successfully, and at least `new_payee_large_minor`."""
    if payment.amount_minor < config.new_payee_large_minor:
        return False
    biller_id = select(Bill.biller_id).where(Bill.id == payment.bill_id).scalar_subquery()
    paid = session.execute(
        select(Payment.id)
        .join(Bill, Payment.bill_id == Bill.id)
        .where(
            Payment.user_id == payment.user_id,
            Payment.status == PaymentStatus.SUCCEEDED.value,
            Bill.biller_id == biller_id,
        )
        .limit(1)
    ).first()
    return paid is None


def _aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
