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


@pytest.mark.xfail(strict=True, reason="attack15: forged callback data reaches the assistant as a payload")
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
