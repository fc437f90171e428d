"""attack14: retention leaves old conversations whole in Rasa's tracker store."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from db.models import Conversation, utcnow
from scripts.worker import retention_step
from settings import Settings
from tests.helpers.factories import make_user
from transcripts import record_turn
from transcripts.forgetting import tracker_events

TEXT = "I am Anna Weber, call +44 20 7946 0958"


@pytest.mark.xfail(
    strict=True,
    reason="attack14: the worker's retention step deletes/anonymizes transcripts but never touches "
    "Rasa's tracker store, which keeps the sender id and raw text of expired conversations",
)
@pytest.mark.parametrize("mode", ["delete", "anonymize"])
def test_retention_also_clears_the_tracker_store(database_url: str, tmp_path: Path, mode: str) -> None:
    from db.engine import make_engine, make_session_factory

    tracker = tmp_path / "rasa-tracker.db"
    sender = f"tg-attack14-{mode}"
    with sqlite3.connect(tracker) as db:
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
            "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"
        )
        db.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, 'user', ?, ?)",
            (sender, (utcnow() - timedelta(days=400)).timestamp(), f'{{"text": "{TEXT}"}}'),
        )
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    try:
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
            conversation.last_message_at = utcnow() - timedelta(days=400)
        settings = Settings(  # type: ignore[call-arg]
            TRANSCRIPT_RETENTION_DAYS=90, TRANSCRIPT_RETENTION_MODE=mode, RASA_TRACKER_DB=str(tracker)
        )
        result = retention_step(settings, factory)()
        assert result is not None and result.conversations >= 1
        assert tracker_events(tracker, sender) == 0
    finally:
        engine.dispose()
