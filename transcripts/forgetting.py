"""A user's conversations, copied out (/mydata) or deleted (/forget): ours and Rasa's.

Two places keep a conversation: our transcripts (conversations and their turns) and Rasa's own
tracker store (every event of the sender, in the SQL tracker store named by RASA_TRACKER_DB). Both
are found by the user's id and their sender ids (`tg-<telegram id>`). Rasa with the in-memory
tracker store keeps nothing after a restart; another tracker store must be emptied its own way.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, inspect, or_, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.models import Conversation, ConversationTurn, ReviewLabel

TRACKER_EVENTS_TABLE = "events"  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent
# Tombstones in the tracker file, read by rasa_project/channels/tracker_store.py (same names there):
# a turn in flight while events are deleted must not save them back. One row per forgotten sender
# (keyed by the sha256 of the sender id, kept TOMBSTONE_DAYS: longer than any turn lasts) and one
# row keyed RETENTION_KEY holding retention's latest cutoff; `cutoff` is a Unix time in seconds.
TOMBSTONE_TABLE = "paychat_forgotten"
RETENTION_KEY = "*retention*"
TOMBSTONE_SECONDS = 24 * 3600
CHECKPOINT_ATTEMPTS = 5
CHECKPOINT_BUSY_MS = 2000
log = logging.getLogger(__name__)


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


def tracker_url(tracker_db: Path) -> URL:
    """The SQLAlchemy URL of exactly this SQLite file: built, not formatted, so a '?', '#' or '%'
    in the path is part of the file name rather than a URL query or escape."""
    return URL.create(drivername="sqlite", database=str(tracker_db))


def sender_key(sender_id: str) -> str:
    """A tombstone's key: the sha256 (hex) of the sender id, not the id itself."""
    return hashlib.sha256(sender_id.encode()).hexdigest()


def _erasing_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # Deleted rows are overwritten with zeros in the pages this connection writes.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


@contextmanager
def _erasing(tracker_db: Path) -> Iterator[Connection | None]:
    """A transaction on the tracker file that erases for good (None without a store or its table):
    secure_delete on, tombstone table present; after the commit the write-ahead log (which still
    holds the deleted rows' old pages) is checkpointed into the file and truncated."""
    if not tracker_db.exists():
        yield None
        return
    engine = create_engine(tracker_url(tracker_db), connect_args={"timeout": 30})
    event.listen(engine, "connect", _erasing_pragmas)
    try:
        if not inspect(engine).has_table(TRACKER_EVENTS_TABLE):
            yield None
            return
        with engine.begin() as connection:
            connection.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {TOMBSTONE_TABLE} "
                    "(sender_key TEXT PRIMARY KEY, cutoff REAL NOT NULL)"
                )
            )
            yield connection
        _checkpoint(engine, tracker_db)
    finally:
        engine.dispose()


def _checkpoint(engine: Engine, tracker_db: Path) -> None:
    """Copy the write-ahead log into the file and truncate it, so no old page of a deleted row is
    left in `<file>-wal`. A reader in the middle of a transaction (Rasa reading a tracker) keeps it
    from completing: retried CHECKPOINT_ATTEMPTS times, then logged (the next erasure retries)."""
    with engine.connect() as connection:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        for attempt in range(CHECKPOINT_ATTEMPTS):
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
            if not busy:
                return
            time.sleep(0.1 * (attempt + 1))
    log.error("tracker store %s: the write-ahead log was not truncated (a reader stayed busy)", tracker_db)


def _tombstone(connection: Connection, key: str, before: float) -> None:
    connection.execute(
        text(
            f"INSERT INTO {TOMBSTONE_TABLE} (sender_key, cutoff) VALUES (:key, :cutoff) "
            "ON CONFLICT (sender_key) DO UPDATE SET cutoff = max(cutoff, excluded.cutoff)"
        ),
        {"key": key, "cutoff": before},
    )


def forget_tracker(tracker_db: Path, sender_ids: Sequence[str]) -> int:
    """Delete every event of these senders from Rasa's SQLite tracker store; returns how many.

    Leaves a tombstone per sender so that a turn in flight does not save the events back (the
    store drops events older than it), and leaves no copy in the write-ahead log or freed pages."""
    now = time.time()
    with _erasing(tracker_db) as connection:
        if connection is None:
            return 0
        connection.execute(
            text(f"DELETE FROM {TOMBSTONE_TABLE} WHERE sender_key != :retention AND cutoff < :expired"),
            {"retention": RETENTION_KEY, "expired": now - TOMBSTONE_SECONDS},
        )
        deleted = 0
        for sender_id in sender_ids:
            result = connection.execute(
                text(f"DELETE FROM {TRACKER_EVENTS_TABLE} WHERE sender_id = :sender"),
                {"sender": sender_id},
            )
            deleted += int(result.rowcount or 0)
            _tombstone(connection, sender_key(sender_id), now)
        return deleted


def forget_tracker_before(tracker_db: Path, cutoff: datetime) -> int:
    """Delete every event older than `cutoff` from Rasa's SQLite tracker store, whoever sent it.

    Retention's counterpart of `forget_tracker`: by age rather than by sender, so events whose
    conversation was anonymized earlier (its sender id replaced) or never recorded go too. The
    cutoff is kept as the retention tombstone: no turn in flight saves older events back.
    """
    with _erasing(tracker_db) as connection:
        if connection is None:
            return 0
        result = connection.execute(
            text(f"DELETE FROM {TRACKER_EVENTS_TABLE} WHERE timestamp < :cutoff"),
            {"cutoff": cutoff.timestamp()},
        )
        _tombstone(connection, RETENTION_KEY, cutoff.timestamp())
        return int(result.rowcount or 0)


def tracker_events(tracker_db: Path, sender_id: str) -> int:
    """How many events Rasa's tracker store holds for a sender (0 without a store)."""
    if not tracker_db.exists():
        return 0
    engine = create_engine(tracker_url(tracker_db))
    try:
        if not inspect(engine).has_table(TRACKER_EVENTS_TABLE):
            return 0
        with engine.connect() as connection:
            query = text(f"SELECT count(*) FROM {TRACKER_EVENTS_TABLE} WHERE sender_id = :sender")
            return int(connection.execute(query, {"sender": sender_id}).scalar_one())
    finally:
        engine.dispose()
