"""Reminders in chat (issue 13, item 4): a reminder's "Pay now" and the user's on/off switch.

Thin glue: the reminder's button sends `/pay_bill{"reminded_bill_id": 12}`; its action drafts that
bill through `payments.pay_reminded_bill` and shows the summary like any other (Confirm / Change /
Cancel). A bill paid since the reminder is refused by payments (`bill_settled`), worded here by code.
"Stop reminding me" / "remind me again" (intents `reminders_off` / `reminders_on`, also sent by the
bot's `/reminders off|on`) make one call to `payments.set_reminders`.

Switching off is read twice: the model's intent, then the words themselves (`negates_off`). A typed
request that negates the switch-off ("don't stop reminding me", "never turn them off") or asks to keep
them ("keep reminding me") changes nothing and asks with two buttons instead: a classifier can read
such a sentence either way, and turning reminders off by mistake is silent (nothing tells the user
a reminder they wanted is missing), so the deterministic check guards the one costly direction.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CANCELLABLE_SLOT, call_as_sender, guarded, latest_entity_values, utter
from actions.paying import summary_buttons, summary_renderer
from actions.services import get_services

# The entity a reminder's "Pay now" payload carries: the id of the bill it reminded of.
REMINDED_BILL_ENTITY = "reminded_bill_id"
INTENT_SWITCHES = {"reminders_off": False, "reminders_on": True}
# What the user is told, by (reminders on now, changed by this message).
SWITCH_RESPONSES = {
    (True, True): "utter_reminders_on",
    (True, False): "utter_reminders_on_already",
    (False, True): "utter_reminders_off",
    (False, False): "utter_reminders_off_already",
}


# A negation, then later a word that switches off: "don't stop", "never ... off", "not disable".
_NEGATED_OFF = re.compile(
    r"\b(?:don'?t|do not|dont|never|not|no need to)\b.*\b(?:stop\w*|off|disabl\w*|mut\w*|quit\w*|paus\w*"
    r"|cancel\w*|end\w*|unsubscrib\w*)\b"
)
# Asking to keep them: "keep reminding me", "continue the reminders", "leave them on".
_KEEP_ON = re.compile(
    r"\b(?:keep|continue|leave)\b(?:\s+\w+){0,3}?\s+(?:remind\w*|them|alerts?|on|coming)\b"
    r"|\bcontinue\s+(?:to\s+)?remind"
)


def negates_off(text: str) -> bool:
    """True when a typed switch-off request negates itself or asks to keep reminders on (English
    words; a button's `/reminders_off` payload never does)."""
    words = text.lower().replace("\u2019", "'")
    if words.startswith("/"):
        return False
    return bool(_NEGATED_OFF.search(words) or _KEEP_ON.search(words))


def reminded_bill(tracker: Tracker) -> int | None:
    """The bill id a tapped "Pay now" names, or None (typed words carry none)."""
    for value in latest_entity_values(tracker, REMINDED_BILL_ENTITY):
        if value.isdigit():
            return int(value)
    return None


class ActionPayRemindedBill(Action):
    """Draft the reminded bill (its whole outstanding amount, today) and show the summary."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_pay_reminded_bill"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payments.pay_reminded_bill (replacing a summary shown before) and summarise."""
        bill_id = reminded_bill(tracker)
        if bill_id is None:
            utter(dispatcher, "utter_nothing_in_progress")
            return []
        previous = tracker.get_slot("pending_payment_id")
        summary = await call_as_sender(
            tracker,
            get_services().pay_reminded_bill,
            bill_id=bill_id,
            conversation=tracker.sender_id,
            replacing_payment_id=int(previous) if previous else None,
            render_summary=summary_renderer(domain),
        )
        utter(
            dispatcher,
            "utter_payment_summary",
            {"summary_text": summary.summary_text},
            buttons=summary_buttons(domain, summary),
        )
        return [
            SlotSet("biller", summary.biller_name),
            SlotSet("amount", None),
            SlotSet("date", None),
            SlotSet("bill_id", str(summary.bill_id)),
            SlotSet("pending_payment_id", str(summary.payment_id)),
            SlotSet("payment_summary", summary.summary_text),
            SlotSet(CANCELLABLE_SLOT, None),  # "cancel" now means this summary
        ]


class ActionSetReminders(Action):
    """Switch the user's bill reminders off or on, by the intent, and say so."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_set_reminders"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call payments.set_reminders and say whether reminders are on or off now (SWITCH_RESPONSES)."""
        intent = str((tracker.latest_message or {}).get("intent", {}).get("name") or "")
        enabled = INTENT_SWITCHES.get(intent)
        if enabled is None:
            utter(dispatcher, "utter_nothing_in_progress")
            return []
        if not enabled and negates_off(str((tracker.latest_message or {}).get("text") or "")):
            utter(dispatcher, "utter_reminders_keep_or_off")  # its buttons send /reminders_on|off
            return []
        setting = await call_as_sender(tracker, get_services().set_reminders, enabled=enabled)
        utter(dispatcher, SWITCH_RESPONSES[(setting.enabled, setting.changed)])
        return []
