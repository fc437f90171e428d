"""Helpers shared by the actions: who is talking, domain wording, and errors chosen by code.

The wording users see lives in rasa_project/domain.yml. Actions either utter a response by name
or, for lists built line by line, read a response's text from the domain they receive and fill it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_services
from payments.errors import PaymentsError

T = TypeVar("T")
RunMethod = Callable[[Any, CollectingDispatcher, Tracker, dict[str, Any]], Awaitable[list[EventType]]]

logger = logging.getLogger(__name__)

# Slots that describe the payment in progress; cleared together when it ends.
PAYMENT_SLOTS = ("biller", "amount", "date", "bill_id", "pending_payment_id", "payment_summary", "payment_id")

# Which slot a refused value came from, so the user is asked for that value again.
SLOTS_TO_CLEAR_BY_CODE: dict[str, tuple[str, ...]] = {
    "biller_unknown": ("biller", "bill_id"),
    "biller_ambiguous": ("biller", "bill_id"),
    "bill_not_found": ("biller", "bill_id"),
    "amount_invalid": ("amount",),
    "amount_currency_mismatch": ("amount",),
    "amount_ambiguous": ("amount",),
    "amount_not_positive": ("amount",),
    "amount_above_outstanding": ("amount",),
    "limit_per_payment": ("amount",),
    "limit_daily": ("amount",),
    "date_invalid": ("date",),
    "date_in_past": ("date",),
    "date_too_far": ("date",),
}


async def call(function: Callable[..., T], **kwargs: Any) -> T:
    """Run a blocking payments use case off the event loop (SQL and Stripe calls block)."""
    return await asyncio.to_thread(function, **kwargs)


async def current_user_id(tracker: Tracker) -> int:
    """The users.id behind this conversation's sender id (raises UnknownUserError)."""
    service = get_services()
    return await call(service.user_id_for_sender, sender_id=tracker.sender_id)


def response_text(domain: dict[str, Any], name: str, **values: Any) -> str:
    """The first text variant of response `name` in the domain, with {placeholders} filled."""
    variants = domain.get("responses", {}).get(name) or [{"text": name}]
    text = str(variants[0].get("text", name))
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def utter_error(dispatcher: CollectingDispatcher, tracker: Tracker, error: PaymentsError) -> None:
    """Tell the user what went wrong, worded by the `utter_error_<code>` response."""
    values = {
        "biller": tracker.get_slot("biller") or "",
        "amount": tracker.get_slot("amount") or "",
        "date": tracker.get_slot("date") or "",
    }
    values.update({key: str(value) for key, value in error.params.items() if not isinstance(value, list)})
    buttons = [
        {"title": name, "payload": '/inform{"biller": "' + name.replace('"', "") + '"}'}
        for name in getattr(error, "candidates", [])
    ]
    dispatcher.utter_message(response=f"utter_error_{error.code}", buttons=buttons or None, **values)


def utter_unexpected(dispatcher: CollectingDispatcher) -> None:
    """Apologise for a failure that is not a domain error (the caller logs it)."""
    dispatcher.utter_message(response="utter_error_unexpected")


def guarded(run: RunMethod) -> RunMethod:
    """Wrap an action's `run`: a domain error that escaped is worded by its code; anything else is
    logged and answered with `utter_error_unexpected` instead of a silent (or HTTP 500) turn."""

    @functools.wraps(run)
    async def guarded_run(
        self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except PaymentsError as error:
            utter_error(dispatcher, tracker, error)
        except Exception:
            logger.exception("action %s failed for sender %s", self.name(), tracker.sender_id)
            utter_unexpected(dispatcher)
        # A form whose validation failed asks for the same slot again rather than keep an unchecked value.
        requested = tracker.get_slot("requested_slot")
        if tracker.active_loop_name and requested and self.name().startswith("validate_"):
            return [SlotSet(str(requested), None)]
        return []

    guarded_run.is_guarded = True  # type: ignore[attr-defined]
    return guarded_run


def slots_cleared_after(error: PaymentsError) -> list[EventType]:
    """SlotSet events that forget the refused value(s), so the next message can replace them."""
    names = SLOTS_TO_CLEAR_BY_CODE.get(error.code, PAYMENT_SLOTS)
    return [SlotSet(name, None) for name in names]


def payment_finished() -> list[EventType]:
    """SlotSet events that end the payment in progress."""
    return [SlotSet(name, None) for name in PAYMENT_SLOTS]


def latest_entity_values(tracker: Tracker, entity: str) -> list[str]:
    """Values of `entity` in the latest user message (after synonym mapping)."""
    return [str(value) for value in tracker.get_latest_entity_values(entity)]
