"""The domain and the action server agree: same actions, and a response for every error code."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from rasa_sdk.executor import ActionExecutor

import payments.errors
import payments.limits  # the limit refusals subclass PaymentsError there
import payments.mandates  # the standing mandates' refusals subclass PaymentsError there
from actions.common import SLOTS_TO_CLEAR_BY_CODE
from actions.paying import summary_buttons
from payments.dates import DayRelation
from payments.money import Money
from payments.statuses import PaymentStatus
from payments.views import PaymentSummary

ACTIONS_DIR = Path(__file__).resolve().parents[2] / "actions"
# Raised only by the Stripe webhook endpoint, never by a use case an action calls.
NOT_CONVERSATIONAL = {"webhook_invalid"}


def _error_codes() -> set[str]:
    classes = [payments.errors.PaymentsError, *payments.errors.PaymentsError.__subclasses__()]
    seen: set[str] = set()
    while classes:
        cls = classes.pop()
        if issubclass(cls, payments.errors.StaffOnlyError):
            continue  # the console words these; no chat turn raises them
        seen.add(cls.code)
        classes.extend(cls.__subclasses__())
    return seen - {"payments_error"} - NOT_CONVERSATIONAL


def test_domain_actions_equal_the_registered_actions(domain: dict[str, Any]) -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(domain["actions"]) == set(executor.actions)


def test_every_error_code_has_a_response(domain: dict[str, Any]) -> None:
    missing = {code for code in _error_codes() if f"utter_error_{code}" not in domain["responses"]}
    assert not missing


def test_refused_values_name_known_codes() -> None:
    assert set(SLOTS_TO_CLEAR_BY_CODE) <= _error_codes()


def test_every_response_an_action_names_exists(domain: dict[str, Any]) -> None:
    named = set()
    for path in ACTIONS_DIR.glob("*.py"):
        named |= set(re.findall(r'"(utter_[a-z_]+)"', path.read_text(encoding="utf-8")))
    assert named and named <= set(domain["responses"])


def test_summary_buttons_follow_the_contract(domain: dict[str, Any]) -> None:
    """Confirm and Cancel name the draft and its nonce as entities the domain declares (Rasa drops
    undeclared ones from a payload), kept out of the dialogue state; the summary has no buttons of its own."""
    summary = PaymentSummary(
        payment_id=12, biller_name="B", amount=Money(100, "EUR"), amount_text="€1.00", card_brand="visa",
        card_last4="4242", pay_on=date(2026, 1, 1), pay_on_text="1 Jan 2026", day=DayRelation.TODAY,
        summary_text="Pay", status=PaymentStatus.DRAFT, confirm_nonce="n0nce-_x",
    )  # fmt: skip
    buttons = summary_buttons(domain, summary)
    offer = '{"draft_id":12,"confirm_nonce":"n0nce-_x"}'
    assert buttons == [
        {"title": "Confirm", "payload": "/affirm" + offer},
        {"title": "Change", "payload": "/change"},
        {"title": "Cancel", "payload": "/deny" + offer},
    ]
    assert "buttons" not in domain["responses"]["utter_payment_summary"][0]
    entities = {next(iter(e)) if isinstance(e, dict) else e: e for e in domain["entities"]}
    for name in ("draft_id", "confirm_nonce"):
        assert entities[name] == {name: {"influence_conversation": False}}
        assert name not in domain["slots"]
