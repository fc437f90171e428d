"""Bills, history, cancelling, form validation and the fallback, with real Trackers."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.bills import ActionCancelPayment, ActionCheckBills, ActionPaymentHistory
from actions.fallback import ActionDefaultAskAffirmation
from actions.forms import ActionAskBiller, ValidatePayBillForm
from actions.paying import ActionConfirmPayment, ActionPreparePayment
from payments.service import PaymentsService
from tests.actions.conftest import SOMEONE, make_tracker, slot_events

pytestmark = pytest.mark.sandbox


async def test_check_bills_lists_every_open_bill(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionCheckBills().run(dispatcher, make_tracker(alex, intent="check_bills"), domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_open_bills"
    for name in ("Stadtwerke", "Vodafone", "Telekom"):
        assert name in message["v_bills"]
    assert "{" not in message["v_bills"]
    # Each line carries the due date as payments writes it for the user's locale.
    user_id = service.user_id_for_sender(sender_id=alex)
    lines = message["v_bills"].splitlines()
    for bill in service.open_bills(user_id=user_id):
        assert bill.due_date_text
        assert any(bill.biller_name in line and f"due {bill.due_date_text}" in line for line in lines)


async def test_check_bills_for_a_named_biller(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(alex, intent="check_bills", entities=[{"entity": "biller", "value": "phone"}])
    await ActionCheckBills().run(dispatcher, tracker, domain)
    lines = dispatcher.messages[0]["v_bills"].splitlines()
    assert len(lines) == 1 and "Vodafone" in lines[0]


async def test_history_shows_a_confirmed_payment(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    prepared = await ActionPreparePayment().run(
        CollectingDispatcher(),
        make_tracker(alex, slots={"biller": "electricity", "amount": "1"}),
        domain,
    )
    await ActionConfirmPayment().run(
        CollectingDispatcher(), make_tracker(alex, slots=slot_events(prepared), intent="affirm"), domain
    )
    dispatcher = CollectingDispatcher()
    await ActionPaymentHistory().run(dispatcher, make_tracker(alex, intent="payment_history"), domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_payment_history"
    assert "Stadtwerke" in message["v_payments"] and "paid" in message["v_payments"]
    [latest, *_] = service.payment_history(user_id=service.user_id_for_sender(sender_id=alex))
    assert message["v_payments"].splitlines()[0].startswith(f"• {latest.moved_at_text} — ")


async def test_schedule_then_cancel(service: PaymentsService, domain: dict[str, Any], alex: str) -> None:
    prepared = slot_events(
        await ActionPreparePayment().run(
            CollectingDispatcher(),
            make_tracker(alex, slots={"biller": "internet", "amount": "1", "date": "in 3 days"}),
            domain,
        )
    )
    confirmed = CollectingDispatcher()
    await ActionConfirmPayment().run(confirmed, make_tracker(alex, slots=prepared, intent="affirm"), domain)
    assert confirmed.messages[0]["response"] == "utter_payment_scheduled"

    offer = CollectingDispatcher()
    await ActionCancelPayment().run(offer, make_tracker(alex, intent="cancel_payment"), domain)
    payloads = [button["payload"] for button in offer.messages[0]["buttons"]]
    wanted = f'/cancel_payment{{"payment_id": "{prepared["pending_payment_id"]}"}}'
    assert wanted in payloads

    done = CollectingDispatcher()
    events = await ActionCancelPayment().run(
        done, make_tracker(alex, slots={"payment_id": prepared["pending_payment_id"]}), domain
    )
    assert done.messages[0]["response"] == "utter_payment_cancelled_named"
    assert slot_events(events) == {"payment_id": None}
    user_id = service.user_id_for_sender(sender_id=alex)
    assert service.get_payment(user_id=user_id, payment_id=int(prepared["pending_payment_id"])).status == (
        "cancelled"
    )


async def test_form_keeps_the_bill_a_biller_names(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        alex,
        slots={"biller": "strom", "requested_slot": "biller"},
        entities=[{"entity": "biller", "value": "strom"}],
        events=[
            {"event": "active_loop", "name": "pay_bill_form"},
            {"event": "user", "text": "strom"},
            {"event": "slot", "name": "biller", "value": "strom"},
        ],
        active_loop="pay_bill_form",
    )
    events = slot_events(await ValidatePayBillForm().run(dispatcher, tracker, domain))
    assert events["biller"] == "Stadtwerke" and events["bill_id"]
    assert dispatcher.messages == []


async def test_form_reasks_for_an_unknown_biller(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        alex,
        slots={"biller": "xylophone club", "requested_slot": "biller"},
        events=[
            {"event": "active_loop", "name": "pay_bill_form"},
            {"event": "user", "text": "xylophone club"},
            {"event": "slot", "name": "biller", "value": "xylophone club"},
        ],
        active_loop="pay_bill_form",
    )
    events = slot_events(await ValidatePayBillForm().run(dispatcher, tracker, domain))
    assert events["biller"] is None
    assert dispatcher.messages[0]["response"].startswith("utter_error_biller_")


async def test_fallback_offers_the_two_likeliest_intents(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.45},
        {"name": "check_bills", "confidence": 0.4},
        {"name": "pay_bill", "confidence": 0.35},
        {"name": "greet", "confidence": 0.1},
    ]
    tracker = make_tracker(
        SOMEONE, intent="nlu_fallback", ranking=ranking, entities=[{"entity": "biller", "value": "Vodafone"}]
    )
    await ActionDefaultAskAffirmation().run(dispatcher, tracker, domain)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == ["See what I owe", "Pay a bill", "Something else"]
    assert buttons[1]["payload"] == '/pay_bill{"biller": "Vodafone"}'


async def test_the_fallback_after_a_cancel_offer_offers_cancelling_first(domain: dict[str, Any]) -> None:
    """An unclear "don't send it" after a reply that offered cancelling payment 7: its first button is
    "Cancel a payment" (whose /cancel_payment cancels that payment), even when the model ranked it low."""
    dispatcher = CollectingDispatcher()
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "pay_bill", "confidence": 0.3},
        {"name": "check_bills", "confidence": 0.2},
        {"name": "cancel_payment", "confidence": 0.05},
    ]
    tracker = make_tracker(
        SOMEONE, intent="nlu_fallback", ranking=ranking, slots={"cancellable_payment_id": "7"}
    )
    await ActionDefaultAskAffirmation().run(dispatcher, tracker, domain)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ["/cancel_payment", "/pay_bill", "/out_of_scope"]
    assert buttons[0]["title"] == "Cancel a payment"


async def test_asking_for_the_biller_offers_open_bills(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionAskBiller().run(dispatcher, make_tracker(alex, intent="pay_bill"), domain)
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_biller"
    payloads = [button["payload"] for button in message["buttons"]]
    assert '/inform{"biller": "Vodafone"}' in payloads
    assert any(button["title"].startswith("Vodafone (€") for button in message["buttons"])


async def test_naming_the_biller_cancels_its_scheduled_payment(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    prepared = slot_events(
        await ActionPreparePayment().run(
            CollectingDispatcher(),
            make_tracker(alex, slots={"biller": "water", "amount": "1", "date": "in 5 days"}),
            domain,
        )
    )
    await ActionConfirmPayment().run(
        CollectingDispatcher(), make_tracker(alex, slots=prepared, intent="affirm"), domain
    )
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(alex, intent="cancel_payment", entities=[{"entity": "biller", "value": "water"}])
    await ActionCancelPayment().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_payment_cancelled_named"
    assert dispatcher.messages[0]["v_biller_name"] == "Berliner Wasserbetriebe"
    user_id = service.user_id_for_sender(sender_id=alex)
    assert service.get_payment(user_id=user_id, payment_id=int(prepared["pending_payment_id"])).status == (
        "cancelled"
    )
