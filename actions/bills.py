"""Actions that show bills and payments, and cancel a pending or scheduled payment."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    CANCELLABLE_SLOT,
    call_as_sender,
    guarded,
    latest_entity_values,
    offered_for_cancelling,
    response_text,
    utter,
)
from actions.paying import when_text
from actions.services import get_services
from payments.errors import PaymentsError
from payments.views import BillView

# The most payments one answer lists; the Telegram bot pages through a long list with buttons.
HISTORY_LIMIT = 200


class ActionCheckBills(Action):
    """List open bills with what is owed and when it is due (one bill when the user named it)."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_check_bills"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call open_bills (or find_bill for a named biller) and render one line per bill."""
        service = get_services()
        named = latest_entity_values(tracker, "biller")
        bills: list[BillView]
        if named:
            bills = [await call_as_sender(tracker, service.find_bill, biller_text=named[0])]
        else:
            bills = await call_as_sender(tracker, service.open_bills)
        if not bills:
            utter(dispatcher, "utter_no_open_bills")
            return []
        lines = [
            response_text(
                domain,
                "utter_open_bill_line",
                {
                    "biller_name": bill.biller_name,
                    "outstanding_text": bill.outstanding_text or bill.amount_due_text,
                    "due_date_text": bill.due_date_text,
                },
            )
            for bill in bills
        ]
        utter(dispatcher, "utter_open_bills", {"bills": "\n".join(lines)})
        return []


class ActionPaymentHistory(Action):
    """Show the user's payments with their status: scheduled ones by their day, the rest by when
    they last moved, both in the user's time zone (drafts never appear)."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_payment_history"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payment_history and render one line per payment."""
        payments = await call_as_sender(tracker, get_services().payment_history, limit=HISTORY_LIMIT)
        if not payments:
            utter(dispatcher, "utter_no_payments")
            return []
        lines = [
            response_text(
                domain,
                "utter_payment_line_scheduled" if payment.scheduled else "utter_payment_line",
                {
                    "date_text": payment.pay_on_text if payment.scheduled else payment.moved_at_text,
                    "biller_name": payment.biller_name,
                    "amount_text": payment.amount_text,
                    "status_text": response_text(domain, f"utter_status_{payment.status}"),
                },
            )
            for payment in payments
        ]
        utter(dispatcher, "utter_payment_history", {"payments": "\n".join(lines)})
        return []


def forget_picked_payment(error: PaymentsError, tracker: Tracker) -> list[EventType]:
    """A refused cancellation forgets the payment the user picked (or was just offered to cancel)."""
    return [SlotSet("payment_id", None), SlotSet(CANCELLABLE_SLOT, None)]


class ActionCancelPayment(Action):
    """Cancel the payment the user picked, else the one just said to be cancellable (when no biller
    is named); otherwise offer the cancellable ones as buttons."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_cancel_payment"

    @guarded(forget=forget_picked_payment)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payments.cancel_pending_payment; render the cancellation or the candidates as buttons."""
        picked = tracker.get_slot("payment_id")
        named = latest_entity_values(tracker, "biller")
        # A bare "cancel" / "undo" right after "you can still cancel it" means that payment.
        offered = offered_for_cancelling(tracker) if not named else None
        chosen = int(picked) if picked else offered
        outcome = await call_as_sender(
            tracker,
            get_services().cancel_pending_payment,
            biller_text=named[0] if named else None,
            payment_id=chosen,
        )
        if outcome.cancelled is not None:
            cancelled = outcome.cancelled
            values = {"amount_text": cancelled.amount_text, "biller_name": cancelled.biller_name}
            utter(dispatcher, "utter_payment_cancelled_named", values)
        elif not outcome.candidates:
            utter(dispatcher, "utter_nothing_to_cancel")
        else:
            buttons = [
                {
                    "title": response_text(
                        domain,
                        "utter_cancel_payment_option",
                        {
                            "biller_name": payment.biller_name,
                            "amount_text": payment.amount_text,
                            "when": when_text(domain, payment.day, payment.pay_on_text),
                        },
                    ),
                    "payload": '/cancel_payment{"payment_id": "' + str(payment.payment_id) + '"}',
                }
                for payment in outcome.candidates
            ]
            utter(dispatcher, "utter_ask_payment_to_cancel", buttons=buttons)
        events: list[EventType] = [SlotSet("payment_id", None)]
        if outcome.cancelled is not None and outcome.cancelled.payment_id == offered:
            events.append(SlotSet(CANCELLABLE_SLOT, None))
        return events
