"""Signed webhook bodies that are not Stripe events are refused (the fuzzer found them answered 503)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from payments.errors import WebhookInvalidError
from payments.stripe_gateway import parse_webhook

SECRET = "whsec_test_bodies"


def signed(body: bytes) -> str:
    """A valid Stripe-Signature header for `body`."""
    stamp = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"[]",
        b"{}",
        b'"event"',
        b'{"id": 1, "type": "payment_intent.succeeded"}',
        b'{"id": "evt_1"}',
        json.dumps({"id": "evt_\u0000", "type": "payment_intent.succeeded"}).encode(),
        json.dumps({"id": "evt_" + "x" * 300, "type": "payment_intent.succeeded"}).encode(),
        json.dumps({"id": "evt_1", "type": "payment_intent.succeeded" * 10}).encode(),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookInvalidError):
        parse_webhook(body, signed(body), SECRET)


def test_an_odd_payment_intent_id_is_left_out_not_looked_up() -> None:
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "payment_intent.succeeded",
            "data": {"object": {"object": "payment_intent", "id": "pi_\u0000"}},
        }
    ).encode()
    event = parse_webhook(body, signed(body), SECRET)
    assert (event.event_id, event.payment_intent_id) == ("evt_1", None)


def test_a_real_event_still_parses() -> None:
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "payment_intent.succeeded",
            "data": {"object": {"object": "payment_intent", "id": "pi_9"}},
        }
    ).encode()
    event = parse_webhook(body, signed(body), SECRET)
    assert (event.event_id, event.event_type, event.payment_intent_id) == (
        "evt_1",
        "payment_intent.succeeded",
        "pi_9",
    )
