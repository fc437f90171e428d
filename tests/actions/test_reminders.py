"""Issue 13 item 4 in chat, through the actions (real Trackers, the real PaymentsService and the Stripe
sandbox): a reminder's "Pay now" shows that bill's summary, a stale one says the bill is paid, and
"stop reminding me" / "remind me again" switch the user's reminders and say so. The same "Pay now"
under a bill a standing mandate could not pay (item 8): that bill's summary, then once it is paid
or for another user's bill a plain answer, nothing drafted.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.paying import ActionConfirmPayment
from actions.reminders import ActionPayRemindedBill, ActionSetReminders
from db.models import Bill, Biller
from payments.service import PaymentsService
from tests.actions.conftest import as_rasa_says, make_tracker, slot_events
from tests.helpers.factories import make_paying_user, unique

pytestmark = pytest.mark.sandbox


def _payer(service: PaymentsService) -> tuple[str, int, int, int]:
    """A fresh user (console sender) with two bills; (sender, water bill, phone bill, user id)."""
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("water", 3_150), ("phone", 4_999))
    )
    return f"console-{user_id}-reminder_test", bills["water"], bills["phone"], user_id


async def _run(
    action: Any, domain: dict[str, Any], sender: str, **kwargs: Any
) -> tuple[list[Any], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(sender, **kwargs), domain)
    return [
        as_rasa_says(domain, m) | {"response": m.get("response")} for m in dispatcher.messages
    ], slot_events(events)


def _pay_now(bill_id: int) -> dict[str, Any]:
    """What Rasa makes of the tapped `/pay_bill{"reminded_bill_id": N}`."""
    return {
        "intent": "pay_bill",
        "text": f'/pay_bill{{"reminded_bill_id":{bill_id}}}',
        "entities": [{"entity": "reminded_bill_id", "value": bill_id}],
    }


async def test_pay_now_shows_that_bills_summary_and_a_stale_one_is_refused(
    service: PaymentsService, domain: dict[str, Any]
) -> None:
    sender, _water, phone, _ = _payer(service)  # two open bills: Pay now drafts the one it names

    [summary], slots = await _run(ActionPayRemindedBill(), domain, sender, **_pay_now(phone))
    assert summary["response"] == "utter_payment_summary" and "€49.99" in summary["text"]
    assert [b["title"] for b in summary["buttons"]] == ["Confirm", "Change", "Cancel"]
    assert slots["bill_id"] == str(phone) and slots["pending_payment_id"]
    [paid], _ = await _run(ActionConfirmPayment(), domain, sender, slots=slots, intent="affirm", text="yes")
    assert paid["response"] == "utter_payment_succeeded"

    [stale], stale_slots = await _run(ActionPayRemindedBill(), domain, sender, **_pay_now(phone))
    assert stale["response"] == "utter_error_bill_settled"
    assert stale["text"].startswith(f"That {slots['biller']} bill is already paid or being paid")
    assert stale_slots == {}  # nothing drafted, nothing forgotten


def _asked(service: PaymentsService) -> tuple[str, int]:
    """A fresh user whose phone autopay (cap €40) met a bill of €40.01 and asked them; (sender, bill)."""
    sender, _water, phone, user_id = _payer(service)
    with service.session_factory.begin() as session:
        old = session.get_one(Bill, phone)
        old.status = "void"  # only bills arriving after the mandate are its business
        biller = session.get_one(Biller, old.biller_id).name
    offer = service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="40")
    service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    bill = service.autopay.issue_bill(
        user_id=user_id, biller_name=biller, reference=unique("B"), amount_minor=4_001,
        due_date=date.today() + timedelta(days=10),
    )  # fmt: skip
    assert bill.id in service.run_mandates().asked
    return sender, bill.id


async def test_pay_now_under_a_bill_autopay_could_not_pay_then_paid_or_foreign(
    service: PaymentsService, domain: dict[str, Any]
) -> None:
    sender, bill_id = _asked(service)
    stranger, _, _, _ = _payer(service)

    [foreign], foreign_slots = await _run(ActionPayRemindedBill(), domain, stranger, **_pay_now(bill_id))
    assert foreign["response"] == "utter_error_pay_now_bill_unknown" and foreign_slots == {}
    assert foreign["text"].startswith("I can't find that bill among yours")
    [summary], slots = await _run(ActionPayRemindedBill(), domain, sender, **_pay_now(bill_id))
    assert summary["response"] == "utter_payment_summary" and "€40.01" in summary["text"]
    assert slots["bill_id"] == str(bill_id)
    [paid], _ = await _run(ActionConfirmPayment(), domain, sender, slots=slots, intent="affirm", text="yes")
    assert paid["response"] == "utter_payment_succeeded"

    [stale], stale_slots = await _run(ActionPayRemindedBill(), domain, sender, **_pay_now(bill_id))
    assert stale["response"] == "utter_error_bill_settled" and stale_slots == {}
    assert stale["text"].startswith(f"That {slots['biller']} bill is already paid or being paid")
    assert "from that message" in stale["text"]


async def test_the_switch_says_off_and_on_and_already(
    service: PaymentsService, domain: dict[str, Any]
) -> None:
    sender, _, _, user_id = _payer(service)

    said = []
    for intent in ("reminders_off", "reminders_off", "reminders_on", "reminders_on"):
        [reply], _ = await _run(ActionSetReminders(), domain, sender, intent=intent, text="…")
        said.append(reply["response"])

    assert said == [
        "utter_reminders_off",
        "utter_reminders_off_already",
        "utter_reminders_on",
        "utter_reminders_on_already",
    ]
    assert service.reminders_enabled(user_id=user_id)


@pytest.mark.parametrize(
    "text",
    [
        "don't stop reminding me",
        "please keep reminding me",
        "never turn the reminders off",
        "don\u2019t stop them",  # a phone's apostrophe
    ],
)
async def test_a_negated_switch_off_asks_and_changes_nothing(
    service: PaymentsService, domain: dict[str, Any], text: str
) -> None:
    """Read as reminders_off by the model, negated in its words: a question with both buttons, still on;
    its "Turn them off" button (a `/reminders_off` payload) does switch them off."""
    sender, _, _, user_id = _payer(service)

    [ask], _ = await _run(ActionSetReminders(), domain, sender, intent="reminders_off", text=text)
    assert ask["response"] == "utter_reminders_keep_or_off"
    assert [b["payload"] for b in ask["buttons"]] == ["/reminders_on", "/reminders_off"]
    assert service.reminders_enabled(user_id=user_id)

    [off], _ = await _run(ActionSetReminders(), domain, sender, intent="reminders_off", text="/reminders_off")
    assert off["response"] == "utter_reminders_off"
    assert not service.reminders_enabled(user_id=user_id)


@pytest.mark.parametrize(
    "text",
    [
        "stop reminding me",
        "please don't remind me about my bills any more",
        "i don't want any more reminders",
        "no need to remind me, i keep track myself",
    ],
)
async def test_plain_switch_off_phrasings_still_switch_at_once(
    service: PaymentsService, domain: dict[str, Any], text: str
) -> None:
    sender, _, _, user_id = _payer(service)
    [off], _ = await _run(ActionSetReminders(), domain, sender, intent="reminders_off", text=text)
    assert off["response"] == "utter_reminders_off"
    assert not service.reminders_enabled(user_id=user_id)
