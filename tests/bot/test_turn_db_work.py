"""Database work of one plain Telegram turn, counted (issue 12, perf13): a known user's turn writes its
transcript and nothing else — the user is known from the first turn on, a turn that told no payment
acknowledges nothing. Counts, not timings (speed is measured in bench/cpu_per_turn.py). On both
databases; the stand-in assistant answers (the real Rasa stack is in test_e2e_telegram.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, func, select

from bot.services import BotServices
from db.engine import make_engine, make_session_factory
from db.models import Conversation, ConversationTurn
from payments.service import PaymentsService, ServiceConfig
from tests.bot.conftest import ScriptedAssistant, bot_running, bot_settings
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.sandbox import sandbox_gateway

# SQLite: BEGIN IMMEDIATE (db/engine.py), the conversation locked, its last turn, the turn's insert,
# last_message_at. PostgreSQL: the same without the BEGIN statement.
PLAIN_BOT_TURN_BUDGET = 5


async def _recorded_turns(fake: FakeTelegram, reader: Engine, sender: str, count: int) -> None:
    """Wait until `count` turns of `sender` are stored (the bot records after its reply)."""

    def stored() -> bool:
        with reader.connect() as connection:
            turns = connection.scalar(
                select(func.count())
                .select_from(ConversationTurn)
                .join(Conversation, Conversation.id == ConversationTurn.conversation_id)
                .where(Conversation.sender_id == sender)
            )
        return turns == count

    await fake.wait_for(stored)


async def test_a_plain_turn_of_a_known_user_only_records_its_transcript(
    fake: FakeTelegram, db_engine: Engine, database_url: str
) -> None:
    telegram_id = 770000 + (abs(hash(database_url)) % 10000)
    sender = f"tg-{telegram_id}"
    service = PaymentsService(
        session_factory=make_session_factory(db_engine),
        gateway=sandbox_gateway("http://127.0.0.1:9"),
        config=ServiceConfig(demo_mode=False),
    )
    services = BotServices(
        assistant=ScriptedAssistant(), users=service, session_factory=service.session_factory
    )
    reader = make_engine(database_url)  # its own engine: the waits are not counted
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    try:
        async with bot_running(bot_settings(fake), services):
            await fake.send_text(telegram_id, "hi")  # first contact: the user is created and known
            await _recorded_turns(fake, reader, sender, 1)
            event.listen(db_engine, "before_cursor_execute", count)
            for turn in range(2, 5):
                await fake.send_text(telegram_id, f"hello {turn}")
                await _recorded_turns(fake, reader, sender, turn)
            event.remove(db_engine, "before_cursor_execute", count)
    finally:
        reader.dispose()

    assert [m["text"] for m in fake.sent_messages(telegram_id)][-1] == "echo: hello 4"
    assert 0 < len(statements) <= 3 * PLAIN_BOT_TURN_BUDGET, statements
    assert not [s for s in statements if "users" in s.split("FROM", 1)[-1].split("WHERE", 1)[0]], statements
