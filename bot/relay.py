"""One conversational turn from Telegram: ask the assistant, show its replies, keep the transcript.

Every handler that talks to the assistant goes through `relay`. When the assistant is down the
user is told plainly that the message was not processed, with a "Try again" button that re-sends
it (kept in memory for that user), so nothing is silently lost and nothing is replayed without
the user's say-so. A turn that comes back with no reply at all counts as a failure too. A Confirm
(or Cancel) tap that reached the assistant without an answer is the exception: unless payments
still held its summary open and claimed it (the lost tap is refused if it arrives late; "Try
again" carries the summary's fresh nonce), it may have been carried out, so the user gets a "My
payments" button (the payment's status). A payment
settled in a turn whose reply was lost is told instead (payments holds each in-turn outcome in the
outbox; a delivered reply acknowledges it, a lost one is answered with it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from telegram import Bot, Update, User
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.notify import tell_turn_outcomes
from bot.rendering import (
    is_summary_payload,
    render_turn,
    retry_keyboard,
    status_keyboard,
    summary_tap,
    with_nonce,
)
from bot.services import BotServices, KnownUser
from observability.context import conversation, payment
from observability.metrics import TURN_SECONDS
from rasa_client import (
    AssistantBusyError,
    AssistantNoAnswerError,
    AssistantTurn,
    AssistantUnavailableError,
    ConversationUnreadableError,
)
from transcripts import store_turn

# Where a turn names the payment it acted on: the tapped summary's entity, the payment slots.
PAYMENT_ID_ENTITIES = frozenset({"draft_id", "payment_id", "pending_payment_id"})
PAYMENT_ID_SLOTS = ("pending_payment_id", "payment_id")

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SERVICES = "services"
TYPING_REFRESH_SECONDS = 4.5  # Telegram shows "typing…" for about 5 s per chat action
# "typing…" is shown only for a turn still unanswered after this long: a quick turn spends one
# call of Telegram's ~30 per second (AIORateLimiter) on its reply, not two (issue 12).
TYPING_DELAY_SECONDS = 1.0
# The bot and the action server read the same machine clock; this covers their rounding.
TURN_CLOCK_SKEW = timedelta(seconds=1)


class TurnFailure(StrEnum):
    """Why a turn has no answer; the words are chosen by it at the edge (FAILURE_TEXTS)."""

    BUSY = "busy"  # not sent: the queue in front of Rasa was full, or the wait for it ran out
    NO_ANSWER = "no_answer"  # sent, but no answer came: it may have been processed
    UNREADABLE = "unreadable"  # Rasa could not read the conversation: not processed
    UNAVAILABLE = "unavailable"  # Rasa or the action server failed: not processed


FAILURE_TEXTS = {
    TurnFailure.BUSY: texts.BUSY,
    TurnFailure.NO_ANSWER: texts.NO_ANSWER,
    TurnFailure.UNREADABLE: texts.CONVERSATION_UNREADABLE,
    TurnFailure.UNAVAILABLE: texts.BRAIN_DOWN,
}


def services_of(context: ContextTypes.DEFAULT_TYPE) -> BotServices:
    """The BotServices stored in bot_data by post_init."""
    services: BotServices = context.bot_data[SERVICES]
    return services


def sender_id_for(telegram_user_id: int) -> str:
    """The Rasa sender id of a Telegram user (contracts.md)."""
    return f"tg-{telegram_user_id}"


async def known_user(services: BotServices, user: User, update_id: int) -> KnownUser | None:
    """Create or find the user's customer record once per process; None when no directory is set.

    One lookup per user at a time: the updates that come while it runs share it (attack19: a flood
    from a user not yet known made one lookup per message). A user recorded as having blocked the
    bot is writing again, so they are reachable once more (their waiting notifications go out in
    the notifier's next round) — unless a newer state (by `update_id`, Telegram's order) was taken
    for them: a block sent after this message wins over it (attack20).
    """
    if user.id in services.known_users or services.users is None:
        return services.known_users.get(user.id)
    directory = services.users

    async def look_up() -> KnownUser:
        view = await asyncio.to_thread(
            directory.ensure_telegram_user,
            telegram_user_id=user.id,
            name=user.full_name,
            language_code=user.language_code,
        )
        if not getattr(view, "telegram_reachable", True):

            async def write(reachable: bool) -> None:
                await asyncio.to_thread(
                    directory.set_telegram_reachable, telegram_user_id=user.id, reachable=reachable
                )

            await services.reachability.put(user.id, True, update_id, write)
        is_test = bool(getattr(view, "is_test", False) or getattr(view, "is_demo", False))
        known = services.known_users[user.id] = KnownUser(user_id=view.id, is_test=is_test)
        return known

    return await services.lookups.run(user.id, look_up)


def turn_metadata(update: Update) -> dict[str, Any]:
    """What Rasa gets besides the text: the channel, and for a button tap Telegram's callback id and
    when the bot received it (kept in the consent receipt when the tap confirms a payment)."""
    metadata: dict[str, Any] = {"channel": CHANNEL}
    if update.callback_query is not None:
        metadata["tap"] = {"callback_id": update.callback_query.id, "at": datetime.now(UTC).isoformat()}
    return metadata


async def set_reachable(services: BotServices, telegram_user_id: int, reachable: bool) -> None:
    """Record that a user blocked the bot or came back, and forget what this process knew of them."""
    services.known_users.pop(telegram_user_id, None)
    if services.users is not None:
        await asyncio.to_thread(
            services.users.set_telegram_reachable, telegram_user_id=telegram_user_id, reachable=reachable
        )


@asynccontextmanager
async def typing(bot: Bot, chat_id: int, delay: float | None = None) -> AsyncIterator[None]:
    """Show "typing…" in the chat from `delay` seconds into the block until it ends (renewed every
    TYPING_REFRESH_SECONDS), also while the turn waits for a slot at Rasa (rasa_client.admission)."""

    async def show_typing() -> None:
        with suppress(TelegramError):
            await bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def keep_typing() -> None:
        await asyncio.sleep(TYPING_DELAY_SECONDS if delay is None else delay)
        while True:
            await show_typing()
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def relay(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    *,
    shown_text: str | None = None,
    tapped_message_id: int | None = None,
) -> None:
    """Send `text` to the assistant as this user, show the replies and record the turn.

    `shown_text` is the text of the message whose button was tapped: handed to the assistant as
    metadata, it is the summary the user confirmed (payments compares it with what it issued).
    Log lines of the turn carry its conversation id (observability.context).
    """
    user = update.effective_user
    assert user is not None  # handlers only route updates from a user
    with conversation(sender_id_for(user.id)):
        await _relay(update, context, text, shown_text=shown_text, tapped_message_id=tapped_message_id)


async def _relay(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    *,
    shown_text: str | None = None,
    tapped_message_id: int | None = None,
) -> None:
    services = services_of(context)
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None  # handlers only route updates from a user in a chat
    account = await known_user(services, user, update.update_id)
    sender_id = sender_id_for(user.id)
    metadata = turn_metadata(update)
    if shown_text is not None:
        metadata["shown_text"] = shown_text
    # Outcomes the payments core reaches during this turn are created after this moment.
    started = datetime.now(UTC) - TURN_CLOCK_SKEW
    clock_started = time.perf_counter()
    turn, failure = await ask(context.bot, services, update, chat.id, text, metadata)
    busy = failure is TurnFailure.BUSY
    # What the previous delivered turn left in the slots is known only up to a lost turn.
    if turn is None:
        services.turn_payments.pop(user.id, None)
    messages = (
        render_turn(turn, user_id=user.id, payloads=services.payloads, pages=services.pages) if turn else []
    )
    elapsed = time.perf_counter() - clock_started
    outcome = "answered" if messages else "busy" if busy else "unavailable"
    TURN_SECONDS.labels(channel=CHANNEL, outcome=outcome).observe(elapsed)
    with payment(payment_of(turn)):
        log.info("turn %s", outcome, extra={"update_id": update.update_id, "seconds": round(elapsed, 4)})
    if turn is None or not messages:
        # A turn with nothing to show means something failed behind Rasa (an action): silence
        # would leave the user waiting, so it is reported like an outage, with the same retry —
        # unless a payment was settled in it after all: then that outcome is the answer.
        if turn is not None:
            log.warning("assistant gave no reply for update %s", update.update_id)
        outcomes_told = not busy and await turn_outcomes_told(
            context.bot, services, account, chat_id=chat.id, since=started
        )
        if outcomes_told:
            return
        if failure is TurnFailure.NO_ANSWER and is_summary_payload(text):
            await tell_unanswered_tap(
                context.bot, services, account, chat.id, user.id, text, shown_text, tapped_message_id
            )
            return
        markup = retry_keyboard(
            text,
            user_id=user.id,
            payloads=services.payloads,
            shown_text=shown_text,
            message_id=tapped_message_id,
        )
        words = FAILURE_TEXTS[failure or TurnFailure.UNAVAILABLE]
        await context.bot.send_message(chat.id, words, reply_markup=markup)
        return
    for message in messages:
        sent = await context.bot.send_message(chat.id, message.text, reply_markup=message.keyboard)
        if message.page_key is not None:
            services.pages.sent_as(message.page_key, chat.id, sent.message_id)
        if message.is_summary:
            await retire_summary(
                context.bot, chat.id, services.replace_live_summary(chat.id, sent.message_id)
            )
    told = turn_payment_ids(turn) | services.turn_payments.get(user.id, frozenset())
    services.turn_payments[user.id] = frozenset(_ids(turn.slots.get(slot) for slot in PAYMENT_ID_SLOTS))
    await acknowledge_turn(services, account, since=started, payment_ids=told)
    await record(services, sender_id=sender_id, account=account, text=text, turn=turn)


async def tell_unanswered_tap(
    bot: Bot,
    services: BotServices,
    account: KnownUser | None,
    chat_id: int,
    telegram_user_id: int,
    payload: str,
    shown_text: str | None,
    message_id: int | None,
) -> None:
    """Answer a Confirm/Cancel tap that reached the assistant with no answer back."""
    fresh = await tap_not_carried_out(services, account, sender_id_for(telegram_user_id), payload)
    if fresh is not None:
        # payments closed the tapped offer (the lost tap charges nothing, even if it is still on its
        # way) and offered the summary again: Try again sends it with its fresh nonce.
        again = retry_keyboard(
            with_nonce(payload, fresh),
            user_id=telegram_user_id,
            payloads=services.payloads,
            shown_text=shown_text,
            message_id=message_id,
        )
        await bot.send_message(chat_id, texts.NO_ANSWER_TAP_NOT_CARRIED_OUT, reply_markup=again)
        return
    # A Confirm may have charged: point to the payment's status, never offer to send it again.
    status = status_keyboard(user_id=telegram_user_id, payloads=services.payloads)
    await bot.send_message(chat_id, texts.NO_ANSWER_PAYMENT, reply_markup=status)


async def ask(
    bot: Bot, services: BotServices, update: Update, chat_id: int, text: str, metadata: dict[str, Any]
) -> tuple[AssistantTurn | None, TurnFailure | None]:
    """The assistant's turn for `text` (None when it failed) and, for a failure, why (TurnFailure).
    "typing…" shows while it takes."""
    assert update.effective_user is not None
    try:
        async with typing(bot, chat_id):
            sender_id = sender_id_for(update.effective_user.id)
            turn = await services.assistant.send(sender_id, text, metadata=metadata)
    except AssistantBusyError:
        log.warning("assistant busy: update %s not sent, kept for a retry", update.update_id)
        return None, TurnFailure.BUSY
    except AssistantNoAnswerError:
        log.warning("no answer from the assistant for update %s", update.update_id, exc_info=True)
        return None, TurnFailure.NO_ANSWER
    except ConversationUnreadableError:
        log.warning("the assistant could not read the conversation of update %s", update.update_id)
        return None, TurnFailure.UNREADABLE
    except AssistantUnavailableError:
        log.warning("assistant unavailable for update %s", update.update_id, exc_info=True)
        return None, TurnFailure.UNAVAILABLE
    return turn, None


async def retire_summary(bot: Bot, chat_id: int, message_id: int | None) -> None:
    """Remove the keyboard of a summary a newer one replaced (payments refuses its buttons anyway)."""
    if message_id is None:
        return
    try:
        await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except BadRequest as err:  # already tapped, or too old to edit: nothing left to remove
        log.info("summary %s in chat %s keeps its keyboard: %s", message_id, chat_id, err.message)
    except TelegramError:
        log.warning("could not remove the keyboard of summary %s in chat %s", message_id, chat_id)


async def tap_not_carried_out(
    services: BotServices, account: KnownUser | None, sender_id: str, payload: str
) -> str | None:
    """The fresh nonce of the summary a Confirm/Cancel `payload` was tapped under, when payments
    still held it open and claimed it (the lost tap can no longer be carried out). None when the
    tap was (or may have been) carried out, or payments cannot be asked."""
    tap = summary_tap(payload)
    if services.summary_offers is None or account is None or tap is None:
        return None
    draft_id, nonce = tap
    try:
        fresh = await asyncio.to_thread(
            services.summary_offers.reissue_unanswered_offer,
            user_id=account.user_id,
            conversation=sender_id,
            payment_id=draft_id,
            nonce=nonce,
        )
    except Exception:
        log.exception("summary of draft %s not claimed", draft_id)
        return None
    return None if fresh is None else fresh.nonce


async def turn_outcomes_told(
    bot: Bot, services: BotServices, account: KnownUser | None, *, chat_id: int, since: datetime
) -> bool:
    """Tell the payment outcomes reached in a turn whose reply was lost; True when there were any."""
    if services.notifications is None or account is None:
        return False
    try:
        told = await tell_turn_outcomes(
            bot, services.notifications, user_id=account.user_id, chat_id=chat_id, since=since
        )
    except Exception:
        log.exception("turn outcomes of user %s not read", account.user_id)
        return False
    return told > 0


def _ids(values: Iterable[Any]) -> set[int]:
    ids: set[int] = set()
    for value in values:
        try:
            ids.add(int(value))
        except (TypeError, ValueError):
            continue
    return ids


def turn_payment_ids(turn: AssistantTurn) -> frozenset[int]:
    """The payments a turn acted on and told about: the tapped summary's draft, the payment slots
    set in it or left by it."""
    entities = turn.parse.get("entities") or []
    values: list[Any] = [e.get("value") for e in entities if e.get("entity") in PAYMENT_ID_ENTITIES]
    values += [turn.slots.get(slot) for slot in PAYMENT_ID_SLOTS]
    values += [
        e.get("value") for e in turn.events if e.get("event") == "slot" and e.get("name") in PAYMENT_ID_SLOTS
    ]
    return frozenset(_ids(values))


async def acknowledge_turn(
    services: BotServices, account: KnownUser | None, *, since: datetime, payment_ids: Collection[int]
) -> None:
    """The turn's reply reached the user: the outcomes it told (of `payment_ids` only) need no
    second message. Acknowledged by payment, not by time: an outcome reached meanwhile for a turn
    the bot gave up on is not this reply's, and stays held until it is sent (issue 10)."""
    if services.notifications is None or account is None or not payment_ids:
        return  # no payment told: nothing to acknowledge (the outbox would do nothing), no thread hop
    try:
        await asyncio.to_thread(
            services.notifications.acknowledge_turn_outcomes,
            user_id=account.user_id,
            since=since,
            payment_ids=payment_ids,
        )
    except Exception:
        # Not acknowledged: the held outcome is sent once its hold ends (told twice, never never).
        log.exception("turn outcomes of user %s not acknowledged", account.user_id)


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
            store_turn(
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
