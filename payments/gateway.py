"""The payment gateway port: what the domain needs from a card processor, nothing more.

`payments.stripe_gateway.StripeGateway` implements it on the official SDK; tests may implement it
with fakes. A gateway never raises for a declined card: it returns a `ChargeOutcome` whose status
says what happened, and `unknown` when it cannot tell (timeout, connection error, 5xx).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from payments.money import Money


class ChargeStatus(StrEnum):
    """What the processor said about a charge."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    UNKNOWN = "unknown"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ChargeOutcome:
    """The result of a charge attempt or a lookup of one."""

    status: ChargeStatus
    payment_intent_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    next_action_url: str | None = None


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


class PaymentGateway(Protocol):
    """A card processor holding customers and saved cards and charging them."""

    def create_customer(self, *, name: str, user_id: int, idempotency_key: str) -> str:
        """Create a customer; return its processor id."""
        ...

    def customer_exists(self, customer_id: str) -> bool:
        """True when the processor still knows this customer."""
        ...

    def add_test_card(self, *, customer_id: str, card_number: str, idempotency_key: str) -> CardDetails:
        """Attach a test card (raw number in the sandbox, a test token on real Stripe), keyed for retries."""
        ...

    def charge(
        self,
        *,
        amount: Money,
        customer_id: str,
        payment_method_id: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeOutcome:
        """Charge a saved card once; the idempotency key makes a repeat harmless."""
        ...

    def find_charge(self, *, idempotency_key: str, customer_id: str) -> ChargeOutcome:
        """Look a charge up by the idempotency key stored in its metadata (reconciliation)."""
        ...

    def retrieve_charge(self, payment_intent_id: str) -> ChargeOutcome:
        """The current state of a known charge."""
        ...
