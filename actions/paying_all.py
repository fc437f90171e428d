"""Paying everything that is due: list it with the total, then one bill at a time — thin glue to payments/.

`action_pay_all` lists the open bills and their total per currency and starts a round (slots:
`paying_all`, the bill ids listed, the ids still to offer, the drafts offered). The rules then run
`action_pay_next_bill`, which shows the next bill's own summary with its own Confirm / Cancel
(draft id + one-time nonce, exactly as a single payment: payments.several drafts it through the
single-bill path). Confirming a bill charges that bill only; after its outcome the rules run
`action_pay_next_bill` again. Cancel or "stop" cancels the bill shown and `action_stop_paying_all`
ends the round and says what was paid and what is left. A refused tap (an older summary, a used
nonce) keeps the live summary and its slots, and the round goes on from there.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import call_as_sender, guarded, response_text, utter, utter_error
from actions.paying import summary_buttons, summary_renderer
from actions.services import get_services
from payments.views import BillView, DueBills, PayAllReport

# The round in progress; cleared together when it ends.
ROUND_SLOTS = ("paying_all", "pay_all_bills", "pay_all_queue", "pay_all_payments")


def round_ended() -> list[EventType]:
    """SlotSet events that end the pay-everything round (the payment slots are the single path's)."""
    return [SlotSet(name, None) for name in ROUND_SLOTS]


def _ids(tracker: Tracker, slot: str) -> list[int]:
    """A list slot of ids as ints (values the action itself stored; anything else is dropped)."""
    ids = []
    for value in tracker.get_slot(slot) or []:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue
    return ids


def bill_lines(domain: dict[str, Any], bills: list[BillView]) -> str:
    """One line per bill: biller, what is still owed, due date."""
    return "\n".join(
        response_text(
            domain,
            "utter_open_bill_line",
            {
                "biller_name": bill.biller_name,
                "outstanding_text": bill.outstanding_text,
                "due_date_text": bill.due_date_text,
            },
        )
        for bill in bills
    )


def total_text(domain: dict[str, Any], due: DueBills) -> str:
    """The total per currency, joined ("€120.00 + £40.00": sums in different currencies are never added)."""
    joiner = response_text(domain, "utter_pay_all_total_joiner")
    return joiner.join(due.totals_text)


def report_values(domain: dict[str, Any], report: PayAllReport) -> dict[str, str]:
    """What the end of a round says: its confirmed payments with their status, and what is left."""
    if report.payments:
        lines = "\n".join(
            response_text(
                domain,
                "utter_pay_all_payment_line",
                {
                    "biller_name": payment.biller_name,
                    "amount_text": payment.amount_text,
                    "status_text": response_text(domain, f"utter_status_{payment.status}"),
                },
            )
            for payment in report.payments
        )
        done = response_text(domain, "utter_pay_all_report_payments", {"payments": lines})
    else:
        done = response_text(domain, "utter_pay_all_report_no_payments")
    if report.left.bills:
        left = response_text(
            domain,
            "utter_pay_all_report_left",
            {"bills": bill_lines(domain, report.left.bills), "total_text": total_text(domain, report.left)},
        )
    else:
        left = response_text(domain, "utter_pay_all_report_nothing_left")
    return {"done": done, "left": left}


class ActionPayAll(Action):
    """List every open bill with the total, and start a round that offers them one at a time."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_pay_all"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payments.bills_due and render the list and its total (or that nothing is due)."""
        due = await call_as_sender(tracker, get_services().bills_due)
        if not due.bills:
            utter(dispatcher, "utter_pay_all_nothing_due")
            return round_ended()
        utter(
            dispatcher,
            "utter_pay_all_list",
            {
                "bills": bill_lines(domain, due.bills),
                "total_text": total_text(domain, due),
                "count": len(due.bills),
            },
        )
        ids = [str(bill.id) for bill in due.bills]
        return [
            SlotSet("paying_all", True),
            SlotSet("pay_all_bills", ids),
            SlotSet("pay_all_queue", ids),
            SlotSet("pay_all_payments", []),
        ]


class ActionPayNextBill(Action):
    """Offer the round's next bill as its own summary, or end the round: what was paid, what is left."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_pay_next_bill"

    @guarded(forget=lambda error, tracker: round_ended())
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payments.next_bill and render the skipped bills, then the summary or the round's report."""
        if not tracker.get_slot("paying_all"):
            return []
        pending = tracker.get_slot("pending_payment_id")
        offered = _ids(tracker, "pay_all_payments")
        if pending and int(pending) in offered:
            # The round's summary still waits (a refused tap kept it): it stays the live one.
            return []
        step = await call_as_sender(
            tracker,
            get_services().next_bill,
            conversation=tracker.sender_id,
            bill_ids=_ids(tracker, "pay_all_queue"),
            listed_bill_ids=_ids(tracker, "pay_all_bills"),
            payment_ids=offered,
            replacing_payment_id=int(pending) if pending else None,
            render_summary=summary_renderer(domain),
        )
        for skipped in step.skipped:
            values = {
                "biller_name": skipped.bill.biller_name,
                "outstanding_text": skipped.bill.outstanding_text,
            }
            utter(dispatcher, "utter_pay_all_skipped", values)
            utter_error(dispatcher, tracker, skipped.error)
        summary = step.summary
        if summary is None:
            if step.report is not None:
                utter(dispatcher, "utter_pay_all_finished", report_values(domain, step.report))
            return [*round_ended(), SlotSet("pending_payment_id", None)]
        utter(
            dispatcher,
            "utter_payment_summary",
            {"summary_text": summary.summary_text},
            buttons=summary_buttons(domain, summary),
        )
        return [
            SlotSet("biller", summary.biller_name),
            SlotSet("bill_id", str(summary.bill_id)),
            SlotSet("amount", None),
            SlotSet("date", None),
            SlotSet("pending_payment_id", str(summary.payment_id)),
            SlotSet("payment_summary", summary.summary_text),
            SlotSet("pay_all_queue", [str(bill_id) for bill_id in step.remaining]),
            SlotSet("pay_all_payments", [str(payment_id) for payment_id in [*offered, summary.payment_id]]),
        ]


class ActionStopPayingAll(Action):
    """After Cancel / "stop" in a round: end it and say what was paid and what is left."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_stop_paying_all"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payments.pay_all_report and render it; nothing when the stop was refused (a stale Cancel)."""
        if not tracker.get_slot("paying_all"):
            return []
        if tracker.get_slot("pending_payment_id"):
            # The Cancel was refused (an older summary's): the live summary and the round go on.
            return []
        report = await call_as_sender(
            tracker,
            get_services().pay_all_report,
            listed_bill_ids=_ids(tracker, "pay_all_bills"),
            payment_ids=_ids(tracker, "pay_all_payments"),
        )
        utter(dispatcher, "utter_pay_all_finished", report_values(domain, report))
        return round_ended()
