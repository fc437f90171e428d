"""The Stripe API calls paychat makes, and the restricted-key permissions they need.

Least privilege: a production key should be a restricted key (`rk_live_…`) allowing exactly
`REQUIRED_PERMISSIONS`. `STRIPE_CALLS` lists every request `payments.stripe_gateway` sends to real
Stripe (method and path pattern) with the permission it needs; `SANDBOX_ONLY_CALLS` are the
localstripe-only requests (raw test card numbers, the stand-in bank's 3-D Secure answer) that never
reach real Stripe. tests/evidence/test_stripe_least_privilege.py runs the payment flows through a
proxy that refuses anything else. Webhooks need no API permission: the endpoint is registered in
the Dashboard and each event is verified locally with its signing secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Access(StrEnum):
    """A restricted key's level for one resource (Stripe's Dashboard: None / Read / Write)."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class StripeCall:
    """One kind of request: HTTP method, path pattern, the resource and access it needs."""

    method: str
    path: str  # a regular expression matched against the whole path
    resource: str
    access: Access

    def matches(self, method: str, path: str) -> bool:
        """True when a request with this method and path is this call."""
        return method.upper() == self.method and re.fullmatch(self.path, path) is not None


STRIPE_CALLS: tuple[StripeCall, ...] = (
    StripeCall("POST", r"/v1/customers", "Customers", Access.WRITE),  # a user's first card
    StripeCall("GET", r"/v1/customers/[A-Za-z0-9_]+", "Customers", Access.READ),  # still there?
    # /forget: clear the customer's name and our user id in its metadata.
    StripeCall("POST", r"/v1/customers/[A-Za-z0-9_]+", "Customers", Access.WRITE),
    # Attach a Stripe test card in demo mode (a real deployment's own card flow would add the same).
    StripeCall("POST", r"/v1/payment_methods/[A-Za-z0-9_]+/attach", "PaymentMethods", Access.WRITE),
    StripeCall("POST", r"/v1/payment_intents", "PaymentIntents", Access.WRITE),  # charge (confirm=true)
    StripeCall("GET", r"/v1/payment_intents", "PaymentIntents", Access.READ),  # reconcile by key
    StripeCall("GET", r"/v1/payment_intents/[A-Za-z0-9_]+", "PaymentIntents", Access.READ),  # settle
    # Cancel a 3-D Secure challenge nobody finished (settlement's deadline).
    StripeCall("POST", r"/v1/payment_intents/[A-Za-z0-9_]+/cancel", "PaymentIntents", Access.WRITE),
    StripeCall("POST", r"/v1/refunds", "Refunds", Access.WRITE),  # a staff refund
    StripeCall("GET", r"/v1/refunds", "Refunds", Access.READ),  # find a refund again by its key
)

SANDBOX_ONLY_CALLS: tuple[StripeCall, ...] = (
    StripeCall("POST", r"/v1/payment_methods", "PaymentMethods", Access.WRITE),  # raw test numbers
    StripeCall("POST", r"/v1/payment_intents/[A-Za-z0-9_]+/_authenticate", "PaymentIntents", Access.WRITE),
)


def required_permissions(calls: tuple[StripeCall, ...] = STRIPE_CALLS) -> dict[str, Access]:
    """The least access per resource that allows every call: {resource: read | write}."""
    needed: dict[str, Access] = {}
    for call in calls:
        if needed.get(call.resource) != Access.WRITE:
            needed[call.resource] = call.access
    return dict(sorted(needed.items()))


REQUIRED_PERMISSIONS = required_permissions()


def allowed(method: str, path: str, *, sandbox: bool = False) -> StripeCall | None:
    """The declared call a request is, or None when paychat should never send it."""
    calls = STRIPE_CALLS + (SANDBOX_ONLY_CALLS if sandbox else ())
    return next((call for call in calls if call.matches(method, path)), None)
