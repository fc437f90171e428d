"""Actions that draft, confirm and stop a payment — thin glue from tracker to payments/.

The summary is worded here, at the edge, from the domain's `utter_payment_summary_text`: payments
hands the typed terms to `summary_renderer(domain)` while drafting and keeps what it returns as the
consent text. The same text is shown (`utter_payment_summary`) and kept in the `payment_summary` slot.

Each summary is its conversation's live offer (payments.confirming): its Confirm and Cancel buttons
name the draft and carry a one-time nonce (`/affirm{"draft_id": 12, "confirm_nonce": "…"}`, the
entities `draft_id` and `confirm_nonce`). A tap hands back that pair and the text it was under (the
front end's `shown_text` metadata); a typed "yes" hands back neither and means the live summary.
Payments decides; a tap on an older summary is refused and the live one is kept as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    CANCELLABLE_SLOT,
    SUMMARY_KEPT_CODES,
    call_as_sender,
    guarded,
    has_response,
    latest_entity_values,
    moment_text,
    offered_for_cancelling,
    payment_finished,
    response_text,
    slots_cleared_after,
    utter,
)
from actions.receipts import receipt_values
from actions.services import get_services
from actions.step_up import MANDATE_SLOT, start_step_up, withdraw_waiting_mandate
from payments.consent import TapEvidence
from payments.errors import PaymentsError
from payments.views import DraftTerms, PaymentResult, PaymentSummary

# Which response tells the user how a confirmed payment ended, by PaymentStatus value.
RESULT_RESPONSES = {
    "succeeded": "utter_payment_succeeded",
    "approved": "utter_payment_processing",
    "failed": "utter_payment_failed",
    "requires_action": "utter_payment_requires_action",
    "processing": "utter_payment_processing",
    "unknown": "utter_payment_processing",
    "cancelled": "utter_payment_cancelled",
    "awaiting_approval": "utter_payment_awaiting_approval",
    "draft": "utter_payment_processing",
}

# The outcomes that tell the user the payment can still be cancelled: the payment they name is the
# one a following "cancel" / "stop" / "no" cancels (slot CANCELLABLE_SLOT).
CANCELLABLE_RESPONSES = frozenset(
    {"utter_payment_held", "utter_payment_scheduled", "utter_payment_awaiting_approval"}
)


def when_text(domain: dict[str, Any], day: str, date_text: str) -> str:
    """A day as the user reads it: "today (3 Dec 2025)", "tomorrow (…)", "on 3 Dec 2025"."""
    return response_text(domain, f"utter_day_{day}", {"date_text": date_text})


def summary_renderer(domain: dict[str, Any]) -> Callable[[DraftTerms], str]:
    """The renderer payments calls while drafting: the domain's summary filled with the terms."""

    def render(terms: DraftTerms) -> str:
        return response_text(
            domain,
            "utter_payment_summary_text",
            {
                "amount_text": terms.amount_text,
                "biller_name": terms.biller_name,
                "bill_reference": terms.bill_reference,
                "card_brand": terms.card_brand.capitalize(),
                "card_last4": terms.card_last4,
                "when": when_text(domain, terms.day, terms.pay_on_text),
            },
        )

    return render


def failure_reason(domain: dict[str, Any], code: str | None, processor_message: str | None) -> str:
    """Why a payment failed, worded by its code; the processor's message only for a code we do not word."""
    if code and has_response(domain, f"utter_failure_reason_{code}"):
        return response_text(domain, f"utter_failure_reason_{code}")
    if processor_message and processor_message.strip():
        reason = processor_message.strip()
        return reason if reason[-1] in ".!?" else reason + "."
    return response_text(domain, "utter_failure_reason_unknown")


def result_values(domain: dict[str, Any], result: PaymentResult) -> dict[str, Any]:
    """What the outcome responses say about a payment."""
    return {
        "amount_text": result.amount_text,
        "biller_name": result.biller_name,
        "payment_intent_id": result.payment_intent_id or "",
        "when": when_text(domain, result.day, result.pay_on_text),
        "reason": failure_reason(domain, result.failure_code, result.failure_message),
        "next_action_url": result.next_action_url or "",
        "runs_at": moment_text(domain, result.runs_at) if result.runs_at else "",
        **receipt_values(result.receipt),
    }


def result_response(result: PaymentResult) -> str:
    """The response for a payment's outcome (an approved payment with a schedule waits for its day,
    or is held by its time lock until it runs)."""
    if result.status == "approved" and result.scheduled_payment_id:
        return "utter_payment_held" if result.time_locked else "utter_payment_scheduled"
    return RESULT_RESPONSES.get(str(result.status), "utter_payment_processing")


def summary_buttons(domain: dict[str, Any], summary: PaymentSummary) -> list[dict[str, str]]:
    """Confirm / Change / Cancel; Confirm and Cancel name the draft and carry its one-time nonce."""
    offer = json.dumps(
        {"draft_id": summary.payment_id, "confirm_nonce": summary.confirm_nonce}, separators=(",", ":")
    )
    return [
        {"title": response_text(domain, "utter_button_confirm"), "payload": "/affirm" + offer},
        {"title": response_text(domain, "utter_button_change"), "payload": "/change"},
        {"title": response_text(domain, "utter_button_cancel"), "payload": "/deny" + offer},
    ]


def tapped_offer(tracker: Tracker) -> tuple[int | None, str | None]:
    """The draft id and nonce a tapped Confirm / Cancel names; (None, None) for typed words."""
    draft_ids = list(tracker.get_latest_entity_values("draft_id"))
    nonces = [str(value) for value in tracker.get_latest_entity_values("confirm_nonce")]
    try:
        draft_id = int(draft_ids[0]) if draft_ids else None
    except (TypeError, ValueError):
        draft_id = None
    if draft_id is None or not nonces:
        return None, None
    return draft_id, nonces[0]


def shown_text(tracker: Tracker) -> str:
    """The summary the user acted on: the text a button was under (front-end metadata), else the
    summary this conversation showed last."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    shown = metadata.get("shown_text") if isinstance(metadata, dict) else None
    return (
        str(shown)
        if isinstance(shown, str) and shown.strip()
        else str(tracker.get_slot("payment_summary") or "")
    )


def finished_unless_stale(error: PaymentsError | None = None) -> list[EventType]:
    """End the payment in progress, except after a refused tap on a summary that is not the live one."""
    if error is not None and error.code in SUMMARY_KEPT_CODES:
        return []
    return payment_finished()


def forget_after_refused_confirm(error: PaymentsError, tracker: Tracker) -> list[EventType]:
    """A refused Confirm: as finished_unless_stale, except when it names the pending payment and
    that payment no longer waits (paid, under way, cancelled, expired): nothing is left to confirm,
    so the payment in progress ends (a "yes" afterwards is not read as confirming it again)."""
    over = bool(error.params.get("payment_over"))  # set by payments.confirming: no longer a draft
    pending = str(tracker.get_slot("pending_payment_id") or "")
    if over and pending and str(error.params.get("payment_id")) == pending:
        return payment_finished()
    return finished_unless_stale(error)


def forget_refused_draft(error: PaymentsError, tracker: Tracker) -> list[EventType]:
    """A refused draft: no summary is pending, and the refused value is asked for again."""
    return [SlotSet("pending_payment_id", None), *slots_cleared_after(error)]


def tap_evidence(tracker: Tracker) -> TapEvidence:
    """The button tap behind the latest message, as the bot reported it in the message metadata."""
    tap = ((tracker.latest_message or {}).get("metadata") or {}).get("tap")
    if not isinstance(tap, dict):
        return TapEvidence()
    try:
        tapped_at = datetime.fromisoformat(str(tap.get("at"))) if tap.get("at") else None
    except ValueError:
        tapped_at = None
    callback_id = tap.get("callback_id")
    return TapEvidence(callback_id=str(callback_id)[:128] if callback_id else None, tapped_at=tapped_at)


def unspanned_text(tracker: Tracker) -> str:
    """The user's latest message with its entity spans cut out (payments looks there for money
    that no amount span holds); "" for a button payload ("/affirm{…}"). Of several amount spans
    only the one the amount slot holds is cut out."""
    message = tracker.latest_message or {}
    text = str(message.get("text") or "")
    if text.startswith("/"):
        return ""
    kept = list(text)
    entities = list(message.get("entities") or [])
    amounts = [entity for entity in entities if entity.get("entity") == "amount"]
    if len(amounts) > 1:
        # Several amount spans in one message ("1 000,50" as "1" and "000,50"): only the one the
        # amount slot holds is read, so the others stay in the text and payments refuses them.
        used = str(tracker.get_slot("amount") or "")
        matching = [entity for entity in amounts if str(entity.get("value") or "") == used]
        entities = [e for e in entities if e.get("entity") != "amount" or (matching and e is matching[-1])]
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int):
            kept[start:end] = " " * (end - start)
        elif (value := str(entity.get("value") or "")) and (at := "".join(kept).find(value)) >= 0:
            # An entity without offsets (set by a rule or a test): cut its first occurrence.
            kept[at : at + len(value)] = " " * len(value)
    return "".join(kept)


class ActionPreparePayment(Action):
    """Draft the payment from the slots and show the summary with Confirm / Change / Cancel."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_prepare_payment"

    @guarded(forget=forget_refused_draft)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Draft via payments.prepare_payment (replacing the summary shown before) and summarise."""
        previous = tracker.get_slot("pending_payment_id")
        bill_id = tracker.get_slot("bill_id")
        # The bill is looked up again only when the user just named a biller that the form's
        # validator did not already resolve in this turn (or when none is known yet).
        named = (latest_entity_values(tracker, "biller") and not resolved_this_turn(tracker)) or not bill_id
        summary = await call_as_sender(
            tracker,
            get_services().prepare_payment,
            biller_text=(tracker.get_slot("biller") or "") if named else None,
            bill_id=int(bill_id) if bill_id else None,
            amount_text=tracker.get_slot("amount"),
            date_text=tracker.get_slot("date"),
            replacing_payment_id=int(previous) if previous else None,
            render_summary=summary_renderer(domain),
            conversation=tracker.sender_id,
            unspanned_text=unspanned_text(tracker),
        )
        utter(
            dispatcher,
            "utter_payment_summary",
            {"summary_text": summary.summary_text},
            buttons=summary_buttons(domain, summary),
        )
        events: list[EventType] = [
            SlotSet("biller", summary.biller_name),
            SlotSet("bill_id", str(summary.bill_id)),
            SlotSet("pending_payment_id", str(summary.payment_id)),
            SlotSet("payment_summary", summary.summary_text),
            # A new summary is the latest question: "cancel" now means it, not a payment offered before.
            SlotSet(CANCELLABLE_SLOT, None),
        ]
        if tracker.get_slot("paying_all"):
            # A correction inside a pay-everything round: the new draft is the round's too (its report).
            offered = [*(tracker.get_slot("pay_all_payments") or []), str(summary.payment_id)]
            events.append(SlotSet("pay_all_payments", offered))
        return events


class ActionConfirmPayment(Action):
    """Confirm the pending payment with the summary the user saw; tell them how it went."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_confirm_payment"

    @guarded(forget=forget_after_refused_confirm)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Charge (or schedule) via payments.confirm_shown_summary and render the result by status."""
        draft_id, nonce = tapped_offer(tracker)
        pending = tracker.get_slot("pending_payment_id")
        if draft_id is None and not pending:
            utter(dispatcher, "utter_nothing_to_confirm")
            return []
        result = await call_as_sender(
            tracker,
            get_services().confirm_shown_summary,
            conversation=tracker.sender_id,
            payment_id=draft_id if draft_id is not None else int(pending),
            nonce=nonce,
            shown_text=shown_text(tracker),
            confirmation=str((tracker.latest_message or {}).get("text") or ""),
            tap=tap_evidence(tracker),
        )
        if result.step_up is not None:
            # Issue 13: the payment waits for the user's one-time code; it is not finished yet.
            return start_step_up(dispatcher, domain, result, result.step_up)
        response = result_response(result)
        utter(dispatcher, response, result_values(domain, result))
        offered = str(result.payment_id) if response in CANCELLABLE_RESPONSES else None
        return [*payment_finished(), SlotSet(CANCELLABLE_SLOT, offered)]


class ActionAskChange(Action):
    """The user wants to change the summary: withdraw its offer, then ask what to change."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_ask_change"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Close the live summary's offer (payments.withdraw_shown_summaries), so a typed "yes" or
        a tap while the change is pending charges nothing; then utter_ask_change."""
        if tracker.get_slot("pending_payment_id"):
            await call_as_sender(
                tracker, get_services().withdraw_shown_summaries, conversation=tracker.sender_id
            )
        utter(dispatcher, "utter_ask_change")
        return []


def forget_after_refused_stop(error: PaymentsError, tracker: Tracker) -> list[EventType]:
    """A refused stop: as finished_unless_stale, and a payment offered for cancelling that cannot be
    (charging or charged, someone else's) is no longer offered."""
    events = finished_unless_stale(error)
    if error.code in ("payment_not_pending", "payment_not_found"):
        events = [*events, SlotSet(CANCELLABLE_SLOT, None)]
    return events


class ActionStopPayment(Action):
    """Leave the payment in progress: cancel a shown draft, or the confirmed payment just offered
    for cancelling, or just forget the details."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_stop_payment"

    @guarded(forget=forget_after_refused_stop)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Cancel the draft whose Cancel was tapped (only the live one), else the autopay offer whose
        code is asked for (an earlier draft untouched), else the pending draft if
        there is one, else the payment the last outcome said can still be cancelled (held, scheduled,
        awaiting approval: payments.cancel_payment refuses it once charging); otherwise say what (if
        anything) stopped."""
        draft_id, nonce = tapped_offer(tracker)
        if draft_id is None and tracker.get_slot(MANDATE_SLOT):  # an autopay waiting for its code
            return await withdraw_waiting_mandate(dispatcher, tracker)  # not an earlier draft
        pending = tracker.get_slot("pending_payment_id")
        offered = offered_for_cancelling(tracker)
        if draft_id is None and pending and offered is not None:
            return await ask_which_to_cancel(dispatcher, tracker, domain, offered)
        if draft_id is not None:
            await call_as_sender(
                tracker,
                get_services().cancel_shown_summary,
                conversation=tracker.sender_id,
                payment_id=draft_id,
                nonce=nonce,
            )
            utter(dispatcher, "utter_payment_cancelled")
        elif pending:
            await call_as_sender(tracker, get_services().cancel_payment, payment_id=int(pending))
            utter(dispatcher, "utter_payment_cancelled")
        elif offered is not None:
            cancelled = await call_as_sender(tracker, get_services().cancel_payment, payment_id=offered)
            values = {"amount_text": cancelled.amount_text, "biller_name": cancelled.biller_name}
            utter(dispatcher, "utter_payment_cancelled_named", values)
            return [*payment_finished(), SlotSet(CANCELLABLE_SLOT, None)]
        elif tracker.get_slot("bill_id") or tracker.get_slot("biller") or _form_just_left(tracker):
            utter(dispatcher, "utter_stopped")
        else:
            utter(dispatcher, "utter_nothing_in_progress")
        return payment_finished()


async def ask_which_to_cancel(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any], offered: int
) -> list[EventType]:
    """A summary waits and a confirmed payment was just said to be cancellable: ask which one is
    meant (a button for the confirmed one; the summary has its own Cancel). Nothing changes yet."""
    confirmed = await call_as_sender(tracker, get_services().get_payment, payment_id=offered)
    values = {"amount_text": confirmed.amount_text, "biller_name": confirmed.biller_name}
    button = {
        "title": response_text(domain, "utter_button_cancel_confirmed", values),
        "payload": '/cancel_payment{"payment_id": "' + str(offered) + '"}',
    }
    utter(dispatcher, "utter_ask_which_to_cancel", values, buttons=[button])
    return []


def resolved_this_turn(tracker: Tracker) -> bool:
    """True when a bill was set since the user's latest message (the form's validator matched it)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "slot" and event.get("name") == "bill_id" and event.get("value"):
            return True
    return False


def _form_just_left(tracker: Tracker) -> bool:
    """True when a form was deactivated since the user's latest message (they left it)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "active_loop" and not event.get("name"):
            return True
    return False
