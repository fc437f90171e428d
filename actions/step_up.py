"""The user's one-time code in chat (issue 13, step-up): thin glue to payments.verify_step_up_code.

When a confirmation needs the code, `action_confirm_payment` says why (`utter_step_up_pending`)
and starts `step_up_form`; so does `action_confirm_mandate` for an autopay that can move a large
amount (`utter_mandate_step_up_pending`; the code typed then switches the autopay on). Its one
slot, `step_up_code`, is filled `from_text` while the form is active, whatever the NLU makes of
"482913" (an amount, a bill reference, an unknown intent): the form, not the intent classifier,
decides where the next message goes; only deny / stop / cancel_payment leave it (rules: the payment
is cancelled, or the autopay offer withdrawn). A message without 6 digits is asked
again and costs no try. The slot never keeps the code: it is set to "done" once the code was checked.
Inside a "pay everything" round, `action_step_up_done` hands over to `action_pay_next_bill`, so the
round goes on after the code (whatever came of it).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    CANCELLABLE_SLOT,
    WRONG_CODE,
    call_as_sender,
    guarded,
    moment_text,
    payment_finished,
    response_text,
    utter,
)
from actions.services import get_services
from payments.errors import PaymentsError
from payments.mandate_step_up import MandateCodePending
from payments.mandates import MandateView
from payments.step_up import code_in
from payments.views import PaymentResult, StepUpView

FORM = "step_up_form"
CODE_SLOT = "step_up_code"
PAYMENT_SLOT = "step_up_payment_id"
# The autopay offer waiting for its code (a mandate's code is checked as the user's latest one).
MANDATE_SLOT = "step_up_mandate_offer"
# What the code slot holds once the code was checked (never the code itself).
DONE = "done"


def reasons_text(domain: dict[str, Any], reasons: tuple[str, ...] | list[str]) -> str:
    """The reason codes worded (`utter_step_up_reason_<code>`), joined with `utter_reasons_joiner`."""
    words = [response_text(domain, f"utter_step_up_reason_{code}") for code in reasons]
    if len(words) <= 1:
        return "".join(words)
    return (
        response_text(domain, "utter_reasons_joiner").join(words[:-1])
        + response_text(domain, "utter_reasons_last_joiner")
        + words[-1]
    )


def start_step_up(
    dispatcher: CollectingDispatcher, domain: dict[str, Any], result: PaymentResult, step_up: StepUpView
) -> list[EventType]:
    """Say what is pending and why, then hand the next message to `step_up_form`."""
    utter(
        dispatcher,
        "utter_step_up_pending",
        {
            "amount_text": step_up.amount_text,
            "biller_name": step_up.biller_name,
            "reasons": reasons_text(domain, step_up.reasons),
            "expires": moment_text(domain, step_up.expires_at),
        },
        buttons=[{"title": response_text(domain, "utter_button_cancel"), "payload": "/deny"}],
    )
    return [SlotSet(PAYMENT_SLOT, str(result.payment_id)), SlotSet(MANDATE_SLOT, None), FollowupAction(FORM)]


def start_mandate_step_up(
    dispatcher: CollectingDispatcher, domain: dict[str, Any], pending: MandateCodePending
) -> list[EventType]:
    """An autopay waits for the user's code: say so (what it may move, why, until when), then hand
    the next message to `step_up_form`."""
    response = "utter_mandate_step_up_pending"
    if pending.is_change:
        response = "utter_mandate_change_step_up_pending"
    utter(
        dispatcher,
        response,
        {
            "biller_name": pending.biller_name,
            "cap_text": pending.cap_text,
            "budget_text": pending.budget_text,
            "reasons": reasons_text(domain, pending.reasons),
            "expires": moment_text(domain, pending.expires_at),
        },
        buttons=[{"title": response_text(domain, "utter_button_cancel"), "payload": "/deny"}],
    )
    return [SlotSet(PAYMENT_SLOT, None), SlotSet(MANDATE_SLOT, str(pending.offer_id)), FollowupAction(FORM)]


def mandate_code_withdrawn() -> list[EventType]:
    """The autopay offer waiting for its code was withdrawn: the code form ends, its slots cleared
    (nothing else of the conversation: a payment summary shown earlier stays as it was)."""
    return [
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        SlotSet(PAYMENT_SLOT, None),
        SlotSet(MANDATE_SLOT, None),
        SlotSet(CODE_SLOT, None),
    ]


async def withdraw_waiting_mandate(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The user says cancel while an autopay waits for its code: that offer (and its code) goes —
    only that one (no nonce: the user's newest offer, refused as stale unless it is the slot's)."""
    offer_id = int(str(tracker.get_slot(MANDATE_SLOT)))
    await call_as_sender(tracker, get_services().mandates.cancel_offer, offer_id=offer_id, nonce=None)
    utter(dispatcher, "utter_mandate_offer_cancelled")
    return mandate_code_withdrawn()


def _finish_unless_wrong(error: PaymentsError, tracker: Tracker) -> list[EventType]:
    """A wrong code is asked again; any other refusal (failed, expired, none pending) ends the form."""
    return [] if error.code in WRONG_CODE else [SlotSet(CODE_SLOT, DONE)]


class ValidateStepUpForm(FormValidationAction):
    """Checks the typed code through payments and tells the outcome."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "validate_step_up_form"

    @guarded(forget=_finish_unless_wrong)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """rasa-sdk's form validation, refusals worded by code (actions.common.guarded)."""
        return await super().run(dispatcher, tracker, domain)

    async def validate_step_up_code(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """6 digits → payments.verify_step_up_code → the payment's outcome; anything else: ask again."""
        from actions.mandates import mandate_values
        from actions.paying import CANCELLABLE_RESPONSES, result_response, result_values

        typed = str(slot_value or "")
        # A button's payload ("/affirm{"draft_id": …}") is a tap on an older message, never a code.
        code = None if typed.startswith("/") or typed == DONE else code_in(typed)
        if code is None:
            return {CODE_SLOT: None}
        pending = tracker.get_slot(PAYMENT_SLOT)
        result = await call_as_sender(
            tracker,
            get_services().verify_step_up_code,
            code_text=code,
            payment_id=int(pending) if pending else None,
        )
        if isinstance(result, MandateView):  # an autopay's code: it is on now
            utter(dispatcher, "utter_mandate_confirmed", mandate_values(result))
            return {CODE_SLOT: DONE, MANDATE_SLOT: None}
        response = result_response(result)
        utter(dispatcher, response, result_values(domain, result))
        # Held, scheduled or awaiting approval after the code: a following "cancel" means this one.
        offered = str(result.payment_id) if response in CANCELLABLE_RESPONSES else None
        return {CODE_SLOT: DONE, CANCELLABLE_SLOT: offered}


class ActionStepUpDone(Action):
    """The code was checked (or refused for good): the payment in progress ends, nothing said; in a
    "pay everything" round, the round goes on with its next bill (`action_pay_next_bill`)."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_step_up_done"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Clear the payment and code slots; in a round, offer its next bill (or its report)."""
        if tracker.get_slot("paying_all"):
            return [*payment_finished(), FollowupAction("action_pay_next_bill")]
        return payment_finished()
