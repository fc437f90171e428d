"""Forms: the biller a user names must match one open bill (payments.find_bill decides); asking for it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import call_as_sender, guarded, response_text, slots_cleared_after, utter
from actions.services import get_services


async def resolve_biller(slot_value: Any, tracker: Tracker) -> dict[str, Any]:
    """Keep the bill's biller name and id; a refusal is worded by `@guarded` and the biller re-asked."""
    bill = await call_as_sender(tracker, get_services().find_bill, biller_text=str(slot_value))
    return {"biller": bill.biller_name, "bill_id": str(bill.id)}


class _BillerFormValidation(FormValidationAction, ABC):
    """A form whose biller must name one of the user's open bills (the rest is payments' job)."""

    @abstractmethod
    def name(self) -> str:
        """Action name used in domain.yml."""

    @guarded(forget=slots_cleared_after)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """rasa-sdk's form validation, with refusals and failures answered (actions.common.guarded)."""
        return await super().run(dispatcher, tracker, domain)

    async def validate_biller(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        """The named biller must have an open bill."""
        return await resolve_biller(slot_value, tracker)


class ValidatePayBillForm(_BillerFormValidation):
    """Validates pay_bill_form."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "validate_pay_bill_form"


class ValidateSchedulePaymentForm(_BillerFormValidation):
    """Validates schedule_payment_form (the date is checked by payments when drafting)."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "validate_schedule_payment_form"


class ActionAskBiller(Action):
    """Ask which bill to pay, offering the user's open bills as buttons."""

    def name(self) -> str:
        """Rasa's forms call `action_ask_<slot>` when it exists."""
        return "action_ask_biller"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call open_bills and show one button per bill (the question is asked even without bills)."""
        bills = await call_as_sender(tracker, get_services().open_bills)
        buttons = [
            {
                "title": response_text(
                    domain,
                    "utter_bill_button",
                    {"biller_name": bill.biller_name, "outstanding_text": bill.outstanding_text},
                ),
                "payload": '/inform{"biller": "' + bill.biller_name.replace('"', "") + '"}',
            }
            for bill in bills
        ]
        utter(dispatcher, "utter_ask_biller", buttons=buttons)
        return []
