"""Issue 15, item 2: a receipt a person can keep, worded at the edge from typed values.

The core returns a `Receipt` (short reference, amount, biller, bill reference, card, the moment in
the user's zone, the processor's id); `utter_payment_succeeded` words it, with the Stripe
PaymentIntent id only as the last, secondary line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from db.models import User
from payments.dates import format_moment
from payments.receipts import payment_id_for_reference, receipt_reference
from payments.service import PaymentsService
from tests.actions.conftest import as_rasa_says
from tests.actions.test_paying import confirm, prepare


async def test_a_succeeded_payment_shows_a_receipt_to_keep(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    user_id = service.user_id_for_sender(sender_id=alex)
    with service.session_factory.begin() as session:  # a user far from UTC: the time is theirs
        session.execute(update(User).where(User.id == user_id).values(timezone="America/New_York"))
    try:
        _, slots = await prepare(domain, alex, biller="phone", amount="2")
        dispatcher = await confirm(domain, alex, slots)
    finally:
        with service.session_factory.begin() as session:
            session.execute(update(User).where(User.id == user_id).values(timezone="Europe/Berlin"))
    [message] = dispatcher.messages
    text = as_rasa_says(domain, message)["text"]
    result = service.get_payment(user_id=user_id, payment_id=int(slots["pending_payment_id"]))
    receipt = result.receipt
    assert receipt is not None and result.payment_intent_id

    lines = text.split("\n")
    assert lines[0] == "Done ✅ Paid €2.00 to Vodafone."
    assert (
        lines[2] == f"🧾 Receipt {receipt.reference}"
        and payment_id_for_reference(receipt.reference) == result.payment_id
    )
    assert lines[3] == "Amount: €2.00"
    assert lines[4] == f"To: Vodafone, bill {receipt.bill_reference}" and receipt.bill_reference
    assert lines[5] == "Card: Visa •••• 4242"
    local = format_moment(receipt.paid_at, timezone="America/New_York", locale="en_IE")
    assert lines[6] == f"Paid: {local} (America/New_York)"
    assert lines[-1] == f"Payment provider reference: {result.payment_intent_id}"  # secondary, last
    assert "{" not in text


def test_receipt_times_are_the_users_wall_clock() -> None:
    moment = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    assert format_moment(moment, timezone="Pacific/Auckland", locale="en_IE") == "1 Feb 2026, 12:30 +13:00"
    assert format_moment(moment, timezone="Europe/Berlin", locale="de_DE") == "01.02.2026, 00:30 +01:00"
    new_york = format_moment(moment, timezone="America/New_York", locale="en_US")
    assert new_york == "Jan 31, 2026, 6:30\u202fPM -05:00"


@given(st.integers(min_value=0, max_value=2**40))
def test_a_reference_reads_back_as_its_payment(payment_id: int) -> None:
    reference = receipt_reference(payment_id)
    assert reference.startswith("PAY-") and len(reference) >= 10
    assert payment_id_for_reference(reference) == payment_id
    assert payment_id_for_reference(reference.lower().replace("-", " ")) == payment_id


@pytest.mark.parametrize("typo", ["PAY-0001FB", "PAY-0002FA", "PAY-01FA", "PAY-0001F", "PAY-0001FA!", ""])
def test_a_mistyped_reference_is_refused_not_taken_for_another_payment(typo: str) -> None:
    assert receipt_reference(47) == "PAY-0001FA"
    assert payment_id_for_reference(typo) is None


def test_only_a_succeeded_payment_has_a_receipt(service: PaymentsService, alex: str) -> None:
    user_id = service.user_id_for_sender(sender_id=alex)
    bill = service.find_bill(user_id=user_id, biller_text="water")
    summary = service.draft_payment(user_id=user_id, bill_id=bill.id, amount_text="1", date_text=None)
    assert service.get_payment(user_id=user_id, payment_id=summary.payment_id).receipt is None
    service.cancel_payment(user_id=user_id, payment_id=summary.payment_id)
