"""attack15: a button tap's data is passed to the assistant whatever it says.

Telegram lets a client send any callback data for a message with an inline keyboard (the Bot API
docs warn that callback_data comes from the client). The bot binds page buttons and long payloads
(kept under a key) to their user and message, but short data is relayed as it comes: a forged tap
on a keyboard offering "Electricity"/"Water" sends `/inform{"amount": "5000"}` to the assistant —
an intent with entities that typing it would not pass (typed intent payloads are refused).
"""

from __future__ import annotations

import asyncio

import pytest

from bot import texts
from rasa_client import Button, Reply
from tests.bot.conftest import ScriptedAssistant, turn
from tests.helpers.fake_telegram import FakeTelegram

MALLORY = 515099
FORGED = '/inform{"amount": "5000"}'


async def test_typed_intent_payloads_are_refused(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    """What holds: typing the payload never reaches the assistant."""
    await fake.send_text(MALLORY, FORGED)
    [answer] = await fake.wait_for_messages(MALLORY, 1)
    assert answer["text"] == texts.UNKNOWN_COMMAND and assistant.received == []


async def test_a_forged_tap_never_sends_a_payload_the_keyboard_did_not_offer(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    buttons = [Button("Electricity", "/choose_bill"), Button("Water", "/deny")]
    assistant.answer = lambda text: turn(Reply(text="Which bill?", buttons=buttons))
    await fake.send_text(MALLORY, "pay a bill")
    [question] = await fake.wait_for_messages(MALLORY, 1)

    tap = await fake.tap(MALLORY, question, FORGED)
    await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    await asyncio.sleep(0.3)

    assert tap["callback_query"]["data"] == FORGED
    assert FORGED not in [text for _, text in assistant.received], assistant.received


QUESTION = [Button("Electricity", "/choose_bill"), Button("Water", "/deny")]
LONG = '/pay_bill{"biller": "' + "Stadtwerke Musterstadt Energie " * 3 + '"}'  # kept under a short key


async def ask(fake: FakeTelegram, assistant: ScriptedAssistant, buttons: list[Button]) -> dict[str, object]:
    """The bot's question with `buttons` (the assistant then echoes whatever reaches it)."""
    assistant.answer = lambda text: (
        turn(Reply(text="Which bill?", buttons=buttons))
        if text.startswith("ask")
        else turn(Reply(text=f"did {text}"))
    )
    before = len(fake.sent_messages(MALLORY))
    await fake.send_text(MALLORY, f"ask {before}")
    messages = await fake.wait_for_messages(MALLORY, before + 1)
    return messages[-1]


def data_of(message: dict[str, object]) -> list[str]:
    rows = message["reply_markup"]["inline_keyboard"]  # type: ignore[index]
    return [button["callback_data"] for row in rows for button in row]


@pytest.mark.parametrize(
    "forged",
    [
        "hello",  # any string
        "/affirm",  # a payload the assistant knows, not offered here
        '/affirm{"draft_id": 1, "confirm_nonce": ',  # malformed JSON-ish
        '/inform{"amount": "' + "9" * 5000 + '"}',  # huge (Telegram caps real data at 64 bytes)
        "k:AAAAAAAAAAAA",  # a key the bot never gave out
        "\x00\n/deny",  # control characters
    ],
)
async def test_forged_data_under_a_live_keyboard_is_answered_and_uses_nothing_up(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant, forged: str
) -> None:
    question = await ask(fake, assistant, QUESTION)
    await fake.tap(MALLORY, question, forged)
    [answer] = await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert answer.params.get("text") in {texts.BUTTON_NOT_OFFERED, texts.BUTTON_EXPIRED}
    assert fake.calls_to("editMessageReplyMarkup") == []  # the keyboard stays for the real tap

    await fake.tap(MALLORY, question, "/choose_bill")  # the genuine tap still works, once
    await fake.wait_for_messages(MALLORY, 2)
    assert [text for _, text in assistant.received] == ["ask 0", "/choose_bill"]


async def test_a_key_from_another_message_is_not_taken_under_this_one(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    first = await ask(fake, assistant, [Button("Stadtwerke", LONG)])
    [key] = data_of(first)
    assert key.startswith("k:")
    second = await ask(fake, assistant, QUESTION)

    await fake.tap(MALLORY, second, key)  # Mallory's own key, but not a button of this message
    [answer] = await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert answer.params.get("text") == texts.BUTTON_NOT_OFFERED
    await asyncio.sleep(0.3)
    assert [text for _, text in assistant.received] == ["ask 0", "ask 1"]


async def test_a_spent_key_tapped_again_is_answered_and_not_sent_twice(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    question = await ask(fake, assistant, [Button("Stadtwerke", LONG)])
    [key] = data_of(question)
    await fake.tap(MALLORY, question, key)
    await fake.wait_for_messages(MALLORY, 2)
    assert "reply_markup" not in fake.sent_messages(MALLORY)[0]  # spent: the keyboard is gone

    await fake.tap(MALLORY, fake.sent_messages(MALLORY)[0], key)  # Telegram's copy, keyboard gone
    await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 2)
    assert fake.calls_to("answerCallbackQuery")[1].params.get("text") == texts.ALREADY_DONE
    await asyncio.sleep(0.3)
    assert [text for _, text in assistant.received] == ["ask 0", LONG]


async def test_forged_data_under_a_message_without_buttons_is_answered(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    plain = await ask(fake, assistant, [])
    assert "reply_markup" not in plain
    await fake.tap(MALLORY, plain, "/choose_bill")
    [answer] = await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert answer.params.get("text") == texts.BUTTON_EXPIRED
    await asyncio.sleep(0.3)
    assert [text for _, text in assistant.received] == ["ask 0"]


async def test_a_forged_forget_me_under_another_keyboard_forgets_nothing(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    from bot.handlers import FORGET_CALLBACK

    question = await ask(fake, assistant, QUESTION)
    await fake.tap(MALLORY, question, FORGET_CALLBACK + "yes")
    [answer] = await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert answer.params.get("text") == texts.BUTTON_NOT_OFFERED
    await asyncio.sleep(0.3)
    assert fake.calls_to("editMessageReplyMarkup") == [] and len(fake.sent_messages(MALLORY)) == 1


async def test_a_tap_on_someone_elses_message_is_not_taken_even_with_its_own_data(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    """In a private chat the chat is the user: a tap by anyone else on that chat's message (an
    update no real client can cause) neither speaks for them nor uses up their keyboard."""
    question = await ask(fake, assistant, QUESTION)
    await fake.tap(MALLORY + 1, question, "/choose_bill")
    [answer] = await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert answer.params.get("text") == texts.BUTTON_NOT_OFFERED
    await asyncio.sleep(0.3)
    assert fake.calls_to("editMessageReplyMarkup") == []
    assert [text for _, text in assistant.received] == ["ask 0"]


async def test_a_tap_without_data_is_answered(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    """A callback query may carry no data at all (a game button): nothing to send."""
    question = await ask(fake, assistant, QUESTION)
    await fake.push_update(
        {
            "update_id": fake.next_update_id(),
            "callback_query": {
                "id": "cq-no-data",
                "from": {"id": MALLORY, "is_bot": False, "first_name": "M"},
                "chat_instance": "ci",
                "message": question,
                "game_short_name": "snake",
            },
        }
    )
    [answer] = await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert answer.params.get("text") == texts.BUTTON_NOT_OFFERED
    await asyncio.sleep(0.3)
    assert [text for _, text in assistant.received] == ["ask 0"]
