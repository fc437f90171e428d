"""Frozen views of recorded conversations and turns — callers never see ORM objects.

Every text a view carries (the message, the replies, entities, slots, events) has passed through
`privacy.redact.redact`: card numbers, IBANs, e-mail addresses, phone numbers and person names are
masked before a transcript is shown (console pages, JSON API) or exported (tuning/).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.models import ConversationTurn
from privacy.redact import redact, redact_value, removed_fragments


@dataclass(frozen=True)
class TurnView:
    """One recorded turn with its annotations."""

    id: int
    conversation_id: int
    seq: int
    user_text: str
    replies: list[dict[str, Any]]
    intent: str | None
    confidence: float | None
    ranking: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    slots: dict[str, Any]
    events: list[dict[str, Any]]
    actions: list[str]
    payment_id: int | None
    payment_status: str | None
    previous_payment_status: str | None
    is_fallback: bool
    created_at: datetime


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as the transcript list shows it."""

    id: int
    sender_id: str
    channel: str
    user_id: int | None
    user_name: str | None
    is_test: bool
    started_at: datetime
    last_message_at: datetime
    turn_count: int
    intents: list[str]
    min_confidence: float | None
    fallback_count: int
    payment_statuses: list[str]


@dataclass(frozen=True)
class ConversationDetail:
    """A conversation with all of its turns, in order."""

    summary: ConversationSummary
    turns: list[TurnView]


@dataclass(frozen=True)
class TestUserView:
    """A user flagged is_test, whom staff may impersonate in the test chat."""

    id: int
    name: str
    locale: str
    currency: str
    telegram_user_id: int | None


def actions_run(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of the actions a turn's events show were run (action_listen left out)."""
    return [
        str(event["name"])
        for event in events
        if event.get("event") == "action" and event.get("name") and event.get("name") != "action_listen"
    ]


def turn_view(row: ConversationTurn, previous_status: str | None) -> TurnView:
    """The turn as staff may see it: every text redacted (module docstring); what the redaction
    of the message removed is masked in its entities, slots and events too."""
    removed = removed_fragments(row.user_text)
    return TurnView(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        user_text=redact(row.user_text),
        replies=redact_value(list(row.replies or [])),
        intent=row.intent,
        confidence=row.confidence,
        ranking=list(row.ranking or []),
        entities=redact_value(list(row.entities or []), removed),
        slots=redact_value(dict(row.slots or {}), removed),
        events=redact_value(list(row.events or []), removed),
        actions=actions_run(row.events or []),
        payment_id=row.payment_id,
        payment_status=row.payment_status,
        previous_payment_status=previous_status,
        is_fallback=row.is_fallback,
        created_at=row.created_at,
    )
