"""Values never overwrite the reply (issue 10, item 8), and every code the core can return is worded."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.common import PLACEHOLDER, VALUE_PREFIX, utter_error
from actions.paying import RESULT_RESPONSES, failure_reason
from bot.texts import FAILURE_REASONS
from payments.dates import DayRelation, parse_pay_date
from payments.errors import DateInvalidError, PaymentsError
from payments.gateway import FailureCode
from payments.statuses import PaymentStatus
from tests.actions.conftest import SOMEONE, as_rasa_says, make_tracker

# Every keyword of rasa-sdk's utter_message, and every key Rasa reads from a bot message.
RESERVED = (
    "text",
    "image",
    "json_message",
    "response",
    "attachment",
    "buttons",
    "elements",
    "template",
    "custom",
    "kwargs",
    "quick_replies",
    "channel",
    "recipient_id",
    "utter_action",
)


class EveryReservedNameError(PaymentsError):
    """An error whose parameters carry every reserved name (it borrows the date_invalid wording)."""

    code: ClassVar[str] = "date_invalid"


@pytest.mark.parametrize(
    "error",
    [
        DateInvalidError(text="the end of the month"),
        EveryReservedNameError(**{name: f"raw user value for {name}" for name in RESERVED}),
    ],
)
def test_error_values_never_replace_the_reply(domain: dict[str, Any], error: PaymentsError) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(SOMEONE, slots={"date": "the end of the month"})
    utter_error(dispatcher, tracker, error)
    [message] = dispatcher.messages
    assert message["response"] == "utter_error_date_invalid"
    reply = as_rasa_says(domain, message)
    assert reply["text"].startswith("I couldn't read “the end of the month” as a date.")
    assert reply.get("buttons", []) == [] and not reply.get("image") and not reply.get("custom")
    assert "raw user value" not in repr(reply.get("text"))


def test_every_failure_code_is_worded_in_chat_and_on_telegram(domain: dict[str, Any]) -> None:
    missing = {code for code in FailureCode if f"utter_failure_reason_{code}" not in domain["responses"]}
    assert not missing and "utter_failure_reason_unknown" in domain["responses"]
    assert set(FAILURE_REASONS) == {code.value for code in FailureCode}


def test_every_day_relation_and_status_is_worded(domain: dict[str, Any]) -> None:
    assert {f"utter_day_{day}" for day in DayRelation} <= set(domain["responses"])
    assert {f"utter_status_{status}" for status in PaymentStatus} <= set(domain["responses"])
    assert set(RESULT_RESPONSES) == {status.value for status in PaymentStatus}


def test_every_placeholder_is_namespaced(domain: dict[str, Any]) -> None:
    """Only values an action passes fill a response: no slot, no utter_message keyword."""
    for name, variants in domain["responses"].items():
        for variant in variants:
            for placeholder in PLACEHOLDER.findall(str(variant.get("text", ""))):
                assert placeholder.startswith(VALUE_PREFIX), (name, placeholder)


def test_a_failure_is_worded_by_its_code_not_by_the_processor(domain: dict[str, Any]) -> None:
    assert failure_reason(domain, "card_declined", "Anything Stripe said") == "Your card was declined."
    assert failure_reason(domain, "do_not_honor", "Stripe's words") == "Stripe's words."
    assert failure_reason(domain, None, None) == "The card processor declined it."


@pytest.mark.parametrize(("said", "shown"), [("yesterday", "1 Dec 2026"), ("in 3 years", "2 Dec 2029")])
def test_a_refused_date_is_told_in_the_users_words_and_their_calendar(
    domain: dict[str, Any], said: str, shown: str
) -> None:
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with pytest.raises(PaymentsError) as refused:
        parse_pay_date(said, timezone="Europe/Berlin", now=now, horizon_days=365)
    dispatcher = CollectingDispatcher()
    utter_error(dispatcher, make_tracker(SOMEONE, slots={"date": said}), refused.value)
    [message] = dispatcher.messages
    text = as_rasa_says(domain, message)["text"]
    assert f"“{said}” ({shown})" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no ISO date, as if the user had typed one
