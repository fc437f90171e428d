"""Actions that show bills and payments, and cancel a pending or scheduled payment."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import call, current_user_id, latest_entity_values, response_text, utter_error
from actions.services import get_services
from payments.errors import PaymentsError

HISTORY_LIMIT = 10


def day_text(day: date | None) -> str:
    """A short, readable day ("3 Dec") for list lines."""
    return format_date(day, format="d MMM", locale="en_IE") if day else ""


class ActionCheckBills(Action):
    """List open bills with what is owed and when it is due (one bill when the user named it)."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_check_bills"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call open_bills (or find_bill for a named biller) and render one line per bill."""
        service = get_services()
        named = latest_entity_values(tracker, "biller")
        try:
            user_id = await current_user_id(tracker)
            if named:
                bills = [await call(service.find_bill, user_id=user_id, biller_text=named[0])]
            else:
                bills = await call(service.open_bills, user_id=user_id)
        except PaymentsError as error:
            utter_error(dispatcher, tracker, error)
            return []
        if not bills:
            dispatcher.utter_message(response="utter_no_open_bills")
            return []
        lines = [
            response_text(
                domain,
                "utter_open_bill_line",
                biller_name=bill.biller_name,
                outstanding_text=bill.outstanding_text or bill.amount_due_text,
                due_date_text=day_text(bill.due_date),
            )
            for bill in bills
        ]
        dispatcher.utter_message(response="utter_open_bills", bills="\n".join(lines))
        return []


class ActionPaymentHistory(Action):
    """Show the user's recent payments with their status."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_payment_history"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payment_history and render one line per payment."""
        service = get_services()
        try:
            user_id = await current_user_id(tracker)
            payments = await call(service.payment_history, user_id=user_id, limit=HISTORY_LIMIT)
        except PaymentsError as error:
            utter_error(dispatcher, tracker, error)
            return []
        if not payments:
            dispatcher.utter_message(response="utter_no_payments")
            return []
        lines = [
            response_text(
                domain,
                "utter_payment_line",
                date_text=day_text(payment.pay_on),
                biller_name=payment.biller_name,
                amount_text=payment.amount_text,
                status_text=response_text(domain, f"utter_status_{payment.status}"),
            )
            for payment in payments
        ]
        dispatcher.utter_message(response="utter_payment_history", payments="\n".join(lines))
        return []


class ActionCancelPayment(Action):
    """Cancel the payment the user picked; without a pick, offer the cancellable ones as buttons."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_cancel_payment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Cancel the picked (or the one named) payment; otherwise offer pending_payments as buttons."""
        service = get_services()
        picked = tracker.get_slot("payment_id")
        try:
            user_id = await current_user_id(tracker)
            if picked:
                return await self._cancel(dispatcher, tracker, user_id, int(picked))
            pending = await call(service.pending_payments, user_id=user_id)
        except PaymentsError as error:
            utter_error(dispatcher, tracker, error)
            return [SlotSet("payment_id", None)]
        if not pending:
            dispatcher.utter_message(response="utter_nothing_to_cancel")
            return []
        named = await _named_biller(tracker, user_id)
        matching = [payment for payment in pending if payment.biller_name == named]
        if len(matching) == 1:
            # The user named the one scheduled payment to that biller: that is their pick.
            return await self._cancel(dispatcher, tracker, user_id, matching[0].payment_id)
        pending = matching or pending
        buttons = [
            {
                "title": response_text(
                    domain,
                    "utter_cancel_payment_option",
                    biller_name=payment.biller_name,
                    amount_text=payment.amount_text,
                    date_text=payment.pay_on_text,
                ),
                "payload": '/cancel_payment{"payment_id": "' + str(payment.payment_id) + '"}',
            }
            for payment in pending
        ]
        dispatcher.utter_message(response="utter_ask_payment_to_cancel", buttons=buttons)
        return []

    @staticmethod
    async def _cancel(
        dispatcher: CollectingDispatcher, tracker: Tracker, user_id: int, payment_id: int
    ) -> list[EventType]:
        """Cancel one payment via payments.cancel_payment and confirm it to the user."""
        try:
            cancelled = await call(get_services().cancel_payment, user_id=user_id, payment_id=payment_id)
        except PaymentsError as error:
            utter_error(dispatcher, tracker, error)
            return [SlotSet("payment_id", None)]
        dispatcher.utter_message(
            response="utter_payment_cancelled_named",
            amount_text=cancelled.amount_text,
            biller_name=cancelled.biller_name,
        )
        return [SlotSet("payment_id", None)]


async def _named_biller(tracker: Tracker, user_id: int) -> str | None:
    """The biller name payments resolves the user's words to, if they named one in this message."""
    named = latest_entity_values(tracker, "biller")
    if not named:
        return None
    try:
        bill = await call(get_services().find_bill, user_id=user_id, biller_text=named[0])
    except PaymentsError:
        # Nothing left to pay on that bill (the schedule reserves it) or no such biller: offer all.
        return None
    return bill.biller_name
