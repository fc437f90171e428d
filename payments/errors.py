"""Domain errors: one base with a stable `code`; the wording users see is chosen by code at the edge."""

from __future__ import annotations

from typing import Any, ClassVar


class PaymentsError(Exception):
    """Base of every domain error; `code` is stable, `params` fill the user-facing template."""

    code: ClassVar[str] = "payments_error"

    def __init__(self, message: str = "", **params: Any) -> None:
        super().__init__(message or self.code)
        self.params: dict[str, Any] = params


class UnknownUserError(PaymentsError):
    """The sender id names no user."""

    code = "user_unknown"


class BillerUnknownError(PaymentsError):
    """No biller matches what the user wrote."""

    code = "biller_unknown"


class BillerAmbiguousError(PaymentsError):
    """Several billers match; the user must pick one of `candidates`."""

    code = "biller_ambiguous"

    def __init__(self, message: str = "", *, candidates: list[str], **params: Any) -> None:
        super().__init__(message, candidates=candidates, **params)
        self.candidates = candidates


class BillNotFoundError(PaymentsError):
    """The biller is known but the user has no open bill from it (or the bill is not theirs)."""

    code = "bill_not_found"


# --- issue 13 item 4 (reminders) ---
class BillSettledError(PaymentsError):
    """A bill message's "Pay now" (a reminder, a bill a mandate could not pay) for a bill that is no
    longer to pay: paid, void, or already being paid (a payment holds it, a scheduled one waits).
    `params`: biller (name)."""

    code = "bill_settled"


class PayNowBillUnknownError(PaymentsError):
    """A bill message's "Pay now" naming a bill that is not among the user's: missing, or another
    user's (they look the same; nothing about it is told). `params`: bill_id."""

    code = "pay_now_bill_unknown"


# --- end reminders ---


class AmountInvalidError(PaymentsError):
    """The amount could not be read as money."""

    code = "amount_invalid"


class AmountAmbiguousError(PaymentsError):
    """The amount could mean more than one value; we ask instead of guessing."""

    code = "amount_ambiguous"


class AmountNotPositiveError(PaymentsError):
    """The amount is zero or negative."""

    code = "amount_not_positive"


class AmountCurrencyMismatchError(AmountInvalidError):
    """The amount names a currency other than the bill's."""

    code = "amount_currency_mismatch"


class AmountTooPreciseError(AmountInvalidError):
    """The amount has more decimals than the currency's minor unit ("2.499" euros)."""

    code = "amount_too_precise"


class AmountNotationError(AmountInvalidError):
    """The amount is written in exponent notation ("1e3"): never read as a number of money."""

    code = "amount_notation"


class AmountUnreadError(AmountInvalidError):
    """The message names money (`text`: a sign, a currency, "cents") that no amount span holds.

    The draft would otherwise pay the whole bill, which is not what was written."""

    code = "amount_unread"


class AmountBelowMinimumError(PaymentsError):
    """The amount is below the smallest charge the gateway accepts in its currency (`minimum`)."""

    code = "amount_below_minimum"


class AmountAboveOutstandingError(PaymentsError):
    """The amount exceeds what is still owed on the bill."""

    code = "amount_above_outstanding"


# The limit refusals (limit_per_payment, limit_daily, limit_monthly) carry Money and a moment, so
# they live in payments.limits, above money and dates (which import this module).


class DateInvalidError(PaymentsError):
    """The date could not be read."""

    code = "date_invalid"


class DateInPastError(PaymentsError):
    """The date lies in the past."""

    code = "date_in_past"


class DateTooFarError(PaymentsError):
    """The date lies beyond the scheduling horizon."""

    code = "date_too_far"


class NoCardError(PaymentsError):
    """The user has no saved card."""

    code = "no_card"


class PaymentNotFoundError(PaymentsError):
    """No such payment for this user."""

    code = "payment_not_found"


class PaymentNotPendingError(PaymentsError):
    """The payment can no longer be changed (already confirmed, charged or cancelled)."""

    code = "payment_not_pending"


class ScheduleNotFoundError(PaymentsError):
    """No such scheduled payment for this user."""

    code = "schedule_not_found"


class ConsentMissingError(PaymentsError):
    """A charge was requested without the user's confirmation."""

    code = "consent_missing"


class ConfirmationStaleError(PaymentsError):
    """The summary confirmed (or cancelled) is not the conversation's live one: nothing was done.

    `payment_over` is True when the refusal is because its payment no longer waits (not a draft).
    """

    code = "confirmation_stale"


class ConfirmationAmountError(PaymentsError):
    """A typed confirmation names an amount (`text`), which the summary's may not be: nothing was
    charged; the user confirms the summary as shown or states the new amount."""

    code = "confirmation_amount"


class ConfirmationUsedError(PaymentsError):
    """The summary's one-time confirmation was already used: nothing more was done.

    `payment_status` (when known) is the payment's status now, so the edge words what was charged;
    `payment_over` is True when that payment no longer waits for a confirmation (not a draft).
    """

    code = "confirmation_used"


class ConfirmationInvalidError(PaymentsError):
    """The confirmation names no summary this user was shown in this conversation."""

    code = "confirmation_invalid"


class ConsentMismatchError(PaymentsError):
    """The summary text handed back is not the text issued for that draft: nothing was charged."""

    code = "consent_mismatch"


class InvariantViolationError(PaymentsError):
    """An invariant the code relies on does not hold; nothing was charged."""

    code = "invariant_violation"


class WebhookInvalidError(PaymentsError):
    """A webhook whose signature or body does not verify."""

    code = "webhook_invalid"


class StaffOnlyError(PaymentsError):
    """Raised only by staff use cases (the console), never in a chat turn: no chat response needed."""

    code = "staff_only_error"


class RefundNotAllowedError(StaffOnlyError):
    """Only a succeeded payment with a processor charge can be refunded."""

    code = "refund_not_allowed"


class RefundAmountError(StaffOnlyError):
    """The refund amount is not positive or exceeds what is left to refund (`refundable`)."""

    code = "refund_amount_invalid"


class RefundKeyReusedError(StaffOnlyError):
    """The idempotency key already belongs to a different refund (another payment or amount)."""

    code = "refund_key_reused"


class TestUserRequiredError(StaffOnlyError):
    """Only a test user (users.is_test) may be reset or created from the console."""

    code = "test_user_required"
    __test__ = False  # not a pytest test class


class TestUserBusyError(StaffOnlyError):
    """The test user has a charge in flight; reset it once the charge has settled."""

    code = "test_user_busy"
    __test__ = False  # not a pytest test class


class PaymentNotHeldError(StaffOnlyError):
    """Staff can cancel only a payment still waiting for its day or its cancel window."""

    code = "payment_not_held"


# --- issue 13 items 2 and 5: step-up codes and risk refusals (payments/step_up.py, payments/risk.py) ---


class RiskRefusedError(PaymentsError):
    """The risk check refused the payment; it was cancelled, nothing charged. `reasons`: RiskReason values."""

    code = "risk_refused"


class StepUpLockedError(RiskRefusedError):
    """A payment that needs a one-time code, refused because the user failed too many codes lately
    (someone may be guessing them); cancelled, nothing charged. `until`: LocalMoment they may try again."""

    code = "step_up_locked"


class StepUpCodeWrongError(PaymentsError):
    """The one-time code typed is not the one sent; `attempts_left` more tries before it is cancelled."""

    code = "step_up_code_wrong"


class StepUpFailedError(PaymentsError):
    """The one-time code was typed wrong too many times: the payment was cancelled, nothing charged."""

    code = "step_up_failed"


class StepUpExpiredError(PaymentsError):
    """The one-time code expired before it was typed: the payment was cancelled, nothing charged."""

    code = "step_up_expired"


class StepUpNotPendingError(PaymentsError):
    """No one-time code is waiting for this user (or for this payment)."""

    code = "step_up_not_pending"
