"""The bot talks in private chats only (issue 10, item 10): the real bot against the fake Bot API.

In a group, a supergroup or a channel nothing reaches the assistant, no user is created and no
transcript is written. A message addressed to the bot there (a command, a mention, a reply to it)
and a button tap get one short answer; anything else in the group gets none, so the bot never
chatters in a group that turned privacy mode off.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from bot import handlers, texts
from bot.app import build_application
from bot.services import BotServices
from db.engine import make_session_factory
from db.models import ConversationTurn, User
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, UserView, bot_settings
from tests.helpers.factories import make_user
from tests.helpers.fake_telegram import BOT_USER, FakeTelegram, polling

CAROL = 424301
GROUP = {"id": -1001234, "type": "group", "title": "Flatmates"}
SUPERGROUP = {"id": -1009876543210, "type": "supergroup", "title": "Neighbours"}
CHANNEL = {"id": -1005555555555, "type": "channel", "title": "News"}


@dataclass
class DatabaseDirectory(RecordingDirectory):
    """Records ensure_telegram_user calls and finds or creates the user row, as payments does."""

    session_factory: Any = None

    def ensure_telegram_user(
        self, *, telegram_user_id: int, name: str, language_code: str | None
    ) -> UserView:
        """Record the call; return the real users row of this Telegram id."""
        super().ensure_telegram_user(
            telegram_user_id=telegram_user_id, name=name, language_code=language_code
        )
        with self.session_factory.begin() as session:
            user_id = session.scalar(select(User.id).where(User.telegram_user_id == telegram_user_id))
            if user_id is None:
                user_id = make_user(session, name=name, telegram_user_id=telegram_user_id).id
        return UserView(id=user_id, is_test=True)


@pytest.fixture
def directory(db_engine: Engine) -> DatabaseDirectory:
    """The user directory on the test database."""
    return DatabaseDirectory(session_factory=make_session_factory(db_engine))


@pytest.fixture
async def recording_bot(
    fake: FakeTelegram, assistant: ScriptedAssistant, directory: DatabaseDirectory, db_engine: Engine
) -> AsyncIterator[Any]:
    """The real bot with the stand-in assistant, and users and transcripts on the test database."""
    services = BotServices(
        assistant=assistant, users=directory, session_factory=make_session_factory(db_engine)
    )
    async with polling(build_application(bot_settings(fake), services)) as application:
        yield application


def last_turn_id(engine: Engine) -> int:
    """The id of the newest recorded turn (0 when there is none)."""
    with engine.connect() as connection:
        return int(connection.scalar(select(func.max(ConversationTurn.id))) or 0)


def turns_since(engine: Engine, turn_id: int) -> list[str]:
    """What the user said in each turn recorded after `turn_id`."""
    with engine.connect() as connection:
        rows = connection.scalars(
            select(ConversationTurn.user_text)
            .where(ConversationTurn.id > turn_id)
            .order_by(ConversationTurn.id)
        )
        return list(rows)


async def recorded_since(fake: FakeTelegram, engine: Engine, turn_id: int) -> list[str]:
    """The turns recorded after `turn_id`, once the marker's turn is among them (recorded after its reply)."""
    await fake.wait_for(lambda: "marker" in turns_since(engine, turn_id))
    return turns_since(engine, turn_id)


async def settle(fake: FakeTelegram) -> None:
    """Give the bot time to handle what was queued (a marker message in a private chat)."""
    await fake.send_text(CAROL, "marker")
    await fake.wait_for(lambda: any(m["text"] == "echo: marker" for m in fake.sent_messages(CAROL)))


@pytest.mark.parametrize("chat", [GROUP, SUPERGROUP], ids=["group", "supergroup"])
@pytest.mark.parametrize(
    "said",
    ["/start", "/bills", "/start@paychat_test_bot", "pay my electricity bill @paychat_test_bot"],
)
async def test_addressed_in_a_group_the_bot_says_it_talks_in_private_only(
    recording_bot: object,
    fake: FakeTelegram,
    assistant: ScriptedAssistant,
    directory: DatabaseDirectory,
    db_engine: Engine,
    chat: dict[str, Any],
    said: str,
) -> None:
    before = last_turn_id(db_engine)
    await fake.send_chat_text(CAROL, chat, said)
    [answer] = await fake.wait_for_messages(chat["id"], 1)
    assert answer["text"] == texts.PRIVATE_ONLY
    assert directory.calls == []  # no customer record for someone who spoke in a group
    await settle(fake)
    assert assistant.received == [(f"tg-{CAROL}", "marker")]
    assert len(fake.sent_messages(chat["id"])) == 1
    assert await recorded_since(fake, db_engine, before) == ["marker"]


async def test_a_reply_to_the_bot_in_a_group_gets_the_short_answer(
    recording_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    earlier = {"message_id": 1, "date": 0, "chat": GROUP, "from": BOT_USER, "text": "hi"}
    await fake.send_chat_text(CAROL, GROUP, "pay the rent", reply_to_message=earlier)
    [answer] = await fake.wait_for_messages(GROUP["id"], 1)
    assert answer["text"] == texts.PRIVATE_ONLY
    await settle(fake)
    assert [text for _, text in assistant.received] == ["marker"]


async def test_group_chatter_not_addressed_to_the_bot_gets_no_answer(
    recording_bot: object,
    fake: FakeTelegram,
    assistant: ScriptedAssistant,
    directory: DatabaseDirectory,
    db_engine: Engine,
) -> None:
    before = last_turn_id(db_engine)
    await fake.send_chat_text(CAROL, GROUP, "pay my electricity bill")
    await fake.send_chat_text(CAROL, SUPERGROUP, "what do I owe?")
    await fake.send_chat_text(CAROL, GROUP, "pay my phone bill @paychat_test_bot", edited=True)
    await fake.send_chat_text(CAROL, CHANNEL, "/bills")
    await asyncio.sleep(0.5)
    assert directory.calls == []
    await settle(fake)
    assert [text for _, text in assistant.received] == ["marker"]
    for chat in (GROUP, SUPERGROUP, CHANNEL):
        assert fake.sent_messages(chat["id"]) == []
    assert await recorded_since(fake, db_engine, before) == ["marker"]


async def test_a_button_tap_in_a_group_is_answered_and_goes_nowhere(
    recording_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Confirm", "callback_data": "/affirm"}]]}
    message = {
        "message_id": 77,
        "date": 0,
        "chat": GROUP,
        "from": BOT_USER,
        "text": "Pay?",
        "reply_markup": keyboard,
    }
    await fake.tap(CAROL, message, "/affirm")
    [answer] = await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert answer.params.get("text") == texts.PRIVATE_ONLY
    await settle(fake)
    assert [text for _, text in assistant.received] == ["marker"]


async def test_a_card_number_in_a_group_is_still_deleted_and_goes_nowhere(
    recording_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    update = await fake.send_chat_text(CAROL, GROUP, "@paychat_test_bot my card is 4242 4242 4242 4242")
    await fake.wait_for(lambda: fake.calls_to("deleteMessage", GROUP["id"]))
    [delete] = fake.calls_to("deleteMessage", GROUP["id"])
    assert delete.params["message_id"] == update["message"]["message_id"]
    await settle(fake)
    assert [text for _, text in assistant.received] == ["marker"]


async def test_card_numbers_from_several_members_of_a_group_are_all_deleted_and_explained_once(
    recording_bot: object, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """attack18b: each member within their own cap; every card number is deleted, and the group gets
    one explanation per GROUP_ANSWER_EVERY_SECONDS (here longer than the test), not one per message,
    which would queue for the group's 20-a-minute budget."""
    monkeypatch.setattr(handlers, "GROUP_ANSWER_EVERY_SECONDS", 3600.0)
    sent = [await fake.send_chat_text(424310 + n, GROUP, "my card is 4242 4242 4242 4242") for n in range(5)]
    await fake.wait_for(lambda: len(fake.deleted_ids(GROUP["id"])) == len(sent))
    await fake.wait_for_messages(GROUP["id"], 1)
    await settle(fake)
    assert fake.deleted_ids(GROUP["id"]) == {u["message"]["message_id"] for u in sent}
    assert [m["text"] for m in fake.sent_messages(GROUP["id"])] == [texts.CARD_NUMBER_REFUSED]


async def test_one_member_of_many_groups_draws_one_answer_not_one_per_group(
    recording_bot: object, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """attack19: the "private chats only" answer is limited per sender across groups too, while
    another member of a group that got no answer is still answered."""
    monkeypatch.setattr(handlers, "GROUP_ANSWER_EVERY_SECONDS", 3600.0)
    groups = [{"id": -1002000 - n, "type": "group", "title": f"Group {n}"} for n in range(5)]
    for group in groups:
        await fake.send_chat_text(CAROL, group, "/bills")
    await settle(fake)
    answered = [g["id"] for g in groups if fake.sent_messages(g["id"])]
    assert answered == [groups[0]["id"]]
    await fake.send_chat_text(CAROL + 1, groups[1], "/bills")
    [answer] = await fake.wait_for_messages(groups[1]["id"], 1)
    assert answer["text"] == texts.PRIVATE_ONLY
