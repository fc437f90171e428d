"""Actions that draft, confirm and stop a payment — thin glue from tracker to payments/.

The summary shown before a charge is `PaymentSummary.summary_text` verbatim; the same text is kept
in the `payment_summary` slot and passed to `confirm_payment` as the user's consent.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    call,
    current_user_id,
    guarded,
    latest_entity_values,
    payment_finished,
    slots_cleared_after,
    utter_error,
)
from actions.services import get_services
from payments.errors import PaymentsError

# Which response tells the user how a confirmed payment ended, by PaymentStatus value.
RESULT_RESPONSES = {
    "succeeded": "utter_payment_succeeded",
    "approved": "utter_payment_scheduled",
    "failed": "utter_payment_failed",
    "requires_action": "utter_payment_requires_action",
    "processing": "utter_payment_processing",
    "unknown": "utter_payment_processing",
    "cancelled": "utter_payment_cancelled",
    "awaiting_approval": "utter_payment_awaiting_approval",
}


class ActionPreparePayment(Action):
    """Draft the payment from the slots and show the summary with Confirm / Change / Cancel."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_prepare_payment"

    @guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Draft via payments.prepare_payment (replacing the summary shown before) and summarise."""
        service = get_services()
        previous = tracker.get_slot("pending_payment_id")
        bill_id = tracker.get_slot("bill_id")
        # The bill is looked up again only when the user just named a biller (or none is known yet).
        named = latest_entity_values(tracker, "biller") or not bill_id
        try:
            user_id = await current_user_id(tracker)
            summary = await call(
                service.prepare_payment,
                user_id=user_id,
                biller_text=(tracker.get_slot("biller") or "") if named else None,
                bill_id=int(bill_id) if bill_id else None,
                amount_text=tracker.get_slot("amount"),
                date_text=tracker.get_slot("date"),
                replacing_payment_id=int(previous) if previous else None,
            )
        except PaymentsError as error:
            utter_error(dispatcher, tracker, error)
            return [SlotSet("pending_payment_id", None), *slots_cleared_after(error)]
        dispatcher.utter_message(response="utter_payment_summary", summary_text=summary.summary_text)
        return [
            SlotSet("biller", summary.biller_name),
            SlotSet("bill_id", str(summary.bill_id)),
            SlotSet("pending_payment_id", str(summary.payment_id)),
            SlotSet("payment_summary", summary.summary_text),
        ]


class ActionConfirmPayment(Action):
    """Confirm the pending payment with the summary the user saw; tell them how it went."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_confirm_payment"

    @guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Charge (or schedule) via payments.confirm_payment and render the result by status."""
        service = get_services()
        try:
            user_id = await current_user_id(tracker)
            result = await call(
                service.confirm_payment,
                user_id=user_id,
                payment_id=int(tracker.get_slot("pending_payment_id")),
                consent_text=tracker.get_slot("payment_summary") or "",
                confirmation=str((tracker.latest_message or {}).get("text") or ""),
            )
        except PaymentsError as error:
            utter_error(dispatcher, tracker, error)
            return payment_finished()
        dispatcher.utter_message(
            response=RESULT_RESPONSES.get(str(result.status), "utter_payment_processing"),
            receipt_text=result.receipt_text,
            amount_text=result.amount_text,
            biller_name=result.biller_name,
            failure_message=result.failure_message or "",
            next_action_url=result.next_action_url or "",
        )
        return payment_finished()


class ActionStopPayment(Action):
    """Leave the payment in progress: cancel a shown draft, or just forget the details."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_stop_payment"

    @guarded
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Cancel the pending draft if there is one; otherwise say what (if anything) stopped."""
        pending = tracker.get_slot("pending_payment_id")
        if pending:
            service = get_services()
            try:
                user_id = await current_user_id(tracker)
                await call(service.cancel_payment, user_id=user_id, payment_id=int(pending))
            except PaymentsError as error:
                utter_error(dispatcher, tracker, error)
                return payment_finished()
            dispatcher.utter_message(response="utter_payment_cancelled")
        elif tracker.get_slot("bill_id") or tracker.get_slot("biller") or _form_just_left(tracker):
            dispatcher.utter_message(response="utter_stopped")
        else:
            dispatcher.utter_message(response="utter_nothing_in_progress")
        return payment_finished()


def _form_just_left(tracker: Tracker) -> bool:
    """True when a form was deactivated since the user's latest message (they left it)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "active_loop" and not event.get("name"):
            return True
    return False
