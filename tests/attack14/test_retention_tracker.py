"""attack14: retention left old conversations whole in Rasa's tracker store.

Each test commits into its own fresh SQLite database (migrated here) and its own tracker file, so
nothing is left behind for other tests (tests/transcripts/test_retention.py counts conversations).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Conversation, utcnow
from scripts.worker import retention_step
from settings import Settings
from tests.helpers.factories import make_user
from transcripts import record_turn
from transcripts.forgetting import tracker_events
from transcripts.retention import expire_tracker

TEXT = "I am Anna Weber, call +44 20 7946 0958"


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'retention.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _tracker(path: Path, events: list[tuple[str, int]]) -> Path:
    """A Rasa SQL tracker store (its events table) with (sender, age in days) user events."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
            "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"
        )
        for sender, age in events:
            db.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, 'user', ?, ?)",
                (sender, (utcnow() - timedelta(days=age)).timestamp(), f'{{"text": "{TEXT}"}}'),
            )
    return path


def _conversation(factory: sessionmaker[Session], sender: str, age_days: int) -> int:
    with factory.begin() as session:
        user = make_user(session)
        view = record_turn(
            session,
            sender_id=sender,
            channel="telegram",
            user_id=user.id,
            is_test=False,
            user_text=TEXT,
            turn={"parse": {}, "replies": [], "slots": {}, "events": []},
        )
        conversation = session.get(Conversation, view.conversation_id)
        assert conversation is not None
        conversation.last_message_at = utcnow() - timedelta(days=age_days)
        return conversation.id


def _settings(tracker: Path, mode: str, days: int = 90) -> Settings:
    return Settings(  # type: ignore[call-arg]
        TRANSCRIPT_RETENTION_DAYS=days, TRANSCRIPT_RETENTION_MODE=mode, RASA_TRACKER_DB=str(tracker)
    )


@pytest.mark.parametrize("mode", ["delete", "anonymize"])
def test_retention_also_clears_the_tracker_store(
    factory: sessionmaker[Session], tmp_path: Path, mode: str
) -> None:
    sender = f"tg-attack14-{mode}"
    tracker = _tracker(tmp_path / "rasa-tracker.db", [(sender, 400)])
    _conversation(factory, sender, 400)

    result = retention_step(_settings(tracker, mode), factory)()

    assert result is not None and result.conversations == 1 and result.tracker_events == 1
    assert tracker_events(tracker, sender) == 0
    assert TEXT not in tracker.read_bytes().decode("utf-8", "replace")


def test_recent_events_of_the_same_sender_stay(factory: sessionmaker[Session], tmp_path: Path) -> None:
    tracker = _tracker(tmp_path / "rasa-tracker.db", [("tg-7", 400), ("tg-7", 2), ("tg-8", 10)])
    _conversation(factory, "tg-7", 400)

    result = retention_step(_settings(tracker, "anonymize"), factory)()

    assert result is not None and result.tracker_events == 1
    assert (tracker_events(tracker, "tg-7"), tracker_events(tracker, "tg-8")) == (1, 1)


def test_events_whose_conversation_was_anonymized_before_go_too(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    # An earlier pass (before the tracker was covered) replaced the sender id: only age links them.
    tracker = _tracker(tmp_path / "rasa-tracker.db", [("tg-9", 400), ("tg-unrecorded", 200)])

    result = retention_step(_settings(tracker, "anonymize"), factory)()

    assert result is not None and result.conversations == 0 and result.tracker_events == 2
    assert tracker_events(tracker, "tg-9") == tracker_events(tracker, "tg-unrecorded") == 0


def test_zero_days_keeps_the_tracker_store_and_a_missing_store_is_fine(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    tracker = _tracker(tmp_path / "rasa-tracker.db", [("tg-10", 4000)])
    assert retention_step(_settings(tracker, "delete", days=0), factory)() is None
    assert tracker_events(tracker, "tg-10") == 1
    assert expire_tracker(tmp_path / "absent.db", older_than_days=30) == 0
    assert not (tmp_path / "absent.db").exists()
