"""Attack on issue 13 item 4: the reminders on/off switch by odd phrasings, with the trained model.

The rules map intent `reminders_off` (or `reminders_on`) straight to `action_set_reminders`, which
flips `users.reminders_enabled` with no question back: whatever the NLU reads as `reminders_off`
switches the user's reminders off. The real Rasa server of the stack (trained model, fallback
classifier included) parses each message; nothing is written.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import User
from tests.bot.test_e2e_telegram import TURN_WAIT, bot_on, bot_settings
from tests.helpers.fake_telegram import fake_telegram_server
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SWITCHES = {"reminders_off", "reminders_on"}


_senders = itertools.count(1)


def _intent(stack: AssistantStack, text: str) -> tuple[str, float]:
    """The intent Rasa read in `text` (a fresh conversation of a sender no user owns; Rasa's own HTTP
    API is off, so the turn goes through the same client the bot uses)."""

    async def turn() -> dict[str, object]:
        client = stack.rasa_client()
        try:
            return (await client.send(f"console-0-atk13-nlu-{next(_senders)}", text)).parse
        finally:
            await client.aclose()

    intent = asyncio.run(turn())["intent"]
    assert isinstance(intent, dict)
    return str(intent["name"]), float(intent.get("confidence") or 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "don't stop reminding me",
        "remind me to pay later",
        "please keep reminding me",
        "don't turn off the reminders",
        "I never want the reminders to stop",
        "stop",
        "cancel",
        "cancel the payment, not the reminders",
        "no",
    ],
)
def test_these_do_not_switch_reminders_off(assistant_stack: AssistantStack, text: str) -> None:
    name, confidence = _intent(assistant_stack, text)
    assert name != "reminders_off", (text, name, confidence)


@pytest.mark.parametrize(
    "text",
    [
        "cancel",
        "cancel it",
        "stop the payment",
        "don't send it",
        "wait, cancel that",
    ],
)
def test_these_do_not_switch_reminders_on(assistant_stack: AssistantStack, text: str) -> None:
    name, confidence = _intent(assistant_stack, text)
    assert name not in SWITCHES, (text, name, confidence)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stop reminding me", "reminders_off"),
        ("no more reminders", "reminders_off"),
        ("turn off bill reminders", "reminders_off"),
        ("remind me again", "reminders_on"),
        ("turn on bill reminders", "reminders_on"),
        ("please don't remind me about my bills any more", "reminders_off"),
        ("I want my bill reminders back", "reminders_on"),
    ],
)
def test_holds_the_documented_phrasings_switch(
    assistant_stack: AssistantStack, text: str, expected: str
) -> None:
    """Holds (probe): the README's phrasings and close variants reach the switch."""
    name, confidence = _intent(assistant_stack, text)
    assert name == expected, (text, name, confidence)


async def test_dont_stop_reminding_me_keeps_reminders_on_end_to_end(assistant_stack: AssistantStack) -> None:
    """Through the real bot (fake Telegram API), Rasa and the action server: the switch in the database."""
    user = 555_913
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        await fake.send_text(user, "/start")
        await fake.wait_for_messages(user, 1, TURN_WAIT)
        await fake.send_text(user, "don't stop reminding me")
        await fake.wait_for_messages(user, 2, TURN_WAIT)
        answer = fake.sent_messages(user)[-1]["text"]
    engine = make_engine(assistant_stack.database_url)
    try:
        with Session(engine) as session:
            enabled = session.scalars(
                select(User.reminders_enabled).where(User.telegram_user_id == user)
            ).one()
    finally:
        engine.dispose()
    assert enabled is True, answer
