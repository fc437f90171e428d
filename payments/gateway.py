"""The payment gateway port: what the domain needs from a card processor, nothing more.

`payments.stripe_gateway.StripeGateway` implements it on the official SDK; tests may implement it
with fakes. A gateway never raises for a declined card: it returns a `ChargeOutcome` whose status
says what happened, and `unknown` when it cannot tell (timeout, connection error, 5xx). A failure
carries a `FailureCode` (the edge words it) and, as data only, the processor's own message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from payments.money import Money


class ChargeStatus(StrEnum):
    """What the processor said about a charge."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    UNKNOWN = "unknown"
    NOT_FOUND = "not_found"


class FailureCode(StrEnum):
    """Why a charge failed, from a closed set: the edges word each one (domain.yml, bot/texts.py)."""

    CARD_DECLINED = "card_declined"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    INCORRECT_NUMBER = "incorrect_number"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PROCESSING_ERROR = "processing_error"
    AUTHENTICATION_FAILED = "payment_intent_authentication_failure"
    # The processor refused the request itself (bad parameters, keys, permissions).
    GATEWAY_REJECTED = "gateway_rejected"
    # Reconciliation found no charge under the payment's idempotency key: nothing was charged.
    CHARGE_NOT_CREATED = "charge_not_created"

    @classmethod
    def of(cls, code: str | None, *, default: FailureCode) -> FailureCode:
        """The member named `code` (a processor's code), or `default` for one we do not know."""
        try:
            return cls(code or "")
        except ValueError:
            return default


@dataclass(frozen=True)
class ChargeOutcome:
    """The result of a charge attempt or a lookup of one."""

    status: ChargeStatus
    payment_intent_id: str | None = None
    failure_code: FailureCode | None = None
    # The processor's own explanation, kept as data (never composed here); may be None.
    failure_message: str | None = None
    next_action_url: str | None = None


@dataclass(frozen=True)
class ChargeRequest:
    """One charge of a saved card; `idempotency_key` makes a repeat of it harmless."""

    amount: Money
    customer_id: str
    payment_method_id: str
    idempotency_key: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class CardDetails:
    """What may be stored about a saved card (never its number)."""

    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class WebhookEvent:
    """A verified processor event: its id (for deduplication), type and the charge it concerns."""

    event_id: str
    event_type: str
    payment_intent_id: str | None
    # The idempotency key our charge put in the PaymentIntent's metadata: finds the payment of a
    # charge whose answer never reached us (no intent id recorded).
    idempotency_key: str | None = None


class RefundOutcomeStatus(StrEnum):
    """What the processor said about a refund."""

    SUCCEEDED = "succeeded"
    # Accepted but not final yet (some payment methods), or no answer: the amount stays held.
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True)
class RefundRequest:
    """Refund `amount` of a PaymentIntent's charge once; `idempotency_key` makes a repeat harmless."""

    payment_intent_id: str
    amount: Money
    idempotency_key: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class RefundOutcome:
    """The result of a refund attempt; the processor's message is data only."""

    status: RefundOutcomeStatus
    refund_id: str | None = None
    failure_message: str | None = None


class PaymentGateway(Protocol):
    """A card processor holding customers and saved cards and charging them."""

    def create_customer(self, *, name: str, user_id: int, idempotency_key: str) -> str:
        """Create a customer; return its processor id."""
        ...

    def customer_exists(self, customer_id: str) -> bool:
        """True when the processor still knows this customer."""
        ...

    def forget_customer(self, customer_id: str) -> bool:
        """Remove what the processor holds about a forgotten user: the customer's name and our user id.

        True when done, or when the processor no longer knows the customer (nothing left there);
        False when it could not be asked or refused (the caller retries later). Never raises.
        """
        ...

    def add_test_card(self, *, customer_id: str, card_number: str, idempotency_key: str) -> CardDetails:
        """Attach a test card (raw number in the sandbox, a test token on real Stripe), keyed for retries."""
        ...

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        """Charge a saved card once; the request's idempotency key makes a repeat harmless."""
        ...

    def find_charge(self, *, idempotency_key: str, customer_id: str) -> ChargeOutcome:
        """Look a charge up by the idempotency key stored in its metadata (reconciliation)."""
        ...

    def retrieve_charge(self, payment_intent_id: str) -> ChargeOutcome:
        """The current state of a known charge."""
        ...

    def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund (part of) a charge once: a refund already made under the request's key is returned."""
        ...

    def charge_object(self, payment_intent_id: str) -> dict[str, Any] | None:
        """The processor's own record of a charge (for staff to inspect), or None when unreachable."""
        ...

    def cancel_charge(self, payment_intent_id: str) -> ChargeOutcome:
        """Cancel a charge that has not completed (one waiting for 3-D Secure); its state afterwards.

        FAILED when it is cancelled (or had failed), SUCCEEDED when it completed first, UNKNOWN when
        the processor could not be asked.
        """
        ...

    def parse_webhook(self, payload: bytes, signature: str, secret: str) -> WebhookEvent:
        """Verify a processor webhook's signature (WebhookInvalidError otherwise) and read it."""
        ...

    def sandbox_controls(self) -> SandboxControls | None:
        """The sandbox's test-only controls, or None when this gateway talks to a real processor."""
        ...


class SandboxControls(Protocol):
    """What only a sandbox can do: play the customer's bank in a 3-D Secure challenge."""

    def authenticate_in_sandbox(self, payment_intent_id: str, *, success: bool) -> ChargeOutcome:
        """Pass (or fail) the 3-D Secure challenge of a PaymentIntent."""
        ...
