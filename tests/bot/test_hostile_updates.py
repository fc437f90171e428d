"""Updates the fuzzer (bench/fuzz.py) found crashing a handler, each answered plainly now."""

from __future__ import annotations

import httpx
import pytest

from bot import texts
from bot.handlers import FORGET_CALLBACK
from rasa_client import MessageRefusedError, RasaClient
from tests.bot.conftest import ScriptedAssistant
from tests.helpers.fake_telegram import FakeTelegram

ALICE = 424301


@pytest.mark.parametrize("data", ["/affirm", FORGET_CALLBACK + "yes", FORGET_CALLBACK + "no"])
async def test_a_tap_on_a_button_without_a_message_is_answered_not_a_crash(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant, data: str
) -> None:
    # An inline-mode button carries no message; the handlers asserted there was one (the forget
    # answer too: found by the fuzzer after /forget's Yes/No keyboard landed).
    person = {"id": ALICE, "is_bot": False, "first_name": "A"}
    query = {"id": "q1", "from": person, "chat_instance": "c", "data": data}
    await fake.push_update({"update_id": fake.next_update_id(), "callback_query": query})
    await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))

    [answer] = fake.calls_to("answerCallbackQuery")
    assert answer.params["text"] == texts.BUTTON_EXPIRED
    assert assistant.received == []
    await fake.send_text(ALICE, "hello")  # and the bot carries on
    [reply] = await fake.wait_for_messages(ALICE, 1)
    assert reply["text"] == "echo: hello"


async def test_a_blank_message_gets_a_clear_answer_and_never_reaches_the_assistant(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    await fake.send_text(ALICE, " \n\u3000 ")
    [reply] = await fake.wait_for_messages(ALICE, 1)
    assert reply["text"] == texts.TEXT_ONLY
    assert assistant.received == []
    assert not fake.calls_to("sendMessage", ALICE)[0].params.get("reply_markup")


@pytest.mark.parametrize("status", [400, 404, 413, 422])
async def test_the_rasa_client_reports_a_refused_message_as_not_processed(status: int) -> None:
    # A 4xx from the channel was an httpx.HTTPStatusError no caller caught (the console's 500).
    refuse = httpx.MockTransport(lambda request: httpx.Response(status, json={"error": "no"}))
    client = RasaClient("http://rasa.test", "secret", 5, transport=refuse)
    with pytest.raises(MessageRefusedError):
        await client.send("tg-1", "   ")
    await client.aclose()


async def test_a_command_entity_over_blank_text_in_a_group_is_ignored_not_a_crash(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    # addressed_to_bot split the text and took the first word of nothing (IndexError).
    group = {"id": -100777, "type": "group", "title": "G"}
    entities = [{"type": "bot_command", "offset": 0, "length": 0}]
    await fake.send_chat_text(ALICE, group, " ", entities=entities)
    await fake.send_chat_text(ALICE, group, "/help@paychat_test_bot")
    [reply] = await fake.wait_for_messages(-100777, 1)
    assert reply["text"] == texts.PRIVATE_ONLY  # the second message; the first got no answer, no error
    assert assistant.received == []
