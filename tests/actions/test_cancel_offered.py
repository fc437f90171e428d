"""A reply that says a confirmed payment can still be cancelled, then the user's "cancel".

Held by the time lock ("just say “cancel”"), scheduled ("You can cancel it until then") or waiting
for a second approval ("you can still cancel it"): the next "cancel" / "stop" / "no, don't" /
"undo" cancels THAT payment. The intents are the ones the trained model gives those words
(checked with rasa_project/models: "cancel", "call it off" → stop; "no, don't" → deny; "undo" →
cancel_payment); the rules send stop and deny to action_stop_payment, cancel_payment to
action_cancel_payment. Never "Alright" while the payment just offered still runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.bills import ActionCancelPayment
from actions.common import CANCELLABLE_SLOT
from actions.paying import ActionConfirmPayment, ActionPreparePayment, ActionStopPayment
from actions.services import reset_services, set_services
from db.models import utcnow
from payments import worker
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.actions.conftest import as_rasa_says, make_tracker, slot_events
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox

LOCK = timedelta(minutes=10)

# (action the rules run for the intent, the intent the trained model gives, the words).
SAID_CANCEL = [
    pytest.param(ActionStopPayment, "stop", "cancel", id="cancel-stop"),
    pytest.param(ActionStopPayment, "stop", "call it off", id="call-it-off-stop"),
    pytest.param(ActionStopPayment, "stop", "/stop", id="telegram-cancel-command"),
    pytest.param(ActionStopPayment, "deny", "no, don't", id="no-dont-deny"),
    pytest.param(ActionCancelPayment, "cancel_payment", "undo", id="undo-cancel_payment"),
]


def _with(base: PaymentsService, shift: timedelta = timedelta(0), **config: Any) -> PaymentsService:
    """The shared test service with `config` changed (and its clock moved by `shift`)."""
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
        clock=lambda: utcnow() + shift,
    )


@pytest.fixture
def installed(payments_service: PaymentsService) -> Iterator[Any]:
    """Install a service built from the shared one as the action server's; reset after."""

    def install(**config: Any) -> PaymentsService:
        service = _with(payments_service, **config)
        set_services(service)
        return service

    yield install
    reset_services()


async def _run(
    action: Any, domain: dict[str, Any], sender: str, **kwargs: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run an action on a real Tracker: (what the user reads, with its response name; slots set)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(sender, **kwargs), domain)
    said = [as_rasa_says(domain, m) | {"response": m.get("response")} for m in dispatcher.messages]
    return said, slot_events(events)


async def _confirmed(
    service: PaymentsService, domain: dict[str, Any], **slots: str
) -> tuple[str, int, dict[str, Any], dict[str, Any]]:
    """A fresh payer drafts a phone payment with `slots` and confirms it by "yes":
    (sender, payment id, the outcome said, the slots after the outcome; `paid_bill_id` the bill's id)."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("phone", 9_000),))
    sender = f"console-{user_id}-cancel_offered"
    [_], drafted = await _run(
        ActionPreparePayment(), domain, sender, slots={"bill_id": str(bills["phone"]), **slots}
    )
    payment_id = int(drafted["pending_payment_id"])
    [outcome], after = await _run(
        ActionConfirmPayment(), domain, sender, slots=drafted, intent="affirm", text="yes"
    )
    return sender, payment_id, outcome, {**drafted, **after, "paid_bill_id": str(bills["phone"])}


def _status(service: PaymentsService, sender: str, payment_id: int) -> PaymentStatus:
    user_id = service.user_id_for_sender(sender_id=sender)
    return PaymentStatus(service.get_payment(user_id=user_id, payment_id=payment_id).status)


@pytest.mark.parametrize(("action", "intent", "text"), SAID_CANCEL)
async def test_cancel_after_the_held_reply_cancels_the_held_payment(
    installed: Any,
    payments_service: PaymentsService,
    domain: dict[str, Any],
    action: Any,
    intent: str,
    text: str,
) -> None:
    service = installed(time_lock=LOCK)
    sender, payment_id, held, slots = await _confirmed(service, domain, amount="30")
    assert held["response"] == "utter_payment_held" and "just say “cancel”" in held["text"]
    assert slots[CANCELLABLE_SLOT] == str(payment_id)
    assert slots["pending_payment_id"] is None  # confirming ended the draft: only the offer is left

    [answer], after = await _run(action(), domain, sender, slots=slots, intent=intent, text=text)

    assert answer["response"] == "utter_payment_cancelled_named", answer
    assert answer["text"].startswith("Cancelled: €30.00 to ") and "Nothing will be charged" in answer["text"]
    assert after[CANCELLABLE_SLOT] is None
    assert _status(service, sender, payment_id) == PaymentStatus.CANCELLED
    # After the window a worker round charges nothing.
    worker.run_round(_with(payments_service, LOCK + timedelta(minutes=1), time_lock=LOCK))
    result = service.get_payment(user_id=service.user_id_for_sender(sender_id=sender), payment_id=payment_id)
    assert result.status == PaymentStatus.CANCELLED and result.payment_intent_id is None


async def test_cancel_after_the_scheduled_reply_cancels_the_scheduled_payment(
    installed: Any, domain: dict[str, Any]
) -> None:
    service = installed()
    sender, payment_id, scheduled, slots = await _confirmed(service, domain, amount="30", date="tomorrow")
    assert scheduled["response"] == "utter_payment_scheduled" and "cancel it" in scheduled["text"]

    [answer], _ = await _run(ActionStopPayment(), domain, sender, slots=slots, intent="stop", text="cancel")

    assert answer["response"] == "utter_payment_cancelled_named"
    assert _status(service, sender, payment_id) == PaymentStatus.CANCELLED


async def test_no_after_the_awaiting_approval_reply_withdraws_the_payment(
    installed: Any, domain: dict[str, Any]
) -> None:
    service = installed(second_approval_minor=2_000)
    sender, payment_id, waiting, slots = await _confirmed(service, domain, amount="30")
    assert waiting["response"] == "utter_payment_awaiting_approval" and "cancel it" in waiting["text"]

    [answer], _ = await _run(
        ActionStopPayment(), domain, sender, slots=slots, intent="deny", text="no, don't"
    )

    assert answer["response"] == "utter_payment_cancelled_named"
    assert _status(service, sender, payment_id) == PaymentStatus.CANCELLED


async def test_a_payment_that_went_through_is_not_cancelled_and_not_answered_alright(
    installed: Any, payments_service: PaymentsService, domain: dict[str, Any]
) -> None:
    service = installed(time_lock=LOCK)
    sender, payment_id, _, slots = await _confirmed(service, domain, amount="30")
    worker.run_round(_with(payments_service, LOCK + timedelta(minutes=1), time_lock=LOCK))
    assert _status(service, sender, payment_id) == PaymentStatus.SUCCEEDED

    [answer], after = await _run(
        ActionStopPayment(), domain, sender, slots=slots, intent="stop", text="cancel"
    )

    assert answer["response"] == "utter_error_payment_not_pending"  # says it is too late, not "Alright"
    assert after[CANCELLABLE_SLOT] is None
    assert _status(service, sender, payment_id) == PaymentStatus.SUCCEEDED


async def test_an_offered_id_of_another_user_cancels_nothing(installed: Any, domain: dict[str, Any]) -> None:
    service = installed(time_lock=LOCK)
    owner, payment_id, _, _ = await _confirmed(service, domain, amount="30")
    other, _, _, slots = await _confirmed(service, domain, amount="20")

    forged = {**slots, CANCELLABLE_SLOT: str(payment_id)}
    [answer], _ = await _run(ActionStopPayment(), domain, other, slots=forged, intent="stop", text="cancel")

    assert answer["response"] == "utter_error_payment_not_found"
    assert _status(service, owner, payment_id) == PaymentStatus.APPROVED


async def test_a_new_summary_is_what_cancel_means_next(installed: Any, domain: dict[str, Any]) -> None:
    service = installed(time_lock=LOCK)
    sender, held_id, _, slots = await _confirmed(service, domain, amount="30")

    again = {**slots, "bill_id": slots["paid_bill_id"], "amount": "10"}
    [_], drafted = await _run(ActionPreparePayment(), domain, sender, slots=again)
    assert drafted[CANCELLABLE_SLOT] is None
    [answer], _ = await _run(
        ActionStopPayment(), domain, sender, slots={**slots, **drafted}, intent="stop", text="cancel"
    )

    assert answer["response"] == "utter_payment_cancelled"  # the summary shown, not the held payment
    assert _status(service, sender, int(drafted["pending_payment_id"])) == PaymentStatus.CANCELLED
    assert _status(service, sender, held_id) == PaymentStatus.APPROVED


async def test_with_a_summary_waiting_too_cancel_asks_which_and_changes_nothing(
    installed: Any, domain: dict[str, Any]
) -> None:
    """A pay-everything round shows the next bill's summary right after "you can still cancel it"
    (action_pay_next_bill keeps the offer): "cancel" could mean either, so it asks."""
    service = installed(time_lock=LOCK)
    sender, held_id, _, slots = await _confirmed(service, domain, amount="30")
    again = {**slots, "bill_id": slots["paid_bill_id"], "amount": "10"}
    [_], drafted = await _run(ActionPreparePayment(), domain, sender, slots=again)
    both = {**slots, **drafted, CANCELLABLE_SLOT: str(held_id), "paying_all": True}

    [ask], after = await _run(ActionStopPayment(), domain, sender, slots=both, intent="stop", text="cancel")

    assert ask["response"] == "utter_ask_which_to_cancel"
    assert ask["text"].startswith("Which one should I cancel? The €30.00 to ")
    assert [b["payload"] for b in ask["buttons"]] == [f'/cancel_payment{{"payment_id": "{held_id}"}}']
    assert after == {}  # the summary (and the round) go on; the offer is kept
    draft_id = int(drafted["pending_payment_id"])
    assert _status(service, sender, held_id) == PaymentStatus.APPROVED
    assert _status(service, sender, draft_id) == PaymentStatus.DRAFT

    # The button: that payment is cancelled, the summary still waits.
    [done], later = await _run(
        ActionCancelPayment(),
        domain,
        sender,
        slots={**both, "payment_id": str(held_id)},
        intent="cancel_payment",
        text=ask["buttons"][0]["payload"],
    )
    assert done["response"] == "utter_payment_cancelled_named"
    assert later[CANCELLABLE_SLOT] is None
    assert _status(service, sender, held_id) == PaymentStatus.CANCELLED
    assert _status(service, sender, draft_id) == PaymentStatus.DRAFT


async def test_an_offer_answers_only_the_next_message_a_later_no_cancels_nothing(
    installed: Any, domain: dict[str, Any]
) -> None:
    """Outside review: the offer must not stay live. A "no" typed turns later, about something else,
    leaves the scheduled payment alone (the slot is still set; its SlotSet is older than the user's
    previous message)."""
    service = installed()
    sender, payment_id, scheduled, slots = await _confirmed(service, domain, amount="30", date="tomorrow")
    assert scheduled["response"] == "utter_payment_scheduled"
    events = [
        {"event": "slot", "name": CANCELLABLE_SLOT, "value": str(payment_id)},
        {"event": "user", "text": "what did I pay last month?", "parse_data": {}},
        {"event": "bot", "text": "Here is your history"},
        {"event": "user", "text": "no", "parse_data": {}},
    ]

    await _run(ActionStopPayment(), domain, sender, slots=slots, intent="deny", text="no", events=events)

    assert _status(service, sender, payment_id) == PaymentStatus.APPROVED
