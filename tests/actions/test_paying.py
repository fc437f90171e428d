"""Paying through the actions with real Trackers, the real PaymentsService and the Stripe sandbox."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.paying import ActionConfirmPayment, ActionPreparePayment, ActionStopPayment
from actions.services import set_services
from db.models import Consent
from payments.service import PaymentsService
from tests.actions.conftest import SOMEONE, as_rasa_says, make_tracker, slot_events

pytestmark = pytest.mark.sandbox


async def prepare(
    domain: dict[str, Any], sender: str, **slots: Any
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    """Run action_prepare_payment with these slots; return what it said and the slots it set."""
    dispatcher = CollectingDispatcher()
    entities = [{"entity": "biller", "value": slots["biller"]}] if "biller" in slots else []
    events = await ActionPreparePayment().run(
        dispatcher, make_tracker(sender, slots=slots, entities=entities), domain
    )
    return dispatcher, slot_events(events)


async def confirm(domain: dict[str, Any], sender: str, slots: dict[str, Any]) -> CollectingDispatcher:
    """Run action_confirm_payment on the slots action_prepare_payment set."""
    dispatcher = CollectingDispatcher()
    await ActionConfirmPayment().run(dispatcher, make_tracker(sender, slots=slots, intent="affirm"), domain)
    return dispatcher


async def test_summary_names_biller_amount_and_card(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    dispatcher, slots = await prepare(domain, alex, biller="electricity", amount="1")
    [message] = dispatcher.messages
    assert message["response"] == "utter_payment_summary"
    shown = as_rasa_says(domain, message)["text"]
    assert "Stadtwerke" in shown and "Visa •••• 4242" in shown and "€1.00" in shown and "today (" in shown
    assert slots["pending_payment_id"] and slots["payment_summary"] == shown == message["v_summary_text"]
    assert slots["biller"] == "Stadtwerke" and slots["bill_id"]


async def test_confirm_charges_once_and_shows_receipt(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, slots = await prepare(domain, alex, biller="phone", amount="1")
    dispatcher = await confirm(domain, alex, slots)
    [message] = dispatcher.messages
    assert message["response"] == "utter_payment_succeeded"
    assert as_rasa_says(domain, message)["text"].startswith("Done ✅ Paid €1.00 to Vodafone.\n\n🧾 Receipt ")
    user_id = service.user_id_for_sender(sender_id=alex)
    result = service.get_payment(user_id=user_id, payment_id=int(slots["pending_payment_id"]))
    assert result.status == "succeeded" and (result.payment_intent_id or "").startswith("pi_")


async def test_confirm_ends_the_payment_in_progress(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, slots = await prepare(domain, alex, biller="water", amount="1")
    events = await ActionConfirmPayment().run(
        CollectingDispatcher(), make_tracker(alex, slots=slots, intent="affirm"), domain
    )
    assert all(value is None for value in slot_events(events).values())


async def test_declined_card_shows_the_reason(
    service: PaymentsService, domain: dict[str, Any], dana: str
) -> None:
    _, slots = await prepare(domain, dana, biller="water", amount="1")
    dispatcher = await confirm(domain, dana, slots)
    [message] = dispatcher.messages
    assert message["response"] == "utter_payment_failed"
    reply = as_rasa_says(domain, message)["text"]
    assert "declined" in reply and reply.endswith("Nothing was charged.") and "{" not in reply


async def test_three_d_secure_sends_the_link(
    service: PaymentsService, domain: dict[str, Any], sam: str
) -> None:
    _, slots = await prepare(domain, sam, biller="internet", amount="1")
    dispatcher = await confirm(domain, sam, slots)
    [message] = dispatcher.messages
    assert message["response"] == "utter_payment_requires_action"
    assert message["v_next_action_url"].startswith("http")
    assert message["v_next_action_url"] in as_rasa_says(domain, message)["text"]


async def test_amount_above_outstanding_is_refused_and_forgotten(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    user_id = service.user_id_for_sender(sender_id=alex)
    owed = service.find_bill(user_id=user_id, biller_text="electricity").outstanding.amount_minor
    # One cent more than is owed: far below any limit, so only "more than you owe" can apply.
    above = owed + 1
    amount = f"{above // 100}.{above % 100:02d} €"
    dispatcher, slots = await prepare(domain, alex, biller="electricity", amount=amount)
    [message] = dispatcher.messages
    assert message["response"] == "utter_error_amount_above_outstanding"
    assert slots["amount"] is None and slots["pending_payment_id"] is None


async def test_unknown_biller_is_refused(service: PaymentsService, domain: dict[str, Any], alex: str) -> None:
    dispatcher, slots = await prepare(domain, alex, biller="dragon taxes")
    [message] = dispatcher.messages
    assert message["response"] == "utter_error_biller_unknown"
    assert slots["biller"] is None and slots["bill_id"] is None


async def test_unknown_sender_is_told_so(service: PaymentsService, domain: dict[str, Any]) -> None:
    dispatcher, _ = await prepare(domain, "tg-999999999", biller="electricity")
    assert dispatcher.messages[0]["response"] == "utter_error_user_unknown"


async def test_correction_replaces_the_shown_draft(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, first = await prepare(domain, alex, biller="electricity", amount="1")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        alex, slots={**first, "amount": "2"}, entities=[{"entity": "amount", "value": "2"}]
    )
    second = slot_events(await ActionPreparePayment().run(dispatcher, tracker, domain))
    assert "€2.00" in dispatcher.messages[0]["v_summary_text"]
    assert second["pending_payment_id"] != first["pending_payment_id"]
    user_id = service.user_id_for_sender(sender_id=alex)
    old = service.get_payment(user_id=user_id, payment_id=int(first["pending_payment_id"]))
    assert old.status == "cancelled"


async def test_stop_cancels_the_pending_draft(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, slots = await prepare(domain, alex, biller="rent", amount="1")
    dispatcher = CollectingDispatcher()
    events = await ActionStopPayment().run(dispatcher, make_tracker(alex, slots=slots, intent="deny"), domain)
    assert dispatcher.messages[0]["response"] == "utter_payment_cancelled"
    assert all(value is None for value in slot_events(events).values())
    user_id = service.user_id_for_sender(sender_id=alex)
    payment = service.get_payment(user_id=user_id, payment_id=int(slots["pending_payment_id"]))
    assert payment.status == "cancelled"


async def test_stop_with_nothing_going_on_changes_nothing(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionStopPayment().run(dispatcher, make_tracker(alex, intent="deny"), domain)
    assert dispatcher.messages[0]["response"] == "utter_nothing_in_progress"


async def test_stop_right_after_leaving_a_form_says_stopped(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    events = [{"event": "user", "text": "stop"}, {"event": "active_loop", "name": None}]
    await ActionStopPayment().run(dispatcher, make_tracker(SOMEONE, intent="stop", events=events), domain)
    assert dispatcher.messages[0]["response"] == "utter_stopped"


async def test_large_payment_waits_for_second_approval(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    strict = PaymentsService(
        session_factory=service.session_factory,
        gateway=service.gateway,
        config=dataclasses.replace(service.config, second_approval_minor=100),
    )
    set_services(strict)
    _, slots = await prepare(domain, alex, biller="internet", amount="2")
    dispatcher = await confirm(domain, alex, slots)
    [message] = dispatcher.messages
    assert message["response"] == "utter_payment_awaiting_approval"
    assert message["v_amount_text"] == "€2.00"
    user_id = service.user_id_for_sender(sender_id=alex)
    result = service.get_payment(user_id=user_id, payment_id=int(slots["pending_payment_id"]))
    assert result.status == "awaiting_approval" and result.payment_intent_id is None


async def test_the_consent_keeps_the_summary_shown_and_the_users_tap(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    _, slots = await prepare(domain, alex, biller="phone", amount="1")
    tracker = make_tracker(alex, slots=slots, intent="affirm", text="/affirm")
    await ActionConfirmPayment().run(CollectingDispatcher(), tracker, domain)
    with service.session_factory() as session:
        consent = session.execute(
            select(Consent).where(Consent.payment_id == int(slots["pending_payment_id"]))
        ).scalar_one()
    assert consent.summary_text == slots["payment_summary"]
    assert consent.confirmation == "/affirm"
