"""`PaymentGateway` on the official Stripe SDK — the only module that imports `stripe`.

Works unchanged against real Stripe (test mode) and the localstripe sandbox; where the sandbox
differs (it refuses most PaymentIntent parameters and lists only without filters) the code sticks
to the subset both accept. Network retries are off: a charge is never sent twice with a new key,
and an unanswered one is reported `unknown` for reconciliation.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import stripe

from observability.metrics import STRIPE_ERRORS
from payments.challenge import challenge_url
from payments.config import challenge_key
from payments.errors import WebhookInvalidError
from payments.gateway import (
    CardDetails,
    ChargeOutcome,
    ChargeRequest,
    ChargeStatus,
    FailureCode,
    RefundOutcome,
    RefundOutcomeStatus,
    RefundRequest,
    SandboxControls,
    WebhookEvent,
)
from settings import Settings

# Real Stripe refuses raw card numbers; these test tokens behave like the sandbox's numbers.
TEST_TOKENS = {
    "4242424242424242": "pm_card_visa",
    "4000000000000341": "pm_card_chargeCustomerFail",
    "4000002760003184": "pm_card_authenticationRequired",
}
IDEMPOTENCY_METADATA_KEY = "paychat_idempotency_key"
log = logging.getLogger(__name__)
EVENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,255}")
EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}")
OBJECT_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
WORD_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def error_code(error: stripe.StripeError) -> str:
    """Stripe's code for an error (card_declined, ...), else its kind (api_connection_error, ...)."""
    if error.code:
        return str(error.code)
    return WORD_BOUNDARY.sub("_", type(error).__name__).lower()  # APIConnectionError → api_connection_error


def noted(error: stripe.StripeError, operation: str) -> stripe.StripeError:
    """Count and log a Stripe error (code, HTTP status, request id; never the request's data)."""
    code = error_code(error)
    STRIPE_ERRORS.labels(code=code).inc()
    log.warning(
        "stripe %s failed: %s",
        operation,
        code,
        extra={"stripe_code": code, "http_status": error.http_status, "request_id": error.request_id},
    )
    return error


class StripeGateway:
    """Customers, saved cards and charges through `stripe.StripeClient`."""

    def __init__(
        self,
        *,
        api_key: str,
        api_base: str = "",
        timeout_seconds: float = 10.0,
        sandbox: bool,
        return_url: str = "",
        challenge_url: Callable[[str], str] | None = None,
    ) -> None:
        base_addresses: Any = {"api": api_base} if api_base else None
        self._api_base = api_base
        self._sandbox = sandbox
        # Real Stripe: where the bank sends the customer back after 3-D Secure. Without it Stripe
        # answers `use_stripe_sdk` (a browser-SDK flow) and there is no link to show in a chat.
        self._return_url = return_url
        # Sandbox: builds the console's signed challenge link for a PaymentIntent id.
        self._challenge_url = challenge_url
        self._client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )

    def create_customer(self, *, name: str, user_id: int, idempotency_key: str) -> str:
        """Create a Stripe customer for a user."""
        customer = self._client.v1.customers.create(
            {"name": name, "metadata": {"paychat_user_id": str(user_id)}},
            {"idempotency_key": idempotency_key},
        )
        return str(customer.id)

    def parse_webhook(self, payload: bytes, signature: str, secret: str) -> WebhookEvent:
        """Verify a Stripe webhook (see `parse_webhook`)."""
        return parse_webhook(payload, signature, secret)

    def sandbox_controls(self) -> SandboxControls | None:
        """This gateway itself when it talks to localstripe (test-only endpoints exist), else None."""
        return self if self._sandbox else None

    def customer_exists(self, customer_id: str) -> bool:
        """True when Stripe still knows the customer (the sandbox may have been reset)."""
        try:
            customer = self._client.v1.customers.retrieve(customer_id)
        except stripe.InvalidRequestError as error:
            noted(error, "customer lookup")
            return False
        return not bool(getattr(customer, "deleted", False))

    def forget_customer(self, customer_id: str) -> bool:
        """Clear the customer's name and the paychat user id in its metadata at Stripe."""
        try:
            # An empty value unsets a field (and a metadata key) at Stripe; a repeat changes nothing.
            self._client.v1.customers.update(customer_id, {"name": "", "metadata": {"paychat_user_id": ""}})
        except stripe.InvalidRequestError as error:
            noted(error, "customer forget")
            # No such customer (deleted in the Dashboard, a reset sandbox): nothing is left there.
            return error.http_status == 404
        except stripe.StripeError as error:
            noted(error, "customer forget")
            return False
        return True

    def add_test_card(self, *, customer_id: str, card_number: str, idempotency_key: str) -> CardDetails:
        """Attach a test card: from the raw number in the sandbox, from a test token on Stripe."""
        # Each write carries its own stable key (one key may not be reused with other parameters),
        # so a retried demo load replays the first answer on real Stripe instead of adding a card.
        if self._sandbox:
            method = self._client.v1.payment_methods.create(
                {
                    "type": "card",
                    "card": {"number": card_number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
                },
                {"idempotency_key": f"{idempotency_key}-create"},
            )
            method_id = str(method.id)
        else:
            method_id = TEST_TOKENS.get(card_number, "pm_card_visa")
        attached = self._client.v1.payment_methods.attach(
            method_id, {"customer": customer_id}, {"idempotency_key": f"{idempotency_key}-attach"}
        )
        card = attached.card
        if card is None:
            raise ValueError("payment method has no card")
        return CardDetails(
            payment_method_id=str(attached.id),
            brand=str(card.brand),
            last4=str(card.last4),
            exp_month=int(card.exp_month),
            exp_year=int(card.exp_year),
        )

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        """Create and confirm one PaymentIntent with the payment's idempotency key."""
        key = request.idempotency_key
        params: Any = {
            "amount": request.amount.amount_minor,
            "currency": request.amount.currency.lower(),
            "customer": request.customer_id,
            "payment_method": request.payment_method_id,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": {**request.metadata, IDEMPOTENCY_METADATA_KEY: key},
        }
        if self._return_url and not self._sandbox:
            # localstripe refuses unknown parameters, so the sandbox request stays as it was.
            params["return_url"] = self._return_url
        try:
            intent = self._client.v1.payment_intents.create(params, {"idempotency_key": key})
        except stripe.CardError as error:
            noted(error, "charge")
            return ChargeOutcome(
                status=ChargeStatus.FAILED,
                payment_intent_id=_intent_id_of(error),
                failure_code=FailureCode.of(error.code, default=FailureCode.CARD_DECLINED),
                failure_message=error.user_message or None,
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
            # The request may or may not have reached Stripe: only reconciliation can tell.
            noted(error, "charge")
            return ChargeOutcome(status=ChargeStatus.UNKNOWN)
        except (stripe.InvalidRequestError, stripe.AuthenticationError, stripe.PermissionError) as error:
            noted(error, "charge")
            return ChargeOutcome(
                status=ChargeStatus.FAILED,
                payment_intent_id=_intent_id_of(error),
                failure_code=FailureCode.GATEWAY_REJECTED,
                failure_message=error.user_message or None,
            )
        return self._outcome(intent)

    def find_charge(self, *, idempotency_key: str, customer_id: str) -> ChargeOutcome:
        """Find the PaymentIntent carrying this idempotency key in its metadata."""
        query: Any = {"limit": 100}
        if customer_id and not self._sandbox:
            # Real Stripe: only this customer's PaymentIntents, not every one on the account. The
            # sandbox answers a filtered list with an error, so it keeps paging through all of them.
            query["customer"] = customer_id
        try:
            page = self._client.v1.payment_intents.list(query)
            while True:
                for intent in page.data:
                    meta = intent.metadata.to_dict() if intent.metadata else {}
                    if meta.get(IDEMPOTENCY_METADATA_KEY) == idempotency_key:
                        return self._outcome(intent)
                if not page.has_more or not page.data:
                    return ChargeOutcome(status=ChargeStatus.NOT_FOUND)
                following: Any = {**query, "starting_after": page.data[-1].id}
                page = self._client.v1.payment_intents.list(following)
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
            noted(error, "find charge")
            return ChargeOutcome(status=ChargeStatus.UNKNOWN)

    def retrieve_charge(self, payment_intent_id: str) -> ChargeOutcome:
        """The current state of a PaymentIntent."""
        try:
            intent = self._client.v1.payment_intents.retrieve(payment_intent_id)
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
            noted(error, "retrieve charge")
            return ChargeOutcome(status=ChargeStatus.UNKNOWN, payment_intent_id=payment_intent_id)
        return self._outcome(intent)

    def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund through a Stripe Refund on the PaymentIntent; one found under the same key is returned.

        The sandbox ignores Idempotency-Key headers, so the key is also kept in the refund's metadata
        and looked for first: a retried refund (after a timeout) finds the first one instead of
        refunding twice, on real Stripe and in the sandbox alike.
        """
        key = request.idempotency_key
        try:
            existing = self._find_refund(request.payment_intent_id, key)
            if existing is not None:
                return _refund_outcome(existing)
            params: Any = {
                "payment_intent": request.payment_intent_id,
                "amount": request.amount.amount_minor,
                "metadata": {**request.metadata, IDEMPOTENCY_METADATA_KEY: key},
            }
            refund = self._client.v1.refunds.create(params, {"idempotency_key": key})
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError):
            return RefundOutcome(status=RefundOutcomeStatus.PENDING)
        except stripe.StripeError as error:
            return RefundOutcome(
                status=RefundOutcomeStatus.FAILED, failure_message=error.user_message or None
            )
        return _refund_outcome(refund)

    def _find_refund(self, payment_intent_id: str, key: str) -> Any | None:
        query: Any = {"payment_intent": payment_intent_id, "limit": 100}
        page = self._client.v1.refunds.list(query)
        while True:
            for refund in page.data:
                meta = refund.metadata.to_dict() if refund.metadata else {}
                if meta.get(IDEMPOTENCY_METADATA_KEY) == key:
                    return refund
            if not page.has_more or not page.data:
                return None
            following: Any = {**query, "starting_after": page.data[-1].id}
            page = self._client.v1.refunds.list(following)

    def charge_object(self, payment_intent_id: str) -> dict[str, Any] | None:
        """The PaymentIntent as Stripe returns it (a plain dict), or None when Stripe cannot be asked."""
        try:
            intent = self._client.v1.payment_intents.retrieve(payment_intent_id)
        except stripe.StripeError:
            return None
        body: dict[str, Any] = intent.to_dict()
        # The client secret lets whoever holds it confirm the intent from a browser: staff never need it.
        body.pop("client_secret", None)
        return body

    def cancel_charge(self, payment_intent_id: str) -> ChargeOutcome:
        """Cancel a PaymentIntent that has not completed; what it is afterwards."""
        try:
            intent = self._client.v1.payment_intents.cancel(payment_intent_id)
        except stripe.InvalidRequestError:
            # Not cancellable any more (it succeeded or was cancelled meanwhile): say what it is.
            return self.retrieve_charge(payment_intent_id)
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError):
            return ChargeOutcome(status=ChargeStatus.UNKNOWN, payment_intent_id=payment_intent_id)
        return self._outcome(intent)

    def authenticate_in_sandbox(self, payment_intent_id: str, *, success: bool) -> ChargeOutcome:
        """Finish a sandbox 3-D Secure challenge (localstripe's test-only endpoint)."""
        if not self._sandbox:
            raise RuntimeError("3-D Secure can be completed this way only in the sandbox")
        intent = self._client.v1.payment_intents.retrieve(payment_intent_id)
        self._client.raw_request(
            "post",
            f"/v1/payment_intents/{payment_intent_id}/_authenticate",
            client_secret=intent.client_secret,
            success="true" if success else "false",
        )
        return self.retrieve_charge(payment_intent_id)

    def _outcome(self, intent: Any) -> ChargeOutcome:
        status = str(intent.status)
        if status == "succeeded":
            return ChargeOutcome(status=ChargeStatus.SUCCEEDED, payment_intent_id=str(intent.id))
        if status in ("requires_action", "requires_source_action"):
            return ChargeOutcome(
                status=ChargeStatus.REQUIRES_ACTION,
                payment_intent_id=str(intent.id),
                next_action_url=self._next_action_url(intent),
            )
        if status in ("requires_payment_method", "canceled"):
            error = getattr(intent, "last_payment_error", None)
            return ChargeOutcome(
                status=ChargeStatus.FAILED,
                payment_intent_id=str(intent.id),
                failure_code=FailureCode.of(getattr(error, "code", None), default=FailureCode.CARD_DECLINED),
                failure_message=getattr(error, "message", None) or None,
            )
        # processing / requires_confirmation / requires_capture: not settled yet.
        return ChargeOutcome(status=ChargeStatus.UNKNOWN, payment_intent_id=str(intent.id))

    def _next_action_url(self, intent: Any) -> str | None:
        action = intent.to_dict().get("next_action") or {}
        redirect = action.get("redirect_to_url") or {}
        if redirect.get("url"):
            return str(redirect["url"])
        if self._sandbox:
            if self._challenge_url is not None:
                # localstripe has no hosted challenge page: the console serves one.
                return self._challenge_url(str(intent.id))
            # No console configured (bare gateway in tests): localstripe's POST-only endpoint.
            return f"{self._api_base}/v1/payment_intents/{intent.id}/_authenticate"
        return None


def build_gateway(settings: Settings) -> StripeGateway:
    """The Stripe gateway for `settings` (the sandbox unless a real key is configured)."""
    public_url = (settings.public_url or "http://127.0.0.1:8000").rstrip("/")
    key = challenge_key(settings)
    return StripeGateway(
        api_key=settings.effective_stripe_api_key,
        api_base=settings.effective_stripe_api_base,
        timeout_seconds=settings.stripe_timeout_seconds,
        sandbox=settings.uses_stripe_sandbox,
        return_url=f"{public_url}/payments/return",
        challenge_url=lambda intent_id: challenge_url(public_url, key, intent_id),
    )


def parse_webhook(payload: bytes, signature: str, secret: str) -> WebhookEvent:
    """Verify a Stripe webhook's signature and return its id, type and PaymentIntent id.

    WebhookInvalidError for a bad signature and for a signed body that is not an event (not JSON,
    not an object, no string id or type): Stripe never sends one, so it is refused, not retried.
    """
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
        body = json.loads(text)
    except (ValueError, stripe.SignatureVerificationError) as error:  # UnicodeDecodeError is a ValueError
        raise WebhookInvalidError(reason="signature") from error
    event_id = body.get("id") if isinstance(body, dict) else None
    event_type = body.get("type") if isinstance(body, dict) else None
    # Stripe's ids and types are short ASCII words; anything else would not fit the columns.
    if not _fullmatch(EVENT_ID, event_id) or not _fullmatch(EVENT_TYPE, event_type):
        raise WebhookInvalidError(reason="not_an_event")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    intent = obj.get("id") if isinstance(obj, dict) and obj.get("object") == "payment_intent" else None
    intent_id = str(intent) if _fullmatch(OBJECT_ID, intent) else None
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    key = metadata.get(IDEMPOTENCY_METADATA_KEY) if intent_id and isinstance(metadata, dict) else None
    return WebhookEvent(
        event_id=str(event_id),
        event_type=str(event_type),
        payment_intent_id=intent_id,
        idempotency_key=key if isinstance(key, str) and key else None,
    )


def _fullmatch(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _refund_outcome(refund: Any) -> RefundOutcome:
    status = str(refund.status)
    if status == "succeeded":
        return RefundOutcome(status=RefundOutcomeStatus.SUCCEEDED, refund_id=str(refund.id))
    if status in ("failed", "canceled"):
        reason = getattr(refund, "failure_reason", None)
        return RefundOutcome(
            status=RefundOutcomeStatus.FAILED, refund_id=str(refund.id), failure_message=reason or None
        )
    return RefundOutcome(status=RefundOutcomeStatus.PENDING, refund_id=str(refund.id))


def _intent_id_of(error: stripe.StripeError) -> str | None:
    body: Any = error.json_body or {}
    intent = (body.get("error") or {}).get("payment_intent") or {}
    return str(intent["id"]) if isinstance(intent, dict) and intent.get("id") else None
