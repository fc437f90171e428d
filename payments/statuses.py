"""Statuses as StrEnums and the payment state machine's allowed transitions (DESIGN.md)."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    """Where a payment is in its life."""

    DRAFT = "draft"
    APPROVED = "approved"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    # Consented, at or above the second-approval threshold: waits for a staff member's approval.
    AWAITING_APPROVAL = "awaiting_approval"


class BillStatus(StrEnum):
    """Whether a bill is still owed."""

    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


class ScheduleStatus(StrEnum):
    """Where a scheduled payment is."""

    SCHEDULED = "scheduled"
    EXECUTED = "executed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class NotificationKind(StrEnum):
    """What the outbox tells a user outside their own chat turn: a payment's outcome, a code, a bill."""

    SUCCEEDED = "payment_succeeded"
    FAILED = "payment_failed"
    CANCELLED_BY_STAFF = "payment_cancelled_by_staff"
    # A charge found after the payment was recorded as failed: the record was corrected (issue 10).
    SUCCEEDED_LATE = "payment_succeeded_late"
    # A payment that waited past its deadline (approval, consent, 3-D Secure) and was cancelled.
    EXPIRED = "payment_expired"
    # A one-time code for a payment that needs the user's step-up (issue 13, item 2).
    STEP_UP_CODE = "step_up_code"
    # A bill due soon, with a "Pay now" button (issue 13, item 4).
    BILL_REMINDER = "bill_reminder"
    # A new bill a standing mandate could not pay (over its cap or budget, paused): the user decides
    # (issue 13, item 8).
    BILL_NEEDS_YOU = "bill_needs_you"
    # An automatic payment held in its cancel window: when it runs and how to cancel it (item 8).
    AUTOPAY_HELD = "autopay_held"
    # An automatic payment not charged yet, cancelled because its mandate stopped authorising it
    # (paused, revoked, cap lowered below it, expired, the user forgotten).
    AUTOPAY_CANCELLED = "autopay_cancelled"
    # An autopay offer whose one-time code expired untyped: the worker withdrew it, nothing was set
    # up or changed (issue 13). The row names the challenge, as the code's own message does.
    MANDATE_CODE_EXPIRED = "mandate_code_expired"


class OfferClosedReason(StrEnum):
    """Why a summary shown in chat can no longer be confirmed (payments.confirming)."""

    SUPERSEDED = "superseded"  # a newer summary was shown in the same conversation
    USED = "used"  # its Confirm was accepted once
    CANCELLED = "cancelled"  # its Cancel was accepted


class RefundStatus(StrEnum):
    """Where a staff refund of a succeeded payment is (refunds.status)."""

    # Recorded and sent (or about to be); its amount is held against what may still be refunded.
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


P = PaymentStatus

# Moves only forward. draft → awaiting_approval is a large payment waiting for a second approver
# (then approved, or rejected → cancelled); approved → cancelled is a scheduled payment cancelled
# before its day, or an approval that was never charged within its validity; requires_action
# settles after 3-D Secure, or is cancelled at its deadline; unknown settles by reconciliation.
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    P.DRAFT: frozenset({P.APPROVED, P.AWAITING_APPROVAL, P.CANCELLED}),
    P.AWAITING_APPROVAL: frozenset({P.APPROVED, P.CANCELLED}),
    P.APPROVED: frozenset({P.PROCESSING, P.CANCELLED}),
    P.PROCESSING: frozenset({P.SUCCEEDED, P.FAILED, P.REQUIRES_ACTION, P.UNKNOWN}),
    P.REQUIRES_ACTION: frozenset({P.SUCCEEDED, P.FAILED, P.CANCELLED}),
    P.UNKNOWN: frozenset({P.SUCCEEDED, P.FAILED, P.REQUIRES_ACTION}),
    P.SUCCEEDED: frozenset(),
    P.FAILED: frozenset(),
    P.CANCELLED: frozenset(),
}

TERMINAL: frozenset[PaymentStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

# Not moves of the state machine but audited corrections of a record the processor contradicts:
# a payment failed because no charge was found, whose charge then turned up (payments.machine).
CORRECTIONS: frozenset[tuple[PaymentStatus, PaymentStatus]] = frozenset({(P.FAILED, P.SUCCEEDED)})

# Statuses whose amount counts against the bill's outstanding amount and the daily limit. A payment
# awaiting its second approval is consented to: it holds its share until approved or rejected.
RESERVING: frozenset[PaymentStatus] = frozenset(
    {P.AWAITING_APPROVAL, P.APPROVED, P.PROCESSING, P.SUCCEEDED, P.REQUIRES_ACTION, P.UNKNOWN}
)


def can_transition(current: PaymentStatus, new: PaymentStatus) -> bool:
    """True when the state machine allows moving from `current` to `new`."""
    return new in TRANSITIONS[current]


# --- issue 13 items 2 and 5: step-up codes and risk decisions (payments/step_up.py, payments/risk.py) ---


class StepUpStatus(StrEnum):
    """Where a payment's one-time code is (step_up_challenges.status)."""

    PENDING = "pending"  # sent (or about to be), waiting for the user to type it
    VERIFIED = "verified"  # typed correctly in time: the payment may go on
    FAILED = "failed"  # wrong too many times: the payment was cancelled
    EXPIRED = "expired"  # not typed in time: the payment was cancelled
    CANCELLED = "cancelled"  # the user (or a newer summary) cancelled the payment meanwhile


class RiskVerdict(StrEnum):
    """What the risk check decided for a payment (risk_decisions.decision)."""

    ALLOW = "allow"
    STEP_UP = "step_up"
    REFUSE = "refuse"


class RiskReason(StrEnum):
    """Why the risk check scored a payment (risk_decisions.reasons; worded at the edges)."""

    AMOUNT_ABOVE_USUAL = "amount_above_usual"  # far above what the user usually pays this biller
    RAPID_ATTEMPTS = "rapid_attempts"  # many payment attempts in a short time
    NEW_CARD = "new_card"  # the card was added minutes ago
    NEW_PAYEE_LARGE = "new_payee_large"  # a biller never paid before, and a large amount


class StepUpReason(StrEnum):
    """Why a payment needs the user's one-time code: its size, or a risk reason (same values)."""

    LARGE_AMOUNT = "large_amount"  # at or over PAYCHAT_STEP_UP_MINOR
    AMOUNT_ABOVE_USUAL = RiskReason.AMOUNT_ABOVE_USUAL.value
    RAPID_ATTEMPTS = RiskReason.RAPID_ATTEMPTS.value
    NEW_CARD = RiskReason.NEW_CARD.value
    NEW_PAYEE_LARGE = RiskReason.NEW_PAYEE_LARGE.value
    # Not a reason to ask a code: why one that needs a code is refused (too many failed lately).
    TOO_MANY_FAILED_CODES = "too_many_failed_codes"


# --- issue 13 item 8: standing mandates (payments/mandates.py re-exports these) ---


class MandateStatus(StrEnum):
    """Where a standing mandate is (mandates.status)."""

    PROPOSED = "proposed"  # offered in chat, not confirmed yet
    ACTIVE = "active"
    PAUSED = "paused"
    REVOKED = "revoked"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # an offer the user cancelled or never confirmed


LIVE = (MandateStatus.ACTIVE.value, MandateStatus.PAUSED.value)
