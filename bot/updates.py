"""Update order and duplicates: each user's updates one at a time and in order, users concurrently.

PTB hands every update to `OrderedUpdateProcessor` in the order it received them. The processor
takes a per-user asyncio.Lock (FIFO) before anything else, so one user's messages cannot overtake
each other, and then drops an update whose update_id it has already seen (Telegram redelivers
updates after a webhook timeout or a crash before the offset was confirmed).

Seen ids are kept in Redis when REDIS_URL is set (SET NX with a TTL, so this holds across restarts
and across several bot processes), otherwise in a bounded in-memory set, which forgets on restart:
then a redelivered update is handled again, and the payments core's idempotency is the last guard.

A message holding a card number is deleted as it arrives, before its slot and its user's order
(bot.cardnumbers: batched per chat, one call in flight per chat); only the answer to it waits its
turn (attack19: under the cap it stayed on screen behind the user's turns, up to 30 s each).

One user's updates are capped (`max_updates_per_user`, BOT_MAX_UPDATES_PER_USER): a processor slot
is held while an update waits for its user's lock and while its answer is on its way, so without a
cap one user flooding updates took the slots other users' updates need, and those waited behind the
flood. Every update from a user (or, without one, a chat) counts: a message or a tap, an edit (an
edit flood starved other users, attack18), a message in a group. At the cap such an update takes no
slot and no place in the user's order, and runs the handlers that run for every update (group -2,
which skips a refused update, and the card-number handler of group -1); then
`OverCapHandler` answers it instead of anything else: a tap with texts.SLOW_DOWN_TAP, a message or an
edit in the private chat with texts.SLOW_DOWN ("I didn't read this one; send it again"), anything
else (from a group, a channel) with nothing. Every refused private message is covered by an answer
sent after it: at most one answer delivered per `slow_down_every` seconds while none of the user's
updates finishes, and a new one once any has (the user then saw a reply and may think they were read
again). An answer counts once delivered: one whose send failed leaves the next refused message to
answer, with at most one attempt in flight per user (attack18b). A refused card number is deleted
every time, and explained under the same limit (`tell_over_cap`), not once per message (attack18b).
A block or unblock of the bot (my_chat_member) takes no slot, no place in any order and does not
count: it is recorded at once, the latest state per user written by one write at a time
(bot.coalesce.LatestWins; attack19: a block/unblock flood held every slot). Updates other than a
user's turns keep their own order per user, apart from the turns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Protocol

from telegram import Bot, Message, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, BaseUpdateProcessor, ContextTypes

from bot import texts
from bot.cardnumbers import CardDeletions, card_number_message

log = logging.getLogger(__name__)

SEEN_TTL_SECONDS = 24 * 3600
SLOW_DOWN_EVERY_SECONDS = 10.0  # one user's "slow down" answers while none of their turns finishes


class SeenUpdates(Protocol):
    """Remembers update ids; `first_time` is True only for the first delivery of an id."""

    async def first_time(self, update_id: int) -> bool:
        """Record `update_id`; False when it was recorded before."""
        ...

    async def aclose(self) -> None:
        """Release resources."""
        ...


class MemorySeenUpdates:
    """The last `capacity` update ids, in memory (forgotten on restart)."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[int, None] = OrderedDict()

    async def first_time(self, update_id: int) -> bool:
        """Record `update_id`; False when it was recorded before."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisSeenUpdates:
    """Update ids in Redis for a day, shared by every bot process; falls back to memory if Redis fails."""

    def __init__(self, redis_url: str, namespace: str) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured

        self._redis = redis.Redis.from_url(redis_url)
        self._namespace = namespace
        self._fallback = MemorySeenUpdates()

    async def first_time(self, update_id: int) -> bool:
        """Record `update_id`; False when it was recorded before."""
        try:
            created = await self._redis.set(f"{self._namespace}:{update_id}", 1, nx=True, ex=SEEN_TTL_SECONDS)
        except Exception:
            log.warning("Redis unavailable; remembering update ids in memory", exc_info=True)
            return await self._fallback.first_time(update_id)
        return bool(created)

    async def aclose(self) -> None:
        """Close the Redis connection pool."""
        await self._redis.aclose()


def ordering_key(update: object) -> int | None:
    """Whose updates must stay in order: the user's id (or the chat's), None for anything else."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


def outside_slots(update: object) -> bool:
    """True for an update handled at once, outside any slot and order: a block or unblock of the bot
    (recorded latest-wins per user, bot.coalesce.LatestWins, so a flood of them holds nothing)."""
    return isinstance(update, Update) and update.my_chat_member is not None


def starts_turn(update: object) -> bool:
    """True for a user's turn (its own lane of their order): a message or a tap in a private chat."""
    if not isinstance(update, Update) or (update.message is None and update.callback_query is None):
        return False
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


class OrderedUpdateProcessor(BaseUpdateProcessor):
    """Processes different users concurrently, one user's updates in order, each update_id once.

    `max_concurrent_updates`: updates in handlers (or waiting for their user's earlier ones) at
    once; the rest wait inside PTB. `concurrent_updates_for` sizes it so that the Rasa client's
    admission control, not PTB, decides who waits and who is told "busy". `max_updates_per_user`:
    one user's updates waiting for a slot, for their earlier ones or in a handler; more are
    refused with the "slow down" answer (module docstring; `OverCapHandler` answers them).
    """

    def __init__(
        self,
        seen: SeenUpdates,
        max_concurrent_updates: int,
        max_updates_per_user: int = 10,
        slow_down_every: float = SLOW_DOWN_EVERY_SECONDS,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.seen = seen
        self.max_updates_per_user = max_updates_per_user
        self.slow_down_every = slow_down_every
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._waiting: dict[tuple[int, str], int] = {}  # holders and waiters of each lock
        self._users: dict[int, int] = {}  # each user's turns in progress (counted updates)
        self._told: dict[int, dict[str, float]] = {}  # user -> answer -> when last delivered (monotonic)
        self._telling: dict[tuple[int, str], bool] = {}  # answers in flight -> refused again meanwhile
        self._over_cap: set[int] = set()  # ids of the refused updates whose handlers are running
        self.card_deletions = CardDeletions()
        self._card_deletes: dict[int, asyncio.Future[bool]] = {}  # id(update) -> its delete's outcome
        self.refused = 0  # updates refused for their user's cap (tests, logs)

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Start deleting a card number at once; refuse an update past its user's cap without a slot
        and record a block or unblock without one; otherwise PTB's processing."""
        card = card_number_message(update)
        if card is not None:
            self._card_deletes[id(update)] = self.card_deletions.delete(card)
        try:
            await self._admit(update, coroutine)
        finally:
            self._card_deletes.pop(id(update), None)

    async def _admit(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle the update outside any slot, refuse it for its user's cap, or give it a slot."""
        key = ordering_key(update)
        if key is None:
            await super().process_update(update, coroutine)
            return
        if outside_slots(update):
            await self._once(update, coroutine)
            return
        if self._users.get(key, 0) >= self.max_updates_per_user:
            await self._refuse(key, update, coroutine)
            return
        self._users[key] = self._users.get(key, 0) + 1
        try:
            await super().process_update(update, coroutine)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
            self._told.pop(key, None)  # a turn finished: the next refusal is answered anew

    def card_deleted(self, update: Update, message: Message) -> Awaitable[bool]:
        """Whether the update's card-number message was deleted: the delete started as it arrived
        (or now, for an update that did not come through `process_update`)."""
        started = self._card_deletes.get(id(update))
        return started if started is not None else self.card_deletions.delete(message)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this user's earlier updates, skip a repeated update_id, then handle the update."""
        key = ordering_key(update)
        if key is None:
            await self._once(update, coroutine)
            return
        async with self._in_order((key, "turn" if starts_turn(update) else "other")):
            await self._once(update, coroutine)

    @asynccontextmanager
    async def _in_order(self, lane: tuple[int, str]) -> AsyncIterator[None]:
        """Hold the lane's lock (a user's turns, or their other updates); dropped when nobody waits."""
        lock = self._locks.setdefault(lane, asyncio.Lock())
        self._waiting[lane] = self._waiting.get(lane, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[lane] -= 1
            if not self._waiting[lane]:
                del self._waiting[lane], self._locks[lane]

    async def _refuse(self, key: int, update: object, coroutine: Awaitable[Any]) -> None:
        """Run a refused update's every-update handlers, then `OverCapHandler` answers it."""
        assert isinstance(update, Update)  # ordering_key
        log.warning(
            "update %s refused: %d of its user's updates in progress",
            update.update_id,
            self._users.get(key, 0),
        )
        self._over_cap.add(update.update_id)
        try:
            await self._once(update, coroutine, refused=True)
        finally:
            self._over_cap.discard(update.update_id)

    def is_refused(self, update: object) -> bool:
        """True while a refused update's handlers run."""
        return isinstance(update, Update) and update.update_id in self._over_cap

    async def answer_refused(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a refused tap, and a refused message or edit in the private chat as `tell_over_cap`
        says; anything else refused (from a group, a channel) gets no answer. Raises Forbidden."""
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(texts.SLOW_DOWN_TAP)
            else:
                await self.tell_over_cap(update, context.bot, texts.SLOW_DOWN)
        except Forbidden:
            raise  # they blocked the bot: on_error records it
        except TelegramError:
            log.warning("the slow-down answer to update %s was not sent", update.update_id, exc_info=True)
        raise ApplicationHandlerStop

    async def tell_over_cap(self, update: Update, bot: Bot, text: str) -> None:
        """Send `text` to the private chat of a refused message or edit, unless that answer was
        delivered to its user in the last `slow_down_every` seconds while a turn of theirs runs, or
        is on its way (at most one attempt per user and text in flight: if it fails, it is sent once
        more for the refused messages that came meanwhile). Counted as told only once delivered:
        a failed send (logged) leaves the next refused message to answer. Nothing outside a private
        chat. Raises Forbidden (the user blocked the bot)."""
        key, chat = ordering_key(update), update.effective_chat
        if key is None or chat is None or chat.type != ChatType.PRIVATE or update.effective_message is None:
            return
        now, told = time.monotonic(), self._told.get(key, {}).get(text)
        if told is not None and now - told < self.slow_down_every:
            log.info("update %s refused; answered %.1f s ago", update.update_id, now - told)
            return
        lane = (key, text)
        if lane in self._telling:
            self._telling[lane] = True  # owed: should the answer in flight fail, it goes again
            return
        self._telling[lane] = False
        try:
            while True:
                started = time.monotonic()
                try:
                    await bot.send_message(chat.id, text)
                except Forbidden:
                    raise
                except TelegramError:
                    log.warning("over-cap answer to update %s not sent", update.update_id, exc_info=True)
                    if not self._telling[lane]:
                        return
                    self._telling[lane] = False
                    continue
                if self._users.get(key):  # until one of their turns finishes (or the time is up)
                    self._told.setdefault(key, {})[text] = started
                return
        finally:
            del self._telling[lane]

    async def _once(self, update: object, coroutine: Awaitable[Any], refused: bool = False) -> None:
        if isinstance(update, Update) and not await self.seen.first_time(update.update_id):
            log.info("update %s was delivered again; skipped", update.update_id)
            if isinstance(coroutine, Coroutine):
                coroutine.close()
            return
        self.refused += refused
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Release the seen-id store."""
        await self.seen.aclose()


class OverCapHandler(BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]):
    """Matches an update refused for its user's cap (group -1, after the card-number handler and
    before the outside-private-chat one): answers it "slow down" (or not at all) and stops there."""

    def __init__(self, processor: OrderedUpdateProcessor) -> None:
        super().__init__(processor.answer_refused)
        self.processor = processor

    def check_update(self, update: object) -> bool:
        """True for an update its processor refused."""
        return self.processor.is_refused(update)
