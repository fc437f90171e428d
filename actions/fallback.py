"""The first stage of the two-stage fallback: offer the two likeliest intents as buttons.

Right after a reply that offered cancelling a payment (a held or scheduled one: slot
`cancellable_payment_id`), an unclear message ("don't send it") offers "Cancel a payment" first,
whatever the ranking: its `/cancel_payment` cancels that very payment. Nothing is cancelled on a guess.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CANCELLABLE_SLOT, guarded, offered_for_cancelling, response_text, utter

# Not worth offering: the fallback itself, and bare yes/no without a question.
NOT_OFFERED = {"nlu_fallback", "affirm", "deny", "out_of_scope"}


class ActionDefaultAskAffirmation(Action):
    """Replace Rasa's single "Did you mean …?" with buttons for the two likeliest intents."""

    def name(self) -> str:
        """Action name Rasa's TwoStageFallback calls."""
        return "action_default_ask_affirmation"

    @guarded()
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Offer the top two intents (with the entities already understood) plus "Something else"."""
        ranking = tracker.latest_message.get("intent_ranking") or []
        intents = [item["name"] for item in ranking if item.get("name") not in NOT_OFFERED]
        offered = offered_for_cancelling(tracker)
        if offered is not None:  # the payment just offered for cancelling
            intents = ["cancel_payment", *(name for name in intents if name != "cancel_payment")]
        intents = intents[:2]
        entities = {
            entity["entity"]: entity["value"]
            for entity in tracker.latest_message.get("entities") or []
            if entity.get("entity") in {"biller", "amount", "date"}
        }
        suffix = json.dumps(entities) if entities else ""
        buttons = [
            {"title": response_text(domain, f"utter_intent_label_{intent}"), "payload": f"/{intent}{suffix}"}
            for intent in intents
        ]
        buttons.append({"title": response_text(domain, "utter_something_else"), "payload": "/out_of_scope"})
        utter(dispatcher, "utter_ask_affirmation", buttons=buttons)
        # The offer still stands for the tap on one of these buttons (the next message).
        return [SlotSet(CANCELLABLE_SLOT, str(offered))] if offered is not None else []
