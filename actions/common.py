"""Helpers shared by the actions: one call into payments, wording from the domain, errors in one place.

The wording users see lives in rasa_project/domain.yml. Actions utter a response by name with
values for its `{v_…}` placeholders, or, for lists built line by line, fill a response's text from
the domain they receive. Every value travels under the `v_` namespace, so no value (a user's
"the end of the month" in an error's `text`) can ever reach one of utter_message's own keywords.
A domain error escaping an action is worded by its code in exactly one place: `@guarded`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_services
from observability.context import bind_payment, conversation
from observability.metrics import ACTION_SECONDS, DB_STATEMENTS
from observability.statements import counting
from payments.dates import LocalMoment, format_day
from payments.errors import PaymentsError
from payments.money import Money, format_money

T = TypeVar("T")
RunMethod = Callable[[Any, CollectingDispatcher, Tracker, dict[str, Any]], Awaitable[list[EventType]]]
# What an action forgets when a domain error ends it (SlotSet events), given the error and the tracker.
Forget = Callable[[PaymentsError, Tracker], list[EventType]]

logger = logging.getLogger(__name__)

# Every value a response is filled with travels as `v_<name>`: the namespace of template values.
VALUE_PREFIX = "v_"
PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")  # what Rasa's interpolator fills
DEFAULT_LOCALE = "en_IE"

# Slots that describe the payment in progress; cleared together when it ends.
PAYMENT_SLOTS = (
    "biller", "amount", "date", "bill_id", "pending_payment_id", "payment_summary", "payment_id",
    # issue 13 item 2: the payment (or autopay offer) waiting for its one-time code, the form's code slot
    "step_up_payment_id", "step_up_mandate_offer", "step_up_code",
)  # fmt: skip

# A wrong one-time code (a payment's, an autopay's): asked again, its last try worded on its own.
WRONG_CODE = ("step_up_code_wrong", "mandate_step_up_code_wrong")

# The confirmed payment the assistant just said can still be cancelled ("just say “cancel”"): a
# following stop / deny / cancel_payment cancels that payment, not another one (actions.paying,
# actions.bills). Set only by action_confirm_payment; cleared by a new summary or once used.
CANCELLABLE_SLOT = "cancellable_payment_id"

# Which slot a refused value came from, so the user is asked for that value again.
SLOTS_TO_CLEAR_BY_CODE: dict[str, tuple[str, ...]] = {
    "biller_unknown": ("biller", "bill_id"),
    "biller_ambiguous": ("biller", "bill_id"),
    "bill_not_found": ("biller", "bill_id"),
    "amount_invalid": ("amount",),
    "amount_currency_mismatch": ("amount",),
    "amount_notation": ("amount",),
    "amount_unread": ("amount",),
    "amount_ambiguous": ("amount",),
    "amount_not_positive": ("amount",),
    "amount_too_precise": ("amount",),
    "amount_below_minimum": ("amount",),
    "amount_above_outstanding": ("amount",),
    "limit": ("amount",),
    "limit_per_payment": ("amount",),
    "limit_daily": ("amount",),
    "limit_monthly": ("amount",),
    "date_invalid": ("date",),
    "date_in_past": ("date",),
    "date_too_far": ("date",),
}

# A refused tap on a summary that is not the live one: the live summary (and its slots) stay as they were.
SUMMARY_KEPT_CODES = frozenset(
    {
        "confirmation_stale",
        "confirmation_used",
        "confirmation_invalid",
        "consent_mismatch",
        "confirmation_amount",
    }
)

# A used-up summary is worded by where its payment stands now: never "charged" when it was not,
# never "nothing charged" when it may yet be (default: utter_error_confirmation_used, nothing charged).
CONFIRMATION_USED_RESPONSES: dict[str, str] = {
    "succeeded": "utter_error_confirmation_used_paid",
    "approved": "utter_error_confirmation_used_pending",
    "processing": "utter_error_confirmation_used_pending",
    "unknown": "utter_error_confirmation_used_pending",
    "requires_action": "utter_error_confirmation_used_pending",
    "awaiting_approval": "utter_error_confirmation_used_pending",
}


def error_response(error: PaymentsError) -> str:
    """The response wording a domain error: `utter_error_<code>`; a used summary's by its payment's
    status; a wrong code's last try by its own (singular) response."""
    if error.code == "confirmation_used":
        status = str(error.params.get("payment_status") or "")
        return CONFIRMATION_USED_RESPONSES.get(status, "utter_error_confirmation_used")
    if error.code in WRONG_CODE and error.params.get("attempts_left") == 1:
        return f"utter_error_{error.code}_last"  # "1 more try", not "1 more tries"
    return f"utter_error_{error.code}"


async def call_as_sender(tracker: Tracker, use_case: Callable[..., T], **kwargs: Any) -> T:
    """Run one payments use case as the conversation's user, off the event loop (SQL and Stripe block).

    The sender id is resolved to the user in the same worker thread, so an action makes one hop.
    """
    service = get_services()

    def run() -> T:
        # The context was copied into this thread: the payment's id tags the core's log lines.
        bind_payment(kwargs.get("payment_id") or kwargs.get("replacing_payment_id"))
        return use_case(user_id=service.user_id_for_sender(sender_id=tracker.sender_id), **kwargs)

    return await asyncio.to_thread(run)


def display(value: Any, locale: str = DEFAULT_LOCALE) -> str:
    """A typed value as text for a response: Money and dates in the user's locale, the rest as is."""
    if isinstance(value, Money):
        return format_money(value, locale)
    if isinstance(value, date):
        return format_day(value, locale)
    return "" if value is None else str(value)


def template_values(values: Mapping[str, Any], locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """`values` under the `v_` namespace, displayed; lists (button choices) are left out."""
    return {
        VALUE_PREFIX + name: display(value, locale)
        for name, value in values.items()
        if not isinstance(value, list)
    }


def utter(
    dispatcher: CollectingDispatcher,
    response: str,
    values: Mapping[str, Any] | None = None,
    *,
    buttons: list[dict[str, str]] | None = None,
) -> None:
    """Utter `response` with its `{v_<name>}` placeholders filled from `values` (namespaced: no collision)."""
    dispatcher.utter_message(response=response, buttons=buttons or None, **template_values(values or {}))


def response_text(domain: dict[str, Any], name: str, values: Mapping[str, Any] | None = None) -> str:
    """The first text variant of response `name` in the domain, filled as Rasa fills it."""
    variants = domain.get("responses", {}).get(name) or [{"text": name}]
    text = str(variants[0].get("text", name))
    filled = template_values(values or {})
    return PLACEHOLDER.sub(lambda m: filled.get(m.group(1), m.group(0)), text)


def has_response(domain: dict[str, Any], name: str) -> bool:
    """True when the domain defines response `name`."""
    return bool(domain.get("responses", {}).get(name))


def moment_text(domain: dict[str, Any], moment: LocalMoment) -> str:
    """A moment as the user reads it: "tomorrow at 00:00", "on 1 Jan 2027 at 00:00" (`utter_at_<day>`)."""
    return response_text(
        domain, f"utter_at_{moment.day}", {"date_text": moment.date_text, "time_text": moment.time_text}
    )


def utter_error(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    error: PaymentsError,
    domain: dict[str, Any] | None = None,
) -> None:
    """Tell the user what went wrong, worded by the `utter_error_<code>` response (moments the error
    carries, like when a limit resets, worded by the domain's `utter_at_<day>`)."""
    values: dict[str, Any] = {
        "biller": tracker.get_slot("biller") or "",
        "amount": tracker.get_slot("amount") or "",
        "date": tracker.get_slot("date") or "",
    }
    for name, value in error.params.items():
        values[name] = moment_text(domain or {}, value) if isinstance(value, LocalMoment) else value
    if isinstance(error.params.get("reasons"), list):
        # Reason codes (a risk refusal's) worded by the domain (issue 13).
        from actions.step_up import reasons_text

        values["reasons_text"] = reasons_text(domain or {}, error.params["reasons"])
    buttons = [
        {"title": name, "payload": '/inform{"biller": "' + name.replace('"', "") + '"}'}
        for name in getattr(error, "candidates", [])
    ]
    locale = str(error.params.get("locale") or DEFAULT_LOCALE)
    dispatcher.utter_message(
        response=error_response(error), buttons=buttons or None, **template_values(values, locale)
    )


def utter_unexpected(dispatcher: CollectingDispatcher) -> None:
    """Apologise for a failure that is not a domain error (the caller logs it)."""
    dispatcher.utter_message(response="utter_error_unexpected")


def forget_nothing(error: PaymentsError, tracker: Tracker) -> list[EventType]:
    """A read-only action keeps every slot when it is refused."""
    return []


def guarded(forget: Forget = forget_nothing) -> Callable[[RunMethod], RunMethod]:
    """Wrap an action's `run`: the one place where a domain error is worded by its code (and the
    slots `forget` names are cleared); anything else is logged and answered with
    `utter_error_unexpected` instead of a silent (or HTTP 500) turn."""

    def decorate(run: RunMethod) -> RunMethod:
        @functools.wraps(run)
        async def guarded_run(
            self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
        ) -> list[EventType]:
            events: list[EventType] = []
            started, outcome, code = time.perf_counter(), "ok", None
            with conversation(tracker.sender_id), counting() as work:
                try:
                    return await run(self, dispatcher, tracker, domain)
                except PaymentsError as error:
                    outcome, code = "refused", error.code
                    utter_error(dispatcher, tracker, error, domain)
                    events = forget(error, tracker)
                except Exception:
                    outcome = "error"
                    logger.exception("action %s failed", self.name())
                    utter_unexpected(dispatcher)
                finally:
                    seconds = time.perf_counter() - started
                    ACTION_SECONDS.labels(action=self.name(), outcome=outcome).observe(seconds)
                    DB_STATEMENTS.labels(action=self.name()).observe(work.statements)
                    logger.info(
                        "action %s %s",
                        self.name(),
                        outcome,
                        extra={
                            "action": self.name(),
                            "code": code,
                            "seconds": round(seconds, 4),
                            "db_statements": work.statements,
                        },
                    )
            # A form whose validation failed asks for the same slot again rather than keep an unchecked value.
            requested = tracker.get_slot("requested_slot")
            asking = tracker.active_loop_name and requested and self.name().startswith("validate_")
            if asking and not any(event.get("name") == requested for event in events):
                events = [*events, SlotSet(str(requested), None)]
            return events

        guarded_run.is_guarded = True  # type: ignore[attr-defined]
        return guarded_run

    return decorate


def slots_cleared_after(error: PaymentsError, tracker: Tracker | None = None) -> list[EventType]:
    """SlotSet events that forget the refused value(s), so the next message can replace them."""
    names = SLOTS_TO_CLEAR_BY_CODE.get(error.code, PAYMENT_SLOTS)
    return [SlotSet(name, None) for name in names]


def payment_finished(error: PaymentsError | None = None) -> list[EventType]:
    """SlotSet events that end the payment in progress."""
    return [SlotSet(name, None) for name in PAYMENT_SLOTS]


def offered_for_cancelling(tracker: Tracker) -> int | None:
    """The id of the payment the assistant said can still be cancelled in its reply to the user's
    previous message, if any.

    The offer answers only the very next message: an offer set before an earlier user message is
    stale (a "no" typed an hour later about something else must not cancel a scheduled payment), so
    the slot counts only when its latest SlotSet event comes after the second-latest user event.
    """
    offered = tracker.get_slot(CANCELLABLE_SLOT)
    if not offered:
        return None
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users += 1
            if users > 1:
                return None  # set before the user's previous message: stale
        elif event.get("event") == "slot" and event.get("name") == CANCELLABLE_SLOT:
            if not event.get("value"):
                return None  # cleared since
            try:
                return int(event["value"])
            except (TypeError, ValueError):
                return None
    return None


def latest_entity_values(tracker: Tracker, entity: str) -> list[str]:
    """Values of `entity` in the latest user message (after synonym mapping)."""
    return [str(value) for value in tracker.get_latest_entity_values(entity)]
