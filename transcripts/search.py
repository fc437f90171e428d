"""Searching and exporting transcripts for staff: free text over the redacted messages, lookup by
Telegram id, and the filtered turns as flat rows for CSV/JSON export.

Everything here reads text through `redact_for_review` first, so a search can only find what a
reviewer may see (searching for a redacted value finds nothing) and an export never carries it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import Conversation, ConversationTurn, User
from transcripts.queries import _filtered, _summary, _turns_of
from transcripts.redaction import redact_for_review
from transcripts.views import ConversationSummary

MAX_QUERY = 200
BATCH = 500


@dataclass(frozen=True)
class ExportRow:
    """One turn, redacted, with its conversation's facts: one line of an export."""

    conversation_id: int
    sender_id: str
    channel: str
    user_id: int | None
    user_name: str | None
    telegram_user_id: int | None
    is_test: bool
    seq: int
    created_at: datetime
    user_text: str
    assistant_text: str
    intent: str | None
    confidence: float | None
    is_fallback: bool
    payment_id: int | None
    payment_status: str | None


def reply_text(replies: list[dict[str, Any]]) -> str:
    """The assistant's messages of a turn as one text (button titles in brackets)."""
    parts = []
    for reply in replies:
        text = str(reply.get("text") or "")
        buttons = " ".join(f"[{b.get('title')}]" for b in reply.get("buttons") or [] if b.get("title"))
        parts.append(f"{text} {buttons}".strip())
    return "\n".join(part for part in parts if part)


def _matches(turn: ConversationTurn, needle: str) -> bool:
    haystack = (
        redact_for_review(turn.user_text) + "\n" + redact_for_review(reply_text(list(turn.replies or [])))
    )
    return needle in haystack.casefold()


def _conversations(session: Session, *, telegram_user_id: int | None, filters: dict[str, Any]) -> Any:
    query = select(Conversation, User.name, User.telegram_user_id).outerjoin(
        User, User.id == Conversation.user_id
    )
    query = _filtered(query, channel=None, **filters)
    if telegram_user_id is not None:
        query = query.where(
            or_(
                Conversation.sender_id == f"tg-{telegram_user_id}",
                Conversation.user_id.in_(select(User.id).where(User.telegram_user_id == telegram_user_id)),
            )
        )
    return query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())


@dataclass(frozen=True)
class _Match:
    conversation: Conversation
    user_name: str | None
    telegram_user_id: int | None
    turns: list[ConversationTurn]
    hits: list[ConversationTurn]


def _matching_turns(
    session: Session, *, text: str | None, telegram_user_id: int | None, filters: dict[str, Any]
) -> Iterator[_Match]:
    """Each filtered conversation, newest first, with its turns that contain `text` (all when None)."""
    needle = unicodedata.normalize("NFKC", text or "").strip().casefold()[:MAX_QUERY]  # as redact does
    rows = session.execute(_conversations(session, telegram_user_id=telegram_user_id, filters=filters)).all()
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        turns = _turns_of(session, [row[0].id for row in batch])
        for conversation, name, tg_id in batch:
            own = turns.get(conversation.id, [])
            hits = [t for t in own if _matches(t, needle)] if needle else own
            if hits:
                yield _Match(conversation, name, tg_id, own, hits)


def search_conversations(
    session: Session,
    *,
    text: str | None,
    telegram_user_id: int | None = None,
    limit: int = 50,
    **filters: Any,
) -> list[ConversationSummary]:
    """Conversations matching the transcript filters that have a turn containing `text` (redacted,
    case-insensitive; any turn when `text` is empty), optionally of one Telegram account; newest first."""
    found: list[ConversationSummary] = []
    for match in _matching_turns(session, text=text, telegram_user_id=telegram_user_id, filters=filters):
        found.append(_summary(match.conversation, match.user_name, match.turns))
        if len(found) >= limit:
            break
    return found


def export_rows(
    session: Session,
    *,
    text: str | None,
    telegram_user_id: int | None = None,
    limit: int = 10_000,
    **filters: Any,
) -> list[ExportRow]:
    """The turns of the filtered set (only those containing `text` when given), redacted, as rows."""
    rows: list[ExportRow] = []
    for match in _matching_turns(session, text=text, telegram_user_id=telegram_user_id, filters=filters):
        conversation = match.conversation
        for turn in match.hits:
            rows.append(
                ExportRow(
                    conversation_id=conversation.id,
                    sender_id=conversation.sender_id,
                    channel=conversation.channel,
                    user_id=conversation.user_id,
                    user_name=match.user_name,
                    telegram_user_id=match.telegram_user_id,
                    is_test=conversation.is_test,
                    seq=turn.seq,
                    created_at=turn.created_at,
                    user_text=redact_for_review(turn.user_text),
                    assistant_text=redact_for_review(reply_text(list(turn.replies or []))),
                    intent=turn.intent,
                    confidence=turn.confidence,
                    is_fallback=turn.is_fallback,
                    payment_id=turn.payment_id,
                    payment_status=turn.payment_status,
                )
            )
            if len(rows) >= limit:
                return rows
    return rows
