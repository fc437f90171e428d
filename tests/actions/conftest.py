"""Fixtures for action tests: the real domain, real rasa-sdk Trackers, a real PaymentsService."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from ruamel.yaml import YAML

from actions.services import reset_services, set_services
from payments import demo
from payments.service import PaymentsService

DOMAIN_PATH = Path(__file__).resolve().parents[2] / "rasa_project" / "domain.yml"
# A sender for actions that never get as far as looking the user up (a broken service, no payment).
SOMEONE = "console-1-actions_test"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """domain.yml as the dict rasa-sdk hands to actions."""
    return dict(YAML(typ="safe").load(DOMAIN_PATH.read_text(encoding="utf-8")))


@pytest.fixture
def service(payments_service: PaymentsService) -> Iterator[PaymentsService]:
    """The shared test PaymentsService, installed as the action server's service."""
    set_services(payments_service)
    yield payments_service
    reset_services()


def demo_sender(service: PaymentsService, key: str) -> str:
    """The console sender id of the demo user `key` (demo users are console-only, contracts.md)."""
    with service.session_factory() as session:
        user_id = demo.demo_user_id(session, key)
    assert user_id is not None, "the demo data is not loaded"
    return f"console-{user_id}-actions_test"


@pytest.fixture
def alex(service: PaymentsService) -> str:
    """Alex Demo, whose Visa 4242 succeeds."""
    return demo_sender(service, demo.ALEX)


@pytest.fixture
def dana(service: PaymentsService) -> str:
    """Dana Decline, whose card is declined."""
    return demo_sender(service, demo.DANA)


@pytest.fixture
def sam(service: PaymentsService) -> str:
    """Sam Secure, whose card needs 3-D Secure."""
    return demo_sender(service, demo.SAM)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    """A fresh dispatcher collecting what the action says."""
    return CollectingDispatcher()


def make_tracker(
    sender_id: str,
    *,
    slots: dict[str, Any] | None = None,
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    text: str = "",
    ranking: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    """A real rasa-sdk Tracker whose latest message has `intent`, `entities` and front-end `metadata`."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.99}],
        "entities": entities or [],
        "metadata": metadata or {},
    }
    return Tracker(
        sender_id,
        slots or {},
        latest,
        events or _offer_then(slots or {}, {"event": "user", "text": text, "parse_data": latest}),
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The final value of every slot the returned events set."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


def as_rasa_says(domain: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """What Rasa 3.6 sends the user for one dispatcher message (RemoteAction._utter_responses).

    The response's first variant is filled with the message's extra keys (Rasa passes every key of
    the message to its NLG as template values), then every non-empty key of the message is copied
    over the filled response: a value named like one of utter_message's keywords would replace it.
    """
    message = dict(message)
    name = message.pop("response", None)
    draft: dict[str, Any] = {}
    if name:
        draft = dict(domain["responses"][name][0])
        values = {key: value for key, value in message.items()}
        if draft.get("text"):
            draft["text"] = PLACEHOLDER.sub(
                lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), draft["text"]
            )
    buttons = message.pop("buttons", []) or []
    if buttons:
        draft["buttons"] = [*draft.get("buttons", []), *buttons]
    draft.update({key: value for key, value in message.items() if value})
    return draft


def said(domain: dict[str, Any], dispatcher: Any) -> list[str]:
    """The texts the user reads for everything the dispatcher collected."""
    return [str(as_rasa_says(domain, message).get("text")) for message in dispatcher.messages]


def _offer_then(slots: dict[str, Any], user_event: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a conversation whose previous reply set the slots given (as Rasa's tracker holds
    them: the SlotSet before the user's latest message), then that message."""
    offered = slots.get("cancellable_payment_id")
    before = [{"event": "slot", "name": "cancellable_payment_id", "value": offered}] if offered else []
    return [*before, user_event]
