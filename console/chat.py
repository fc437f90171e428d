"""One test-chat turn: check the test user, ask the assistant, record the transcript.

The sender id follows contracts.md (`console-<user_id>-<session>`); the turn is recorded with
`transcripts.store_turn` exactly as the Telegram bot records its turns, marked is_test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

from console.services import ConsoleServices
from observability.context import conversation
from observability.metrics import TURN_SECONDS
from payments.demo import ALEX, demo_user_id
from privacy.cards import looks_like_card_number
from transcripts import RecordedTurn, TestUserView, find_test_user, list_test_users, store_turn

CHANNEL = "console"
log = logging.getLogger(__name__)


class CardNumberRefusedError(ValueError):
    """The message looks like a card number: it is neither sent to the assistant nor recorded."""


class TestUserError(LookupError):
    """The chosen user does not exist or is not a test user (the console never acts as a customer)."""


@dataclass(frozen=True)
class ChatResult:
    """The assistant's turn as the API returns it, plus how it was recorded."""

    turn: dict[str, Any]
    recorded: RecordedTurn
    sender_id: str
    user_id: int
    conversation_id: int
    # Issue 13: messages the user would get apart from the turn (a one-time code): console test
    # users have no Telegram, so the test chat shows them as their own bubble.
    separate_messages: tuple[str, ...] = ()


def sender_id_for(user_id: int, session_key: str) -> str:
    """The Rasa sender id of a console conversation (contracts.md)."""
    return f"console-{user_id}-{session_key}"


def test_users(services: ConsoleServices) -> list[TestUserView]:
    """The users the test chat may act as."""
    with services.session_factory() as session:
        return list_test_users(session)


def default_test_user_id(services: ConsoleServices) -> int | None:
    """The demo user Alex Demo (by its demo key, contracts.md), whom the test chat starts as."""
    with services.session_factory() as session:
        return demo_user_id(session)


def resolve_test_user(services: ConsoleServices, user_id: int | None) -> TestUserView:
    """The requested test user, or the demo user Alex Demo when none is given.

    One query by key (the user's id, or Alex's demo key) per chat turn, not a list of every test
    user; only without Alex (demo data not loaded) does the first test user by name stand in.
    Raises TestUserError when the user is missing or not a test user.
    """
    with services.session_factory() as session:
        if user_id is not None:
            user = find_test_user(session, user_id=user_id)
            if user is None:
                raise TestUserError(f"user {user_id} is not a test user")
            return user
        user = find_test_user(session, demo_key=ALEX)
        if user is not None:
            return user
        users = list_test_users(session)
    if not users:
        raise TestUserError("there is no test user; load the demo data first")
    return users[0]


def _turn_dict(turn: Any) -> dict[str, Any]:
    if isinstance(turn, dict):
        return turn
    if hasattr(turn, "as_dict"):
        result: dict[str, Any] = turn.as_dict()
        return result
    return dataclasses.asdict(turn)


def _record(
    services: ConsoleServices, *, sender_id: str, user_id: int, text: str, turn: dict[str, Any]
) -> RecordedTurn:
    with services.session_factory.begin() as session:
        return store_turn(
            session,
            sender_id=sender_id,
            channel=CHANNEL,
            user_id=user_id,
            is_test=True,
            user_text=text,
            turn=turn,
        )


async def chat_turn(
    services: ConsoleServices,
    *,
    user_id: int | None,
    session_key: str,
    text: str,
    shown_text: str | None = None,
) -> ChatResult:
    """Send `text` as the test user and record the turn; AssistantUnavailableError if Rasa is down.

    `shown_text`: for a button tap, the reply it was under (the summary a Confirm confirms).
    """
    if looks_like_card_number(text):
        raise CardNumberRefusedError("that looks like a card number; card numbers are never sent in chat")
    user = await asyncio.to_thread(resolve_test_user, services, user_id)
    sender_id = sender_id_for(user.id, session_key)
    metadata = {"channel": CHANNEL} if shown_text is None else {"channel": CHANNEL, "shown_text": shown_text}
    with conversation(sender_id):
        started, outcome = time.perf_counter(), "unavailable"
        try:
            turn = _turn_dict(await services.assistant.send(sender_id, text, metadata=metadata))
            outcome = "answered"
        finally:
            seconds = time.perf_counter() - started
            TURN_SECONDS.labels(channel=CHANNEL, outcome=outcome).observe(seconds)
            log.info("turn %s", outcome, extra={"seconds": round(seconds, 4)})
    recorded, separate = await asyncio.to_thread(
        _record_and_collect, services, sender_id=sender_id, user_id=user.id, text=text, turn=turn
    )
    return ChatResult(
        turn=turn,
        recorded=recorded,
        sender_id=sender_id,
        user_id=user.id,
        conversation_id=recorded.conversation_id,
        separate_messages=tuple(separate),
    )


def _record_and_collect(
    services: ConsoleServices, *, sender_id: str, user_id: int, text: str, turn: dict[str, Any]
) -> tuple[RecordedTurn, list[str]]:
    """The turn recorded (committed before the answer goes out), then the user's code messages:
    one worker-thread hop for both."""
    recorded = _record(services, sender_id=sender_id, user_id=user_id, text=text, turn=turn)
    return recorded, _separate_messages(services, user_id)


# --- issue 13 item 2: a one-time code's separate message, shown by the test chat ------------------
# The console's own wording of the message the Telegram bot sends (bot/texts.py "step_up_code").
CODE_MESSAGE = (
    "🔐 {code} is your one-time code for the payment of {amount} to {biller}. "
    "Type it in our chat to go ahead."
)
# The same for a standing mandate's code (bot/texts.py MANDATE_STEP_UP_CODE).
MANDATE_CODE_MESSAGE = (
    "🔐 {code} is your one-time code to set up autopay for {biller} up to {amount} a month. "
    "Type it in our chat to switch it on."
)
# New, wider terms of a live autopay (bot/texts.py MANDATE_CHANGE_STEP_UP_CODE).
MANDATE_CHANGE_CODE_MESSAGE = (
    "🔐 {code} is your one-time code to change your autopay for {biller} to up to {amount} a month. "
    "Type it in our chat to make the change."
)


def _separate_messages(services: ConsoleServices, user_id: int) -> list[str]:
    """The test user's undelivered one-time-code messages, as text, each marked delivered."""
    if services.payments is None:
        return []
    texts = []
    for note in services.payments.pending_codes_for(user_id=user_id):
        if note.code and services.payments.mark_notification_sent(notification_id=note.id):
            template = CODE_MESSAGE
            if note.mandate_id is not None:
                template = MANDATE_CHANGE_CODE_MESSAGE if note.mandate_change else MANDATE_CODE_MESSAGE
            texts.append(template.format(code=note.code, amount=note.amount_text, biller=note.biller_name))
    return texts
