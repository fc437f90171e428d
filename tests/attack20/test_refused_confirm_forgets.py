"""Attack 20 on actions.paying.forget_after_refused_confirm, attacks that held: a refused Confirm
under an OLD summary (its payment paid, cancelled, superseded) never clears the NEWER pending
payment's slots; only a refusal naming the pending payment itself, no longer a draft, ends it."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from actions.paying import forget_after_refused_confirm
from payments.errors import ConfirmationStaleError, ConfirmationUsedError, PaymentsError

PENDING = 42  # the newer draft the conversation is about to confirm
OLD = 41  # an older summary's payment


def _tracker() -> Tracker:
    slots = {"pending_payment_id": str(PENDING), "biller": "Acme Power", "amount": "5"}
    return Tracker("tg-1", slots, {"text": "/affirm"}, [], False, None, {}, "action_listen")


@pytest.mark.parametrize(
    "error",
    [
        ConfirmationUsedError(payment_id=OLD, payment_status="succeeded", payment_over=True),
        ConfirmationUsedError(payment_id=OLD, payment_status="processing", payment_over=True),
        ConfirmationStaleError(payment_id=OLD, payment_status="cancelled", payment_over=True),
        ConfirmationStaleError(payment_id=OLD),
        ConfirmationUsedError(payment_id=PENDING, payment_status="draft", payment_over=False),
        ConfirmationStaleError(payment_id=PENDING),  # superseded / claimed offer of the live draft
        ConfirmationUsedError(payment_id=str(OLD), payment_status="succeeded", payment_over=True),
    ],
)
def test_a_refused_confirm_keeps_a_newer_or_still_waiting_payment(error: PaymentsError) -> None:
    assert forget_after_refused_confirm(error, _tracker()) == []


def test_a_refused_confirm_of_the_pending_payment_that_is_over_ends_it() -> None:
    error = ConfirmationUsedError(payment_id=PENDING, payment_status="succeeded", payment_over=True)
    cleared = {e["name"] for e in forget_after_refused_confirm(error, _tracker()) if e["value"] is None}
    assert {"pending_payment_id", "biller", "amount"} <= cleared
