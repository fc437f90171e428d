"""Deleting messages that hold a card number: at once, in batches per chat, one call at a time.

`OrderedUpdateProcessor` starts the delete of such a message as the update arrives, before its slot
and its user's order (attack19: under the cap it waited in the user's lane behind their turns, up
to 30 s each); the card-number handler then awaits the outcome to choose its answer. Every message
is deleted, but each chat has at most one delete call in flight: the ids that arrive meanwhile go
together in the next call (Bot API deleteMessages, up to DELETE_BATCH ids). A flood of card numbers
therefore takes one place at a time in the bot's ~30 calls/s budget (bot.ratelimit) instead of one
per message ahead of every other user's replies (attack19: 6.9 s behind 240 deletes). A batch
Telegram refuses is retried one message at a time, so each outcome is known and none is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot, Message, Update
from telegram.error import TelegramError
from telegram.ext import filters

from privacy.cards import looks_like_card_number

log = logging.getLogger(__name__)

DELETE_BATCH = 100  # Bot API deleteMessages: at most 100 message ids per call


class CardNumberFilter(filters.MessageFilter):
    """Matches a message (or an edit) whose text or caption looks like it holds a card number."""

    def filter(self, message: Message) -> bool:
        """True when the text or caption looks like a card number."""
        return looks_like_card_number(message.text or message.caption or "")


CARD_NUMBERS = CardNumberFilter()


def card_number_message(update: object) -> Message | None:
    """The message of an update that holds a card number (as the card-number handler matches it)."""
    if isinstance(update, Update) and CARD_NUMBERS.check_update(update):
        return update.effective_message
    return None


class CardDeletions:
    """Deletes messages per chat, one call in flight per chat, the ids that wait batched together."""

    def __init__(self) -> None:
        self._waiting: dict[int, dict[int, asyncio.Future[bool]]] = {}  # chat -> message id -> outcome
        self._deleting: dict[int, asyncio.Task[None]] = {}  # chat -> its one delete loop

    def delete(self, message: Message) -> asyncio.Future[bool]:
        """Delete `message` (soon, with the chat's others); the future says whether it was deleted.
        The same message asked twice while it waits shares one outcome."""
        chat_id = message.chat_id
        waiting = self._waiting.setdefault(chat_id, {})
        outcome = waiting.get(message.message_id)
        if outcome is None:
            outcome = waiting[message.message_id] = asyncio.get_running_loop().create_future()
        if chat_id not in self._deleting:
            self._deleting[chat_id] = asyncio.create_task(
                self._delete_waiting(message.get_bot(), chat_id), name=f"paychat-card-deletes-{chat_id}"
            )
        return outcome

    async def _delete_waiting(self, bot: Bot, chat_id: int) -> None:
        """Delete the chat's waiting messages, up to DELETE_BATCH per call, until none wait."""
        batch: dict[int, asyncio.Future[bool]] = {}
        try:
            while waiting := self._waiting.get(chat_id):
                batch = {message_id: waiting.pop(message_id) for message_id in list(waiting)[:DELETE_BATCH]}
                if not waiting:
                    del self._waiting[chat_id]
                deleted = await delete_messages(bot, chat_id, list(batch))
                for message_id, outcome in batch.items():
                    if not outcome.done():
                        outcome.set_result(message_id in deleted)
                batch = {}
        finally:  # cancelled (shutdown) or failed: nobody waits for ever
            left = {**batch, **self._waiting.pop(chat_id, {})}
            for outcome in left.values():
                if not outcome.done():
                    outcome.set_result(False)
            del self._deleting[chat_id]


async def delete_messages(bot: Bot, chat_id: int, message_ids: list[int]) -> set[int]:
    """Delete messages of one chat (deleteMessages for several, retried one by one if refused);
    the ids deleted. Logs what was deleted and what Telegram would not delete."""
    if len(message_ids) > 1:
        try:
            await bot.delete_messages(chat_id, message_ids)
        except TelegramError as err:
            log.warning(
                "Telegram would not delete %d messages at once in chat %s (%s); one at a time",
                len(message_ids), chat_id, _reason(err),
            )  # fmt: skip
        else:
            log.warning(
                "deleted %d messages that looked like card numbers (chat %s)", len(message_ids), chat_id
            )
            return set(message_ids)
    deleted = set()
    for message_id in message_ids:
        try:
            if await bot.delete_message(chat_id, message_id):
                deleted.add(message_id)
                log.warning("deleted a message that looked like a card number (chat %s)", chat_id)
                continue
            reason: Any = "answered False"
        except TelegramError as err:
            reason = _reason(err)
        log.warning(
            "could NOT delete a message that looked like a card number (chat %s): %s", chat_id, reason
        )
    return deleted


def _reason(err: TelegramError) -> str:
    """What Telegram said, without the message (it never holds message text)."""
    return f"{type(err).__name__}: {err.message}"
