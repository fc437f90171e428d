"""Retention of transcripts: conversations older than N days are deleted or anonymized.

Run by the worker each round (scripts/worker.py composes it beside the payments steps). Age is the
conversation's last message (UTC). Anonymizing keeps what tuning needs (the redacted user text,
the intent, confidence and entities the model found, fallbacks) and drops what ties a conversation
to a person: the user link, the sender id, slots, Rasa events and the payment link; the texts of
messages and replies pass through `privacy.redact.redact`. Deleting removes the conversation and
its turns (labels made from its turns keep their redacted text; their turn link is cut).

Rasa's own tracker store keeps the raw text and sender id of every event too: in either mode its
events older than the cutoff are deleted (`expire_tracker`), by age and not by sender, so the events
of a conversation anonymized before (its sender id already replaced) or never recorded go as well.
Rasa needs no old events (a tracker is rebuilt from what is left); tuning works on our anonymized copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import Conversation, ConversationTurn, utcnow
from privacy.redact import redact, redact_value, removed_fragments
from transcripts.forgetting import forget_tracker_before

RetentionMode = Literal["delete", "anonymize"]
BATCH = 500


@dataclass(frozen=True)
class RetentionResult:
    """What one retention pass did."""

    mode: RetentionMode
    cutoff: datetime
    conversations: int
    turns: int
    tracker_events: int = 0


def apply_retention(
    session: Session, *, older_than_days: int, mode: RetentionMode, now: datetime | None = None
) -> RetentionResult:
    """Delete or anonymize conversations whose last message is older than the cutoff; the caller commits.

    `older_than_days` 0 keeps everything. Conversations already anonymized are left alone.
    """
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    if older_than_days <= 0:
        return RetentionResult(mode=mode, cutoff=cutoff, conversations=0, turns=0)
    query = select(Conversation).where(Conversation.last_message_at < cutoff).order_by(Conversation.id)
    if mode == "anonymize":
        query = query.where(Conversation.anonymized_at.is_(None))
    conversations = list(session.scalars(query.limit(BATCH)))
    ids = [c.id for c in conversations]
    if not ids:
        return RetentionResult(mode=mode, cutoff=cutoff, conversations=0, turns=0)
    turns = list(session.scalars(select(ConversationTurn).where(ConversationTurn.conversation_id.in_(ids))))
    if mode == "delete":
        session.execute(delete(ConversationTurn).where(ConversationTurn.conversation_id.in_(ids)))
        session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
        session.flush()
        return RetentionResult(mode=mode, cutoff=cutoff, conversations=len(ids), turns=len(turns))
    stamp = now or utcnow()
    for conversation in conversations:
        conversation.user_id = None
        conversation.sender_id = f"anonymized-{conversation.id}"
        conversation.anonymized_at = stamp
    for turn in turns:
        removed = removed_fragments(turn.user_text)
        turn.user_text = redact(turn.user_text)
        turn.replies = [{"text": redact(str(r.get("text") or ""))} for r in (turn.replies or [])]
        turn.entities = redact_value(turn.entities or [], removed)
        turn.ranking = list(turn.ranking or [])
        turn.slots = {}
        turn.events = []
        turn.payment_id = None
    session.flush()
    return RetentionResult(mode=mode, cutoff=cutoff, conversations=len(ids), turns=len(turns))


def expire_tracker(tracker_db: Path, *, older_than_days: int, now: datetime | None = None) -> int:
    """Delete the events of Rasa's SQLite tracker store older than the cutoff; returns how many.

    The same rule as `apply_retention` (0 days keeps everything); idempotent, so a pass that
    finds the store locked is made up by the next one.
    """
    if older_than_days <= 0:
        return 0
    return forget_tracker_before(tracker_db, (now or utcnow()) - timedelta(days=older_than_days))
