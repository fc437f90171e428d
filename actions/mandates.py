"""Actions for standing mandates (autopay) — thin glue from tracker to payments.mandates.

Creating or changing an autopay shows a summary first, worded here from the domain's
`utter_mandate_summary_text` (payments keeps the rendered text as the consent it signs); its Confirm
and Cancel buttons carry the offer id and a one-time nonce
(`/confirm_mandate{"mandate_offer": 3, "confirm_nonce": "…"}`). Listing, pausing, resuming and
revoking are one call each. Every action forgets the biller, amount and date it read, so an
autopay's cap never becomes the amount of a later payment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import call_as_sender, guarded, latest_entity_values, response_text, utter
from actions.paying import tap_evidence
from actions.services import get_services
from actions.step_up import FORM, MANDATE_SLOT, mandate_code_withdrawn, start_mandate_step_up
from payments.errors import PaymentsError
from payments.mandates import MandateOffer, MandateTerms, MandateView

READ_SLOTS = ("biller", "amount", "date")
STATUS_RESPONSES = {
    "active": "utter_mandate_status_active",
    "paused": "utter_mandate_status_paused",
    "revoked": "utter_mandate_status_revoked",
    "expired": "utter_mandate_status_expired",
}


def forget_read(error: PaymentsError | None = None, tracker: Tracker | None = None) -> list[EventType]:
    """Forget the values this turn read (and the summary on a refusal): they belong to no payment."""
    return [SlotSet(name, None) for name in READ_SLOTS]


def _first(tracker: Tracker, entity: str) -> str | None:
    values = latest_entity_values(tracker, entity)
    return values[0] if values else None


def mandate_renderer(domain: dict[str, Any]) -> Callable[[MandateTerms], str]:
    """The renderer payments calls while offering: the domain's summary filled with the terms."""

    def render(terms: MandateTerms) -> str:
        name = "utter_mandate_change_summary_text" if terms.is_change else "utter_mandate_summary_text"
        return response_text(
            domain,
            name,
            {
                "biller_name": terms.biller_name,
                "cap_text": terms.cap_text,
                "budget_text": terms.budget_text,
                "expires_text": terms.expires_text,
                "card_brand": terms.card_brand.capitalize(),
                "card_last4": terms.card_last4,
            },
        )

    return render


def show_offer(
    dispatcher: CollectingDispatcher, domain: dict[str, Any], offer: MandateOffer
) -> list[EventType]:
    """Utter the summary with Confirm / Cancel carrying the offer and its nonce; keep the text shown."""
    data = json.dumps({"mandate_offer": offer.offer_id, "confirm_nonce": offer.nonce}, separators=(",", ":"))
    buttons = [
        {"title": response_text(domain, "utter_button_confirm"), "payload": "/confirm_mandate" + data},
        {"title": response_text(domain, "utter_button_cancel"), "payload": "/cancel_mandate" + data},
    ]
    utter(dispatcher, "utter_mandate_summary", {"summary_text": offer.summary_text}, buttons=buttons)
    return [*forget_read(), SlotSet("mandate_summary", offer.summary_text)]


def tapped_mandate_offer(tracker: Tracker) -> tuple[int, str]:
    """The offer id and nonce a tapped mandate Confirm / Cancel names ((0, "") when none)."""
    offers, nonces = (
        latest_entity_values(tracker, "mandate_offer"),
        latest_entity_values(tracker, "confirm_nonce"),
    )
    try:
        return (int(offers[0]), nonces[0]) if offers and nonces else (0, "")
    except ValueError:
        return 0, ""


def shown_mandate_text(tracker: Tracker) -> str:
    """The summary the user acted on: the text the button was under, else the last one shown."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    shown = metadata.get("shown_text") if isinstance(metadata, dict) else None
    if isinstance(shown, str) and shown.strip():
        return shown
    return str(tracker.get_slot("mandate_summary") or "")


def mandate_values(view: MandateView) -> dict[str, Any]:
    """What the mandate responses say about one mandate."""
    return {
        "biller_name": view.biller_name,
        "cap_text": view.cap_text,
        "budget_text": view.budget_text,
        "spent_text": view.spent_text,
        "expires_text": view.expires_text,
    }


class ActionProposeMandate(Action):
    """Offer a new autopay: biller, cap (amount) and expiry (date) from the message."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_propose_mandate"

    @guarded(forget_read)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call mandates.propose and show its summary with Confirm / Cancel."""
        biller, cap = _first(tracker, "biller"), _first(tracker, "amount")
        if not biller or not cap:
            utter(dispatcher, "utter_mandate_needs_biller_and_cap")
            return forget_read()
        offer = await call_as_sender(
            tracker,
            get_services().mandates.propose,
            biller_text=biller,
            cap_text=cap,
            expiry_text=_first(tracker, "date"),
            render=mandate_renderer(domain),
        )
        return show_offer(dispatcher, domain, offer)


class ActionChangeMandate(Action):
    """Offer new terms for an autopay (cap from the amount, expiry from the date): a new consent."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_change_mandate"

    @guarded(forget_read)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call mandates.propose_change and show its summary with Confirm / Cancel."""
        biller, cap, expiry = _first(tracker, "biller"), _first(tracker, "amount"), _first(tracker, "date")
        if not cap and not expiry:
            utter(dispatcher, "utter_mandate_needs_change", {"biller": biller or ""})
            return forget_read()
        offer = await call_as_sender(
            tracker,
            get_services().mandates.propose_change,
            biller_text=biller or "",
            cap_text=cap,
            expiry_text=expiry,
            render=mandate_renderer(domain),
        )
        return show_offer(dispatcher, domain, offer)


class ActionConfirmMandate(Action):
    """The tapped Confirm under an autopay summary: the user's consent to its exact terms."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_confirm_mandate"

    @guarded(forget_read)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call mandates.confirm with the offer, its nonce and the text shown."""
        offer_id, nonce = tapped_mandate_offer(tracker)
        tap = tap_evidence(tracker)
        confirmation = (
            f"tap {tap.callback_id}" if tap.callback_id else str(tracker.latest_message.get("text"))
        )
        view = await call_as_sender(
            tracker,
            get_services().mandates.confirm,
            offer_id=offer_id,
            nonce=nonce,
            shown_text=shown_mandate_text(tracker),
            confirmation=confirmation,
        )
        if view.code_pending is not None:  # large: the user's one-time code first
            started = start_mandate_step_up(dispatcher, domain, view.code_pending)
            return [SlotSet("mandate_summary", None), *started]
        utter(dispatcher, "utter_mandate_confirmed", mandate_values(view))
        return [SlotSet("mandate_summary", None)]


class ActionCancelMandateOffer(Action):
    """The tapped Cancel under an autopay summary: nothing is set up or changed."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_cancel_mandate_offer"

    @guarded(forget_read)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call mandates.cancel_offer. The code form ends only when it asks for this offer's code
        (`step_up_mandate_offer` names it); a payment's code form goes on and asks for its code again."""
        offer_id, nonce = tapped_mandate_offer(tracker)
        waiting = str(tracker.get_slot(MANDATE_SLOT) or "")
        if not nonce and waiting.isdigit():  # no tap read: only the offer waiting for its code
            offer_id = int(waiting)
        await call_as_sender(tracker, get_services().mandates.cancel_offer, offer_id=offer_id, nonce=nonce)
        utter(dispatcher, "utter_mandate_offer_cancelled")
        if waiting and waiting == str(offer_id):
            return [SlotSet("mandate_summary", None), *mandate_code_withdrawn()]
        if (tracker.active_loop or {}).get("name") == FORM:
            return [SlotSet("mandate_summary", None), FollowupAction(FORM)]
        return [SlotSet("mandate_summary", None)]


class ActionListMandates(Action):
    """List the user's autopays with what each spent this month."""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return "action_list_mandates"

    @guarded(forget_read)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Call mandates.list_mandates and render one line per mandate."""
        views = await call_as_sender(tracker, get_services().mandates.list_mandates)
        if not views:
            utter(dispatcher, "utter_no_mandates")
            return forget_read()
        lines = [
            response_text(
                domain,
                "utter_mandate_line",
                {**mandate_values(v), "status": response_text(domain, STATUS_RESPONSES[str(v.status)])},
            )
            for v in views
        ]
        utter(dispatcher, "utter_mandates", {"mandates": "\n".join(lines)})
        return forget_read()


class _MandateMove:
    """Pause, resume or revoke the autopay of the biller named (or the only one); a mixin, so
    rasa-sdk registers only the concrete actions below."""

    use_case = ""
    response = ""

    def name(self) -> str:
        """Action name used in domain.yml."""
        return f"action_{self.use_case}_mandate"

    @guarded(forget_read)
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """One call into payments.mandates, then the response saying what changed."""
        move = getattr(get_services().mandates, self.use_case)
        view = await call_as_sender(tracker, move, biller_text=_first(tracker, "biller") or "")
        utter(dispatcher, self.response, mandate_values(view))
        return forget_read()


class ActionPauseMandate(_MandateMove, Action):
    """Pause an autopay: new bills are asked about until it is resumed."""

    use_case, response = "pause", "utter_mandate_paused"


class ActionResumeMandate(_MandateMove, Action):
    """Resume a paused autopay."""

    use_case, response = "resume", "utter_mandate_resumed"


class ActionRevokeMandate(_MandateMove, Action):
    """Stop an autopay for good."""

    use_case, response = "revoke", "utter_mandate_revoked"
