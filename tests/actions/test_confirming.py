"""Issue 10 items 2 and 9 through the actions: real Trackers, the real PaymentsService, the sandbox.

A summary's Confirm names its draft and one-time nonce; a tap under an older summary charges
nothing, says the summary is out of date and leaves the live one as it was. Amounts the gateway
cannot charge, or that are not in the bill's currency, are refused before a summary is shown.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.paying import ActionConfirmPayment, ActionPreparePayment, ActionStopPayment
from payments.service import PaymentsService
from tests.actions.conftest import as_rasa_says, make_tracker, slot_events

pytestmark = pytest.mark.sandbox


async def show_summary(
    domain: dict[str, Any], sender: str, slots: dict[str, Any], entities: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run action_prepare_payment; return the message shown (as Rasa sends it) and the slots after it."""
    dispatcher = CollectingDispatcher()
    events = await ActionPreparePayment().run(
        dispatcher, make_tracker(sender, slots=slots, entities=entities), domain
    )
    [message] = dispatcher.messages
    return as_rasa_says(domain, message), {**slots, **slot_events(events)}


def tap_entities(payload: str) -> tuple[str, list[dict[str, Any]]]:
    """The intent and entities Rasa's payload parser makes of `/intent{json}`."""
    intent, _, body = payload[1:].partition("{")
    values = json.loads("{" + body) if body else {}
    return intent, [{"entity": key, "value": value} for key, value in values.items()]


async def tap(
    domain: dict[str, Any], sender: str, slots: dict[str, Any], shown: dict[str, Any], title: str
) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    """Tap the button `title` under the message `shown`, with the front end handing back its text."""
    payload = next(b["payload"] for b in shown["buttons"] if b["title"] == title)
    intent, entities = tap_entities(payload)
    tracker = make_tracker(
        sender,
        slots=slots,
        intent=intent,
        entities=entities,
        text=payload,
        metadata={"shown_text": shown["text"]},
    )
    action = ActionConfirmPayment() if intent == "affirm" else ActionStopPayment()
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return dispatcher, events


async def summaries_a_then_b(
    domain: dict[str, Any], sender: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Summary A (the phone bill, €1.00), then the correction "make it 2": summary B (€2.00)."""
    a, slots = await show_summary(
        domain, sender, {"biller": "phone", "amount": "1"}, [{"entity": "biller", "value": "phone"}]
    )
    b, slots = await show_summary(
        domain, sender, {**slots, "amount": "2"}, [{"entity": "amount", "value": "2"}]
    )
    assert "€1.00" in a["text"] and "€2.00" in b["text"]
    return a, b, slots


def status(service: PaymentsService, sender: str, payment_id: Any) -> str:
    user_id = service.user_id_for_sender(sender_id=sender)
    return str(service.get_payment(user_id=user_id, payment_id=int(payment_id)).status)


def draft_of(shown: dict[str, Any]) -> int:
    return int(tap_entities(shown["buttons"][0]["payload"])[1][0]["value"])


async def test_each_summary_names_its_draft_and_a_fresh_nonce(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    a, b, slots = await summaries_a_then_b(domain, alex)
    assert [x["title"] for x in b["buttons"]] == ["Confirm", "Change", "Cancel"]
    _, a_entities = tap_entities(a["buttons"][0]["payload"])
    _, b_entities = tap_entities(b["buttons"][0]["payload"])
    assert [e["entity"] for e in b_entities] == ["draft_id", "confirm_nonce"]
    assert b_entities[0]["value"] == int(slots["pending_payment_id"])
    assert a_entities[1]["value"] != b_entities[1]["value"]
    assert all(len(x["payload"].encode()) <= 64 for x in b["buttons"])  # fits Telegram's callback_data


async def test_confirm_under_an_older_summary_charges_nothing_and_keeps_the_live_one(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    a, b, slots = await summaries_a_then_b(domain, alex)

    dispatcher, events = await tap(domain, alex, slots, a, "Confirm")

    [message] = dispatcher.messages
    assert message["response"] == "utter_error_confirmation_stale"
    assert "out of date" in as_rasa_says(domain, message)["text"]
    assert slot_events(events) == {}  # the live summary's slots are untouched
    assert status(service, alex, draft_of(a)) == "cancelled"
    assert status(service, alex, slots["pending_payment_id"]) == "draft"

    dispatcher, _ = await tap(domain, alex, slots, b, "Confirm")
    assert dispatcher.messages[0]["response"] == "utter_payment_succeeded"
    assert status(service, alex, slots["pending_payment_id"]) == "succeeded"

    # Replaying B's tap charges nothing more and says so, worded by the payment's status (paid).
    # The conversation still named B as pending (its answer was lost, attack19): B is over, so the
    # payment in progress ends and a "yes" afterwards is not taken for confirming it again.
    dispatcher, events = await tap(domain, alex, slots, b, "Confirm")
    assert dispatcher.messages[0]["response"] == "utter_error_confirmation_used_paid"
    assert slot_events(events)["pending_payment_id"] is None and slot_events(events)["bill_id"] is None


async def test_a_replayed_tap_of_a_paid_summary_leaves_the_newer_pending_one(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    a, slots = await show_summary(
        domain, alex, {"biller": "phone", "amount": "1"}, [{"entity": "biller", "value": "phone"}]
    )
    dispatcher, _ = await tap(domain, alex, slots, a, "Confirm")
    assert dispatcher.messages[0]["response"] == "utter_payment_succeeded"
    _, slots = await show_summary(
        domain, alex, {"biller": "phone", "amount": "2"}, [{"entity": "biller", "value": "phone"}]
    )
    dispatcher, events = await tap(domain, alex, slots, a, "Confirm")
    assert dispatcher.messages[0]["response"] == "utter_error_confirmation_used_paid"
    assert slot_events(events) == {}  # B (pending) is not A: its summary stays live
    assert status(service, alex, slots["pending_payment_id"]) == "draft"


async def test_a_yes_to_a_pending_draft_cancelled_meanwhile_ends_the_payment_in_progress(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, _, slots = await summaries_a_then_b(domain, alex)
    user_id = service.user_id_for_sender(sender_id=alex)
    service.cancel_payment(user_id=user_id, payment_id=int(slots["pending_payment_id"]))
    dispatcher = CollectingDispatcher()
    events = await ActionConfirmPayment().run(
        dispatcher, make_tracker(alex, slots=slots, intent="affirm", text="yes"), domain
    )
    assert dispatcher.messages[0]["response"] == "utter_error_confirmation_stale"
    assert slot_events(events)["pending_payment_id"] is None
    assert status(service, alex, slots["pending_payment_id"]) == "cancelled"


async def test_cancel_under_an_older_summary_does_not_cancel_the_live_one(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    a, b, slots = await summaries_a_then_b(domain, alex)
    dispatcher, events = await tap(domain, alex, slots, a, "Cancel")
    assert dispatcher.messages[0]["response"] == "utter_error_confirmation_stale"
    assert slot_events(events) == {}
    assert status(service, alex, slots["pending_payment_id"]) == "draft"
    dispatcher, events = await tap(domain, alex, slots, b, "Cancel")
    assert dispatcher.messages[0]["response"] == "utter_payment_cancelled"
    assert status(service, alex, slots["pending_payment_id"]) == "cancelled"
    assert all(value is None for value in slot_events(events).values())


async def test_a_summary_text_other_than_the_one_issued_is_refused(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, b, slots = await summaries_a_then_b(domain, alex)
    forged = {**b, "text": b["text"].replace("€2.00", "€0.02")}
    dispatcher, events = await tap(domain, alex, slots, forged, "Confirm")
    assert dispatcher.messages[0]["response"] == "utter_error_consent_mismatch"
    assert slot_events(events) == {}
    assert status(service, alex, slots["pending_payment_id"]) == "draft"


async def test_a_typed_yes_confirms_the_live_summary(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, _, slots = await summaries_a_then_b(domain, alex)
    dispatcher = CollectingDispatcher()
    await ActionConfirmPayment().run(
        dispatcher, make_tracker(alex, slots=slots, intent="affirm", text="yes"), domain
    )
    assert dispatcher.messages[0]["response"] == "utter_payment_succeeded"
    assert dispatcher.messages[0]["v_amount_text"] == "€2.00"


async def test_another_users_tap_does_nothing(
    service: PaymentsService, domain: dict[str, Any], alex: str, dana: str
) -> None:
    _, b, slots = await summaries_a_then_b(domain, alex)
    dispatcher, _ = await tap(domain, dana, {}, b, "Confirm")
    assert dispatcher.messages[0]["response"] in {
        "utter_error_confirmation_invalid",
        "utter_error_payment_not_found",
    }
    assert status(service, alex, slots["pending_payment_id"]) == "draft"


@pytest.mark.parametrize(
    ("amount", "response"),
    [
        ("0.30", "utter_error_amount_below_minimum"),
        ("€0.49", "utter_error_amount_below_minimum"),
        ("-20", "utter_error_amount_not_positive"),
        ("3000 yen", "utter_error_amount_currency_mismatch"),
        ("$20", "utter_error_amount_currency_mismatch"),
        ("2.499", "utter_error_amount_too_precise"),
        ("\u201320", "utter_error_amount_not_positive"),
        ("-€5", "utter_error_amount_not_positive"),
        ("₽20", "utter_error_amount_currency_mismatch"),
        ("20 Fr.", "utter_error_amount_currency_mismatch"),
        ("20 euro cents", "utter_error_amount_below_minimum"),
        ("€20 cents", "utter_error_amount_ambiguous"),
        ("1e3", "utter_error_amount_notation"),
    ],
)
async def test_amounts_the_gateway_cannot_charge_are_refused_before_a_summary(
    service: PaymentsService, domain: dict[str, Any], alex: str, amount: str, response: str
) -> None:
    dispatcher = CollectingDispatcher()
    slots = {"biller": "phone", "amount": amount}
    tracker = make_tracker(alex, slots=slots, entities=[{"entity": "amount", "value": amount}])
    events = slot_events(await ActionPreparePayment().run(dispatcher, tracker, domain))
    [message] = dispatcher.messages
    assert message["response"] == response
    assert events["amount"] is None and events["pending_payment_id"] is None  # asked again
    text = as_rasa_says(domain, message)["text"]
    assert "{" not in text
    if response.endswith("below_minimum"):
        assert "€0.50" in text
    if response.endswith("currency_mismatch"):
        assert "EUR" in text


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("pay vodafone in rubles", [("biller", 4, 12)]),
        ("pay vodafone \u2013 5 please", [("biller", 4, 12)]),
        ("pay ₽ to vodafone", [("biller", 9, 17)]),
    ],
)
async def test_money_no_amount_span_holds_is_refused_not_paid_in_full(
    service: PaymentsService,
    domain: dict[str, Any],
    alex: str,
    text: str,
    entities: list[tuple[str, int, int]],
) -> None:
    """An amount written but not read never becomes "pay the whole bill": the amount is asked for."""
    dispatcher = CollectingDispatcher()
    spans = [{"entity": name, "value": text[a:b], "start": a, "end": b} for name, a, b in entities]
    tracker = make_tracker(alex, slots={"biller": "phone"}, entities=spans, text=text)
    events = slot_events(await ActionPreparePayment().run(dispatcher, tracker, domain))
    [message] = dispatcher.messages
    assert message["response"] == "utter_error_amount_unread"
    assert events["pending_payment_id"] is None and not message.get("buttons")
    said = as_rasa_says(domain, message)["text"]
    assert "{" not in said and "EUR" in said


async def test_numbers_inside_entity_spans_are_not_unread_money(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    text = "pay vodafone tomorrow"
    spans = [
        {"entity": "biller", "value": "vodafone", "start": 4, "end": 12},
        {"entity": "date", "value": "tomorrow", "start": 13, "end": 21},
    ]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(alex, slots={"biller": "phone"}, entities=spans, text=text)
    await ActionPreparePayment().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_payment_summary"
