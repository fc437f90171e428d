"""Issue 15, items 1, 3 and 6 with the real bot (PTB long polling the fake Telegram server): the
command menu and /help come from one table, edits never reach the assistant, demo mode is announced.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot import handlers, texts
from bot.services import BotServices
from rasa_client import Button, Reply
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, bot_running, bot_settings, turn
from tests.helpers.fake_telegram import FakeTelegram

ALICE = 515001
GERMAN_MENU = {
    "bills": "Was du schuldest",
    "history": "Was du bezahlt hast",
    "cancel": "Abbrechen",
    "help": "Was ich kann",
    "start": "Neu anfangen",
}


def _menu(call_params: dict[str, Any]) -> dict[str, str]:
    return {c["command"]: c["description"] for c in call_params["commands"]}


async def test_the_menu_is_registered_at_start_up_and_help_lists_the_same_commands(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    [registered] = await fake.wait_for(lambda: fake.calls_to("setMyCommands"))
    await fake.send_text(ALICE, "/help")
    [reply] = await fake.wait_for_messages(ALICE, 1)

    assert _menu(registered.params) == texts.COMMANDS[""]
    assert [c["command"] for c in registered.params["commands"]] == list(texts.COMMANDS[""])
    assert registered.params["scope"] == {"type": "all_private_chats"}
    assert "language_code" not in registered.params  # the default, for every language
    for command, description in texts.COMMANDS[""].items():
        assert f"/{command} — {description}" in reply["text"]
    assert assistant.received == []  # /help is the bot's own answer, from the same table


async def test_each_language_of_the_table_gets_its_menu_and_its_help(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(texts.COMMANDS, "de", GERMAN_MENU)
    services = BotServices(assistant=ScriptedAssistant(), users=RecordingDirectory(), session_factory=None)
    async with bot_running(bot_settings(fake), services):
        calls = await fake.wait_for(
            lambda: len(fake.calls_to("setMyCommands")) == 2 and fake.calls_to("setMyCommands")
        )
        await fake.send_text(ALICE, "/help", language_code="de-AT")
        await fake.send_text(ALICE + 1, "/help", language_code="fr")
        [german] = await fake.wait_for_messages(ALICE, 1)
        [other] = await fake.wait_for_messages(ALICE + 1, 1)

    by_language = {c.params.get("language_code"): _menu(c.params) for c in calls}
    assert by_language == {None: texts.COMMANDS[""], "de": GERMAN_MENU}
    assert "/bills — Was du schuldest" in german["text"]
    assert "/bills — What you owe" in other["text"]  # no French entry: the default


def test_every_command_of_the_menu_is_handled_in_every_language() -> None:
    handled = set(handlers.COMMAND_PAYLOADS) | {"start", "help", "mydata", "forget", "reminders"}
    for language, menu in texts.COMMANDS.items():
        assert set(menu) == handled, language
        assert all(0 < len(description) <= 256 for description in menu.values())


async def test_an_edit_is_answered_and_never_changes_the_pending_summary(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    buttons = [Button("Confirm", "/affirm"), Button("Cancel", "/deny")]
    assistant.answer = lambda text: turn(Reply(text=f"Pay for {text}?", buttons=buttons))
    sent = await fake.send_text(ALICE, "pay my electricity bill")
    [summary] = await fake.wait_for_messages(ALICE, 1)

    await fake.edit_text(ALICE, sent, "pay 5000 of my electricity bill")
    [_, answer] = await fake.wait_for_messages(ALICE, 2)

    assert answer["text"] == texts.EDITED_MESSAGE
    assert assistant.received == [(f"tg-{ALICE}", "pay my electricity bill")]  # the edit went nowhere
    [still] = [m for m in fake.sent_messages(ALICE) if m["message_id"] == summary["message_id"]]
    assert (
        still["text"] == "Pay for pay my electricity bill?"
        and still["reply_markup"] == summary["reply_markup"]
    )
    assert fake.calls_to("editMessageText") == [] and fake.calls_to("editMessageReplyMarkup") == []


async def test_an_edit_holding_a_card_number_is_still_deleted(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    sent = await fake.send_text(ALICE, "hello")
    await fake.wait_for_messages(ALICE, 1)
    await fake.edit_text(ALICE, sent, "my card is 4242 4242 4242 4242")
    [_, refused] = await fake.wait_for_messages(ALICE, 2)
    assert refused["text"] == texts.CARD_NUMBER_REFUSED
    assert (ALICE, sent["message"]["message_id"]) in fake.deleted


@pytest.mark.parametrize("demo_mode", [True, False])
async def test_start_announces_demo_mode_only_when_it_is_on(fake: FakeTelegram, demo_mode: bool) -> None:
    services = BotServices(
        assistant=ScriptedAssistant(), users=RecordingDirectory(), session_factory=None, demo_mode=demo_mode
    )
    async with bot_running(bot_settings(fake), services):
        await fake.send_text(ALICE, "/start")
        [welcome] = await fake.wait_for_messages(ALICE, 1)
    assert welcome["text"].startswith(texts.WELCOME)
    assert (texts.DEMO_MODE in welcome["text"]) is demo_mode
    assert ("demo bills and a test card" in welcome["text"]) is demo_mode
