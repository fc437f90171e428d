"""Conversations through the real stack: console API → paychat channel → Rasa → actions → sandbox.

Each test talks as a demo user in its own console session (`console-<user id>-<session>`), so
the Rasa trackers never mix; amounts are small because the demo bills are shared by the session.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from payments.demo import ALEX, DANA, SAM
from rasa_client import AssistantTurn

pytestmark = pytest.mark.e2e


class Chat:
    """One conversation with the assistant as a demo user."""

    def __init__(self, stack, demo_key: str, console) -> None:
        engine = create_engine(stack.database_url)
        with engine.connect() as connection:
            user_id = connection.execute(
                text("SELECT id FROM users WHERE demo_key = :k"), {"k": demo_key}
            ).scalar_one()
        engine.dispose()
        self.database_url = stack.database_url
        self.user_id = int(user_id)
        self.session = uuid.uuid4().hex[:12]
        self.sender = f"console-{user_id}-{self.session}"
        self.console = console

    async def say(self, message: str) -> AssistantTurn:
        """Send `message` through the console's JSON API; return the turn."""
        return await self.console.achat(self.session, message, user_id=self.user_id)

    def rows(self, sql: str, **params: object) -> list[dict]:
        """Rows of `sql` in the stack's database (what the action server actually stored)."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return [dict(row._mapping) for row in connection.execute(text(sql), params)]
        finally:
            engine.dispose()

    def payment(self, payment_id: str | int) -> dict:
        """The payments row behind `payment_id` (it must be this user's)."""
        [row] = self.rows(
            "SELECT status, failure_code, failure_message, payment_intent_id FROM payments "
            "WHERE id = :id AND user_id = :user",
            id=int(payment_id),
            user=self.user_id,
        )
        return row

    async def close(self) -> None:
        """Nothing to close: each turn uses its own HTTP client."""


def texts(turn: AssistantTurn) -> str:
    """Every reply's text of the turn, joined."""
    return "\n".join(reply.text or "" for reply in turn.replies)


def titles(turn: AssistantTurn) -> list[str]:
    """Every button title of the turn."""
    return [button.title for reply in turn.replies for button in reply.buttons]


@pytest.fixture
async def alex(assistant_stack, console_api):
    chat = Chat(assistant_stack, ALEX, console_api)
    yield chat
    await chat.close()


async def test_pay_part_of_a_bill(alex: Chat) -> None:
    summary = await alex.say("pay 2 euros to vodafone")
    assert len(summary.replies) == 1
    assert "Vodafone" in texts(summary) and "€2.00" in texts(summary)
    assert titles(summary) == ["Confirm", "Change", "Cancel"]
    receipt = await alex.say("/affirm")
    assert "Done" in texts(receipt)


async def test_correction_then_cancel(alex: Chat) -> None:
    first = await alex.say("i want to pay my phone bill")
    assert "Vodafone" in texts(first)
    corrected = await alex.say("actually make it 3")
    assert "€3.00" in texts(corrected) and titles(corrected)[0] == "Confirm"
    cancelled = await alex.say("no")
    assert "cancelled" in texts(cancelled).lower()
    nothing = await alex.say("yes")
    assert "nothing waiting" in texts(nothing).lower()


async def test_change_button_then_new_bill(alex: Chat) -> None:
    await alex.say("pay the water bill")
    asked = await alex.say("/change")
    assert "change" in texts(asked).lower()
    other = await alex.say("no, the phone bill")
    assert "Vodafone" in texts(other)
    await alex.say("/deny")


async def test_digression_while_paying_then_back(alex: Chat) -> None:
    asked = await alex.say("pay a bill")
    assert "Which bill" in texts(asked)
    digression = await alex.say("what do I owe?")
    assert "Vodafone" in texts(digression) and "Which bill" in texts(digression)
    summary = await alex.say("vodafone")
    assert titles(summary)[:1] == ["Confirm"]
    await alex.say("/deny")


async def test_stop_leaves_the_form(alex: Chat) -> None:
    await alex.say("pay a bill")
    stopped = await alex.say("stop")
    assert "stopped" in texts(stopped).lower()
    assert not stopped.slots.get("bill_id") and not stopped.slots.get("requested_slot")


async def test_amount_above_what_is_owed_is_refused(alex: Chat) -> None:
    refused = await alex.say("pay 5000 € to vodafone")
    assert "more than you owe" in texts(refused)
    retried = await alex.say("1")
    assert "€1.00" in texts(retried) and "Confirm" in titles(retried)
    await alex.say("/deny")


async def test_unknown_biller_is_asked_again(alex: Chat) -> None:
    turn = await alex.say('/pay_bill{"biller": "dragon club"}')
    assert "dragon club" in texts(turn) and "Which bill" in texts(turn)


async def test_schedule_then_cancel(alex: Chat) -> None:
    asked = await alex.say("schedule the internet bill")
    assert "When should I pay" in texts(asked)
    summary = await alex.say("in 3 days")
    assert "Telekom" in texts(summary) and "Confirm" in titles(summary)
    payment_id = summary.slots["pending_payment_id"]
    scheduled = await alex.say("/affirm")
    assert "All set" in texts(scheduled)
    assert alex.payment(payment_id)["status"] == "approved"
    # Right after "All set" the assistant knows which payment it said can still be cancelled
    # (cancellable_payment_id): that one is cancelled, no list of every scheduled payment.
    done = await alex.say("cancel my scheduled payment")
    assert "Cancelled" in texts(done)
    assert alex.payment(payment_id)["status"] == "cancelled"
    [schedule] = alex.rows("SELECT status FROM scheduled_payments WHERE payment_id = :id", id=int(payment_id))
    assert schedule["status"] == "cancelled"


async def test_declined_card_shows_the_reason(assistant_stack, console_api) -> None:
    dana = Chat(assistant_stack, DANA, console_api)
    try:
        summary = await dana.say("pay 1 euro for water")
        payment_id = summary.slots["pending_payment_id"]
        assert payment_id and "Confirm" in titles(summary)
        declined = await dana.say("/affirm")
        row = dana.payment(payment_id)
        assert row["status"] == "failed" and row["failure_message"]
        succeeded = dana.rows(
            "SELECT id FROM payments WHERE user_id = :user AND status = 'succeeded'", user=dana.user_id
        )
        assert succeeded == []
        # The reply gives the bank's reason, as stored, and says nothing moved.
        assert row["failure_message"] in texts(declined) and "Nothing was charged" in texts(declined)
    finally:
        await dana.close()


async def test_three_d_secure_shows_the_link(assistant_stack, console_api) -> None:
    sam = Chat(assistant_stack, SAM, console_api)
    try:
        await sam.say("pay 1 € to the internet")
        link = await sam.say("/affirm")
        assert "3-D Secure" in texts(link) and "http" in texts(link)
    finally:
        await sam.close()


async def test_help_bot_challenge_and_out_of_scope(alex: Chat) -> None:
    assert "Here's what I can do" in texts(await alex.say("what can you do?"))
    assert "I'm a bot" in texts(await alex.say("are you a bot?"))
    assert "can't help with that" in texts(await alex.say("tell me a joke"))


async def test_low_confidence_offers_two_intents(alex: Chat) -> None:
    turn = await alex.say("qwxz blorp fnord")
    assert turn.parse["intent"]["name"] == "nlu_fallback"
    buttons = [b for reply in turn.replies for b in reply.buttons]
    assert len(buttons) == 3 and buttons[-1].title == "Something else"
    assert all(b.payload.startswith("/") for b in buttons)
    chosen = await alex.say(buttons[0].payload)
    assert chosen.replies and chosen.replies[0].text
