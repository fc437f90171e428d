"""One conversational turn from Telegram: ask the assistant, show its replies, keep the transcript.

Every handler that talks to the assistant goes through `relay`. When the assistant is down the
user is told plainly that the message was not processed, with a "Try again" button that re-sends
it (kept in memory for that user), so nothing is silently lost and nothing is replayed without
the user's say-so. A turn that comes back with no reply at all counts as a failure too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from telegram import Bot, Update, User
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.rendering import render_turn, retry_keyboard
from bot.services import BotServices, KnownUser
from observability.context import conversation, payment
from observability.metrics import TURN_SECONDS
from rasa_client import AssistantTurn, AssistantUnavailableError
from transcripts import record_turn

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SERVICES = "services"
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing…" for about 5 s per chat action


def services_of(context: ContextTypes.DEFAULT_TYPE) -> BotServices:
    """The BotServices stored in bot_data by post_init."""
    services: BotServices = context.bot_data[SERVICES]
    return services


def sender_id_for(telegram_user_id: int) -> str:
    """The Rasa sender id of a Telegram user (contracts.md)."""
    return f"tg-{telegram_user_id}"


async def known_user(services: BotServices, user: User) -> KnownUser | None:
    """Create or find the user's customer record once per process; None when no directory is set."""
    if user.id in services.known_users or services.users is None:
        return services.known_users.get(user.id)
    view = await asyncio.to_thread(
        services.users.ensure_telegram_user,
        telegram_user_id=user.id,
        name=user.full_name,
        language_code=user.language_code,
    )
    known = KnownUser(user_id=view.id, is_test=bool(getattr(view, "is_test", False)))
    services.known_users[user.id] = known
    return known


@asynccontextmanager
async def typing(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Show "typing…" in the chat until the block ends."""

    async def show_typing() -> None:
        with suppress(TelegramError):
            await bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH_SECONDS)
            await show_typing()

    await show_typing()
    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def relay(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    """Send `text` to the assistant as this user, show the replies and record the turn."""
    user = update.effective_user
    assert user is not None  # handlers only route updates from a user
    with conversation(sender_id_for(user.id)):
        await _relay(update, context, text)


async def _relay(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    services = services_of(context)
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None  # handlers only route updates from a user in a chat
    account = await known_user(services, user)
    sender_id = sender_id_for(user.id)
    started = time.perf_counter()
    try:
        async with typing(context.bot, chat.id):
            turn = await services.assistant.send(sender_id, text, metadata={"channel": CHANNEL})
    except AssistantUnavailableError:
        log.warning("assistant unavailable for update %s", update.update_id, exc_info=True)
        turn = None
    messages = render_turn(turn, user_id=user.id, payloads=services.payloads) if turn else []
    elapsed = time.perf_counter() - started
    outcome = "answered" if messages else "unavailable"
    TURN_SECONDS.labels(channel=CHANNEL, outcome=outcome).observe(elapsed)
    with payment(payment_of(turn)):
        log.info("turn %s", outcome, extra={"update_id": update.update_id, "seconds": round(elapsed, 4)})
    if turn is None or not messages:
        # A turn with nothing to show means something failed behind Rasa (an action): silence
        # would leave the user waiting, so it is reported like an outage, with the same retry.
        if turn is not None:
            log.warning("assistant gave no reply for update %s", update.update_id)
        markup = retry_keyboard(text, user_id=user.id, payloads=services.payloads)
        await context.bot.send_message(chat.id, texts.BRAIN_DOWN, reply_markup=markup)
        return
    for message in messages:
        await context.bot.send_message(chat.id, message.text, reply_markup=message.keyboard)
    await record(services, sender_id=sender_id, account=account, text=text, turn=turn)


def payment_of(turn: AssistantTurn | None) -> int | None:
    """The payment the turn worked on, from its slots (for the log line), if any."""
    if turn is None:
        return None
    for slot in ("pending_payment_id", "payment_id"):
        value = turn.slots.get(slot)
        if isinstance(value, str | int) and str(value).isdigit():
            return int(value)
    return None


async def record(
    services: BotServices, *, sender_id: str, account: KnownUser | None, text: str, turn: AssistantTurn
) -> None:
    """Keep the turn in the transcripts (a failure is logged, never shown: the user has the reply)."""
    if services.session_factory is None:
        return
    session_factory = services.session_factory

    def write() -> None:
        with session_factory.begin() as session:
            record_turn(
                session,
                sender_id=sender_id,
                channel=CHANNEL,
                user_id=account.user_id if account else None,
                is_test=account.is_test if account else False,
                user_text=text,
                turn=turn.as_dict(),
            )

    try:
        await asyncio.to_thread(write)
    except Exception:
        log.exception("transcript turn of %s not recorded", sender_id)
