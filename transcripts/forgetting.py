"""A user's conversations, copied out (/mydata) or deleted (/forget): ours and Rasa's.

Two places keep a conversation: our transcripts (conversations and their turns) and Rasa's own
tracker store (every event of the sender, in the SQL tracker store named by RASA_TRACKER_DB). Both
are found by the user's id and their sender ids (`tg-<telegram id>`). Rasa with the in-memory
tracker store keeps nothing after a restart; another tracker store must be emptied its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, inspect, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Conversation, ConversationTurn, ReviewLabel

TRACKER_EVENTS_TABLE = "events"  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent


def _theirs(user_id: int | None, sender_ids: Sequence[str]) -> Any:
    clauses: list[ColumnElement[bool]] = [Conversation.sender_id.in_(list(sender_ids))]
    if user_id is not None:
        clauses.append(Conversation.user_id == user_id)
    return or_(*clauses)


def export_conversations(
    session: Session, *, user_id: int | None, sender_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The user's recorded conversations with every turn, as JSON-ready values."""
    out = []
    for conversation in session.scalars(
        select(Conversation).where(_theirs(user_id, sender_ids)).order_by(Conversation.id)
    ):
        turns = session.scalars(
            select(ConversationTurn)
            .where(ConversationTurn.conversation_id == conversation.id)
            .order_by(ConversationTurn.seq)
        )
        out.append(
            {
                "channel": conversation.channel,
                "started_at": conversation.started_at.isoformat(),
                "turns": [
                    {
                        "at": turn.created_at.isoformat(),
                        "you": turn.user_text,
                        "assistant": [r.get("text") for r in turn.replies or [] if isinstance(r, dict)],
                        "understood_as": turn.intent,
                    }
                    for turn in turns
                ],
            }
        )
    return out


def forget_conversations(session: Session, *, user_id: int | None, sender_ids: Sequence[str]) -> int:
    """Delete the user's transcripts (conversations and turns) and the review labels made from
    their turns (a label holds the message text, and every later NLU export would write it);
    returns how many turns went."""
    ids = list(session.scalars(select(Conversation.id).where(_theirs(user_id, sender_ids))))
    if not ids:
        return 0
    turn_ids = select(ConversationTurn.id).where(ConversationTurn.conversation_id.in_(ids))
    session.execute(delete(ReviewLabel).where(ReviewLabel.turn_id.in_(turn_ids)))
    turns = session.execute(delete(ConversationTurn).where(ConversationTurn.conversation_id.in_(ids)))
    session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
    return int(getattr(turns, "rowcount", 0) or 0)


def forget_tracker(tracker_db: Path, sender_ids: Sequence[str]) -> int:
    """Delete every event of these senders from Rasa's SQLite tracker store; returns how many."""
    if not tracker_db.exists():
        return 0
    engine = create_engine(f"sqlite:///{tracker_db}", connect_args={"timeout": 30})
    try:
        if not inspect(engine).has_table(TRACKER_EVENTS_TABLE):
            return 0
        with engine.begin() as connection:
            deleted = 0
            for sender_id in sender_ids:
                result = connection.execute(
                    text(f"DELETE FROM {TRACKER_EVENTS_TABLE} WHERE sender_id = :sender"),
                    {"sender": sender_id},
                )
                deleted += int(result.rowcount or 0)
            return deleted
    finally:
        engine.dispose()


def forget_tracker_before(tracker_db: Path, cutoff: datetime) -> int:
    """Delete every event older than `cutoff` from Rasa's SQLite tracker store, whoever sent it.

    Retention's counterpart of `forget_tracker`: by age rather than by sender, so events whose
    conversation was anonymized earlier (its sender id replaced) or never recorded go too.
    """
    if not tracker_db.exists():
        return 0
    engine = create_engine(f"sqlite:///{tracker_db}", connect_args={"timeout": 30})
    try:
        if not inspect(engine).has_table(TRACKER_EVENTS_TABLE):
            return 0
        with engine.begin() as connection:
            result = connection.execute(
                text(f"DELETE FROM {TRACKER_EVENTS_TABLE} WHERE timestamp < :cutoff"),
                {"cutoff": cutoff.timestamp()},
            )
            return int(result.rowcount or 0)
    finally:
        engine.dispose()


def tracker_events(tracker_db: Path, sender_id: str) -> int:
    """How many events Rasa's tracker store holds for a sender (0 without a store)."""
    if not tracker_db.exists():
        return 0
    engine = create_engine(f"sqlite:///{tracker_db}")
    try:
        if not inspect(engine).has_table(TRACKER_EVENTS_TABLE):
            return 0
        with engine.connect() as connection:
            query = text(f"SELECT count(*) FROM {TRACKER_EVENTS_TABLE} WHERE sender_id = :sender")
            return int(connection.execute(query, {"sender": sender_id}).scalar_one())
    finally:
        engine.dispose()
