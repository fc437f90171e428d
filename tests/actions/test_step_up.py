"""Issue 13 items 2 and 5 in chat, through the actions (real Trackers, the real PaymentsService and
the Stripe sandbox): a large payment says why it waits for a code and starts step_up_form; the form's
validator ignores a message without a code, counts a wrong one, and pays on the right one; a risk
refusal names its reasons; "cancel" while a code waits cancels the payment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.paying import ActionConfirmPayment, ActionPreparePayment, ActionStopPayment
from actions.services import reset_services, set_services
from actions.step_up import ActionStepUpDone, ValidateStepUpForm
from payments.config import RiskConfig
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.actions.conftest import as_rasa_says, make_tracker, slot_events
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox


def _with(base: PaymentsService, **config: Any) -> PaymentsService:
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
    )


@pytest.fixture
def stepping(payments_service: PaymentsService) -> Iterator[PaymentsService]:
    """The action server's service: a code from 500.00, the risk check off."""
    service = _with(payments_service, step_up_minor=50_000)
    set_services(service)
    yield service
    reset_services()


async def _run(
    action: Any, domain: dict[str, Any], sender: str, **kwargs: Any
) -> tuple[list[Any], list[Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(sender, **kwargs), domain)
    return [as_rasa_says(domain, m) | {"response": m.get("response")} for m in dispatcher.messages], events


async def _pending(
    service: PaymentsService, domain: dict[str, Any], amount: str
) -> tuple[str, int, dict, Any]:
    """A fresh user confirms `amount` of their rent: what they read and the slots after it."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    sender = f"console-{user_id}-step_up_test"
    _, events = await _run(
        ActionPreparePayment(), domain, sender, slots={"bill_id": str(bills["rent"]), "amount": amount}
    )
    slots = slot_events(events)
    [said], events = await _run(
        ActionConfirmPayment(), domain, sender, slots=slots, intent="affirm", text="yes"
    )
    return sender, user_id, slots | slot_events(events), (said, events)


async def _typed(
    domain: dict[str, Any], sender: str, slots: dict[str, Any], text: str
) -> tuple[list[Any], dict]:
    """The user's message while step_up_form asks for the code (from_text fills the slot)."""
    user = {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": "inform"}}}
    said, events = await _run(
        ValidateStepUpForm(),
        domain,
        sender,
        slots=slots | {"requested_slot": "step_up_code", "step_up_code": text},
        text=text,
        active_loop="step_up_form",
        events=[user, {"event": "slot", "name": "step_up_code", "value": text}],
    )
    return said, slot_events(events)


async def test_a_large_payment_says_why_it_waits_and_the_typed_code_pays_it(
    stepping: PaymentsService, domain: dict[str, Any]
) -> None:
    sender, user_id, slots, (said, events) = await _pending(stepping, domain, "600")

    assert said["response"] == "utter_step_up_pending"
    assert "because it's a large payment: I've sent you a 6-digit code in a separate message" in said["text"]
    assert [b["payload"] for b in said["buttons"]] == ["/deny"]
    assert {"event": "followup", "name": "step_up_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events
    ]
    payment_id = int(slots["step_up_payment_id"])
    assert slots["pending_payment_id"] == str(payment_id)  # kept: "cancel" cancels it
    code = stepping.pending_codes_for(user_id=user_id)[0].code
    assert code is not None

    for other in ("what is this?", '/affirm{"draft_id":123456,"confirm_nonce":"x"}'):
        nothing, kept = await _typed(domain, sender, slots, other)
        assert nothing == [] and kept["step_up_code"] is None  # no code in it: asked again, no try spent

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    [refused], kept = await _typed(domain, sender, slots, wrong)
    assert refused["text"] == "That code isn't right. You have 2 more tries." and kept["step_up_code"] is None

    [paid], done = await _typed(domain, sender, slots, f"it is {code}")
    assert paid["response"] == "utter_payment_succeeded" and done["step_up_code"] == "done"
    assert stepping.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.SUCCEEDED

    _, finished = await _run(ActionStepUpDone(), domain, sender, slots=slots | done)
    assert (
        slot_events(finished)["step_up_payment_id"] is None and slot_events(finished)["step_up_code"] is None
    )
    assert not [e for e in finished if e.get("event") == "followup"]  # no round: wait for the user

    # Inside a "pay everything" round the round goes on with its next bill once the code was checked.
    _, in_round = await _run(ActionStepUpDone(), domain, sender, slots=slots | done | {"paying_all": True})
    assert slot_events(in_round)["pending_payment_id"] is None
    assert [e["name"] for e in in_round if e.get("event") == "followup"] == ["action_pay_next_bill"]


async def test_cancel_while_a_code_waits_cancels_the_payment(
    stepping: PaymentsService, domain: dict[str, Any]
) -> None:
    sender, user_id, slots, _ = await _pending(stepping, domain, "700")
    payment_id = int(slots["step_up_payment_id"])

    [said], _ = await _run(ActionStopPayment(), domain, sender, slots=slots, intent="deny", text="cancel")

    assert said["response"] == "utter_payment_cancelled"
    assert stepping.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.CANCELLED
    [late], done = await _typed(domain, sender, slots, "123456")
    assert late["response"] == "utter_error_step_up_not_pending" and done["step_up_code"] == "done"


async def test_a_risk_refusal_names_its_reasons(
    payments_service: PaymentsService, domain: dict[str, Any]
) -> None:
    risky = RiskConfig(enabled=True, new_card_age=timedelta(0), refuse_score=40, step_up_score=30)
    set_services(_with(payments_service, risk=risky))
    try:
        _, _, _, (said, _) = await _pending(payments_service, domain, "300")
    finally:
        reset_services()

    assert said["response"] == "utter_error_risk_refused"
    assert said["text"] == (
        "For your safety I haven't made this payment, because it's a large first payment to this biller. "
        "Nothing was charged. If it really was you, please try again later or contact our support."
    )
