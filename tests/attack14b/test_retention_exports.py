"""attack14b: retention deletes a conversation from the database and Rasa's tracker store, but every
`paychat-tune export` made while it existed keeps its messages on disk (TUNING_DIR/exports/<time>/)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Conversation, utcnow
from scripts.worker import retention_step
from settings import Settings
from tests.helpers.factories import make_user
from transcripts import record_turn
from tuning.loop import export_reviewed

MESSAGE = "pay the water bill for flat 7, Gartenstrasse"


def test_retention_leaves_no_copy_in_the_tuning_exports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'paychat.db'}"  # a private database: this test commits
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = Settings(  # type: ignore[call-arg]
        DATABASE_URL=url,
        TRANSCRIPT_RETENTION_DAYS=30,
        TRANSCRIPT_RETENTION_MODE="delete",
        RASA_TRACKER_DB=str(tmp_path / "rasa-tracker.db"),
        TUNING_DIR=str(tmp_path / "tuning"),
    )
    try:
        with factory.begin() as session:
            user = make_user(session)
            view = record_turn(
                session,
                sender_id="tg-5150",
                channel="telegram",
                user_id=user.id,
                is_test=False,
                user_text=MESSAGE,
                turn={
                    "parse": {"intent": {"name": "pay_bill", "confidence": 0.9}},
                    "replies": [],
                    "events": [],
                },
            )
            conversation = session.get(Conversation, view.conversation_id)
            assert conversation is not None
            conversation.last_message_at = utcnow() - timedelta(days=5)
        exported = export_reviewed(settings, factory)  # an admin's export while it was recent
        assert "Gartenstrasse" in exported.stories_path.read_text(encoding="utf-8")

        with factory.begin() as session:  # time passes
            conversation = session.get(Conversation, view.conversation_id)
            assert conversation is not None
            conversation.last_message_at = utcnow() - timedelta(days=40)
        result = retention_step(settings, factory)()
        assert result is not None and result.conversations == 1
        with factory() as session:
            assert session.get(Conversation, view.conversation_id) is None  # gone from the database ...

        left = [
            p for p in (tmp_path / "tuning").rglob("*") if p.is_file() and "Gartenstrasse" in p.read_text()
        ]
        assert left == []  # ... but not from the exports
    finally:
        engine.dispose()
