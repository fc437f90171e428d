"""Retention: conversations older than N days are deleted or anonymized, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Conversation, ConversationTurn, utcnow
from scripts.worker import retention_step
from settings import Settings
from tests.helpers.factories import make_user
from transcripts import record_turn
from transcripts.retention import apply_retention

TURN = {
    "parse": {
        "intent": {"name": "pay_bill", "confidence": 0.41},
        "entities": [{"entity": "biller", "value": "Vodafone"}],
    },
    "replies": [{"text": "Hello Anna Weber, your Vodafone bill is 40.00"}],
    "slots": {"email": "anna.weber+bills@example.com"},
    "events": [{"event": "user", "text": "I am Anna Weber, call +44 20 7946 0958"}],
}


def _conversation(session: Session, sender: str, age_days: int, user_id: int) -> int:
    view = record_turn(
        session,
        sender_id=sender,
        channel="telegram",
        user_id=user_id,
        is_test=False,
        user_text="I am Anna Weber, call +44 20 7946 0958",
        turn=TURN,
    )
    conversation = session.get(Conversation, view.conversation_id)
    assert conversation is not None
    conversation.last_message_at = utcnow() - timedelta(days=age_days)
    session.flush()
    return conversation.id


def test_old_conversations_are_deleted(db_session: Session) -> None:
    user = make_user(db_session)
    old = _conversation(db_session, "tg-1", 40, user.id)
    recent = _conversation(db_session, "tg-2", 5, user.id)

    result = apply_retention(db_session, older_than_days=30, mode="delete")

    assert (result.conversations, result.turns) == (1, 1)
    assert db_session.get(Conversation, old) is None
    assert db_session.get(Conversation, recent) is not None
    left = db_session.scalar(
        select(func.count()).select_from(ConversationTurn).where(ConversationTurn.conversation_id == old)
    )
    assert left == 0


def test_old_conversations_are_anonymized_once(db_session: Session) -> None:
    user = make_user(db_session)
    old = _conversation(db_session, "tg-3", 40, user.id)

    result = apply_retention(db_session, older_than_days=30, mode="anonymize")

    assert result.conversations == 1
    conversation = db_session.get(Conversation, old)
    assert conversation is not None
    assert conversation.user_id is None and conversation.sender_id == f"anonymized-{old}"
    assert conversation.anonymized_at is not None
    turn = db_session.scalars(select(ConversationTurn).where(ConversationTurn.conversation_id == old)).one()
    stored = f"{turn.user_text} {turn.replies} {turn.slots} {turn.events}"
    for secret in ("Anna", "Weber", "7946", "anna.weber"):
        assert secret not in stored
    assert turn.intent == "pay_bill" and turn.confidence == 0.41  # what tuning needs is kept
    assert apply_retention(db_session, older_than_days=30, mode="anonymize").conversations == 0


def test_zero_days_keeps_everything(db_session: Session) -> None:
    user = make_user(db_session)
    _conversation(db_session, "tg-4", 4000, user.id)
    assert apply_retention(db_session, older_than_days=0, mode="delete").conversations == 0


def test_the_worker_step_applies_the_settings(database_url: str, tmp_path: Path) -> None:
    from db.engine import make_engine, make_session_factory

    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as session:
            user = make_user(session)
            old = _conversation(session, "tg-worker-old", 100, user.id)
        settings = Settings(  # type: ignore[call-arg]
            TRANSCRIPT_RETENTION_DAYS=90,
            TRANSCRIPT_RETENTION_MODE="delete",
            RASA_TRACKER_DB=str(tmp_path / "rasa-tracker.db"),  # not the developer's var/ store
        )
        result = retention_step(settings, factory)()
        assert result is not None and result.conversations >= 1
        with factory() as session:
            assert session.get(Conversation, old) is None
    finally:
        engine.dispose()
