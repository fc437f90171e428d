"""Update order and duplicates: each user's updates one at a time and in order, users concurrently.

PTB hands every update to `OrderedUpdateProcessor` in the order it received them. The processor
takes a per-user asyncio.Lock (FIFO) before anything else, so one user's messages cannot overtake
each other, and then drops an update whose update_id it has already seen (Telegram redelivers
updates after a webhook timeout or a crash before the offset was confirmed).

Seen ids are kept in Redis when REDIS_URL is set (SET NX with a TTL, so this holds across restarts
and across several bot processes), otherwise in a bounded in-memory set, which forgets on restart:
then a redelivered update is handled again, and the payments core's idempotency is the last guard.

One user's updates are capped (`max_updates_per_user`, BOT_MAX_UPDATES_PER_USER): a processor slot is
held while an update waits for its user's lock, so without a cap one user flooding messages took the
slots other users' updates need, and those waited behind the flood. Past the cap, an update is not
handled: a message gets the "slow down, I didn't read this one" answer (texts.SLOW_DOWN, once per
burst: until that user's updates in progress are done, every further one is refused the same way, as
the answer says), a tap gets it as the tap's answer. Refused before a slot is taken, so the flood
costs other users nothing but those answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

from bot import texts

log = logging.getLogger(__name__)

SEEN_TTL_SECONDS = 24 * 3600


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


class OrderedUpdateProcessor(BaseUpdateProcessor):
    """Processes different users concurrently, one user's updates in order, each update_id once.

    `max_concurrent_updates`: updates in handlers (or waiting for their user's earlier ones) at
    once; the rest wait inside PTB. `concurrent_updates_for` sizes it so that the Rasa client's
    admission control, not PTB, decides who waits and who is told "busy". `max_updates_per_user`:
    one user's updates waiting for a slot, for their earlier ones or in a handler; more are refused
    with the "slow down" answer (module docstring).
    """

    def __init__(
        self, seen: SeenUpdates, max_concurrent_updates: int, max_updates_per_user: int = 10
    ) -> None:
        super().__init__(max_concurrent_updates)
        self.seen = seen
        self.max_updates_per_user = max_updates_per_user
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}
        self._told: set[int] = set()  # users told "slow down" since their updates were last all done
        self.refused = 0  # updates refused for their user's cap (tests, logs)

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Refuse an update past its user's cap before it takes a slot; otherwise PTB's processing."""
        key = ordering_key(update)
        if key is None:
            await super().process_update(update, coroutine)
            return
        if key in self._told or self._users.get(key, 0) >= self.max_updates_per_user:
            await self._refuse(key, update, coroutine)
            return
        self._users[key] = self._users.get(key, 0) + 1
        try:
            await super().process_update(update, coroutine)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                self._locks.pop(key, None)
                self._told.discard(key)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this user's earlier updates, skip a repeated update_id, then handle the update."""
        key = ordering_key(update)
        if key is None:
            await self._once(update, coroutine)
            return
        async with self._locks.setdefault(key, asyncio.Lock()):
            await self._once(update, coroutine)

    async def _refuse(self, key: int, update: object, coroutine: Awaitable[Any]) -> None:
        """Answer an update past its user's cap with "slow down" (a message: once per burst)."""
        if isinstance(coroutine, Coroutine):
            coroutine.close()
        if not isinstance(update, Update) or not await self.seen.first_time(update.update_id):
            return  # a repeated delivery was handled (or refused) the first time
        self.refused += 1
        in_progress = self._users.get(key, 0)
        log.warning("update %s refused: %d of its user's in progress", update.update_id, in_progress)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(texts.SLOW_DOWN_TAP)
            elif key not in self._told and update.effective_chat is not None:
                if self._users.get(key):  # still busy (checked after the await above): covers the burst
                    self._told.add(key)
                await update.get_bot().send_message(update.effective_chat.id, texts.SLOW_DOWN)
        except TelegramError:
            log.warning("the slow-down answer to update %s was not sent", update.update_id, exc_info=True)

    async def _once(self, update: object, coroutine: Awaitable[Any]) -> None:
        if isinstance(update, Update) and not await self.seen.first_time(update.update_id):
            log.info("update %s was delivered again; skipped", update.update_id)
            if isinstance(coroutine, Coroutine):
                coroutine.close()
            return
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Release the seen-id store."""
        await self.seen.aclose()
