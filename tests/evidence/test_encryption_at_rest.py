"""Personal data is encrypted at rest with the keys from the environment, and keys rotate.

The database holds Fernet tokens, never the name, the summary or the transcript text; the models
read them back as plain values. `paychat keys rotate` re-encrypts everything under the newest key,
after which the old key can go.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db.crypto import EncryptedColumn, Keyring, KeyringError, encrypted_columns, use_keys
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Conversation, ConversationTurn, User
from paychat.cli import app
from settings import get_settings
from tests.helpers.factories import make_user

SECRET_NAME = "Jolanda Privatperson"
SECRET_TEXT = "pay my rent to landlord Mr. Hidden"


@pytest.fixture(autouse=True)
def settings_keys() -> Iterator[None]:
    """Every test starts and ends with the keys from settings."""
    use_keys(None)
    yield
    use_keys(None)


def test_the_encrypted_columns_are_the_personal_ones() -> None:
    assert {(c.table, c.column) for c in encrypted_columns()} == {
        # issue 13: the one-time code until delivered, and the words of a confirmation or mandate consent
        ("step_up_challenges", "code_sealed"),
        ("step_up_challenges", "confirmation"),
        ("mandate_consents", "confirmation"),
        ("mandate_consents", "summary_text"),
        ("users", "name"),
        ("payments", "summary_text"),
        ("consents", "summary_text"),
        ("consents", "confirmation"),
        ("conversation_turns", "user_text"),
        ("conversation_turns", "replies"),
        ("conversation_turns", "entities"),
        ("conversation_turns", "slots"),
        ("conversation_turns", "events"),
    }


def _raw(session: Session, where: EncryptedColumn, key: int) -> str:
    query = text(f"SELECT {where.column} FROM {where.table} WHERE {where.key} = :key")
    return str(session.execute(query, {"key": key}).scalar_one())


def test_the_database_holds_tokens_and_the_models_read_values(db_session: Session) -> None:
    user = make_user(db_session, name=SECRET_NAME)
    conversation = Conversation(sender_id=f"tg-enc-{user.id}", channel="telegram", user_id=user.id)
    db_session.add(conversation)
    db_session.flush()
    turn = ConversationTurn(
        conversation_id=conversation.id, seq=1, user_text=SECRET_TEXT, replies=[{"text": "Pay €900?"}],
        slots={"biller": "landlord"},
    )  # fmt: skip
    db_session.add(turn)
    db_session.flush()
    stored_name = _raw(db_session, EncryptedColumn("users", "id", "name"), user.id)
    stored_text = _raw(db_session, EncryptedColumn("conversation_turns", "id", "user_text"), turn.id)
    stored_replies = _raw(db_session, EncryptedColumn("conversation_turns", "id", "replies"), turn.id)
    for stored in (stored_name, stored_text, stored_replies):
        assert stored.startswith("gAAAAA")
    assert "Jolanda" not in stored_name and "landlord" not in stored_text and "900" not in stored_replies
    db_session.expire_all()
    assert db_session.get(User, user.id).name == SECRET_NAME  # type: ignore[union-attr]
    again = db_session.get(ConversationTurn, turn.id)
    assert again is not None and again.user_text == SECRET_TEXT and again.replies == [{"text": "Pay €900?"}]
    assert again.slots == {"biller": "landlord"}


def test_a_value_under_an_unknown_key_is_refused(db_session: Session) -> None:
    user = make_user(db_session, name=SECRET_NAME)
    use_keys([Fernet.generate_key().decode()])
    db_session.expire_all()
    with pytest.raises(KeyringError):
        db_session.execute(select(User.name).where(User.id == user.id)).scalar_one()


def test_keyring_refuses_no_key_and_bad_keys() -> None:
    with pytest.raises(KeyringError):
        Keyring([])
    with pytest.raises(KeyringError):
        Keyring(["not-a-fernet-key"])


def test_paychat_keys_rotate_moves_everything_to_the_newest_key(tmp_path: Path) -> None:
    old = get_settings().effective_data_keys[0]
    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    upgrade(url)  # encrypted under the settings' key (`old`)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        user_id = make_user(session, name=SECRET_NAME).id
    new = Fernet.generate_key().decode()
    use_keys([new, old])  # the new key first, the old one still there to read with
    result = CliRunner().invoke(app, ["keys", "rotate", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "users.name: 1 value(s) re-encrypted" in result.output
    use_keys([new])  # the old key is gone: everything must still read
    with make_session_factory(engine)() as session:
        assert session.get(User, user_id).name == SECRET_NAME  # type: ignore[union-attr]
    use_keys([Fernet.generate_key().decode()])
    failed = CliRunner().invoke(app, ["keys", "rotate", "--database-url", url])
    assert failed.exit_code == 1 and "cannot be decrypted" in failed.output
    engine.dispose()


def test_paychat_keys_generate_prints_a_usable_key() -> None:
    result = CliRunner().invoke(app, ["keys", "generate"])
    assert result.exit_code == 0
    Keyring([result.output.strip()])
