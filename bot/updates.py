"""Update order and duplicates: each user's updates one at a time and in order, users concurrently.

PTB hands every update to `OrderedUpdateProcessor` in the order it received them. The processor
takes a per-user asyncio.Lock (FIFO) before anything else, so one user's messages cannot overtake
each other, and then drops an update whose update_id it has already seen (Telegram redelivers
updates after a webhook timeout or a crash before the offset was confirmed).

Seen ids are kept in Redis when REDIS_URL is set (SET NX with a TTL, so this holds across restarts
and across several bot processes), otherwise in a bounded in-memory set, which forgets on restart:
then a redelivered update is handled again, and the payments core's idempotency is the last guard.
Limitation: a processor slot is held while an update waits for its user's lock, so one user
flooding more than `max_concurrent_updates` messages delays others until theirs are worked off.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

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
    admission control, not PTB, decides who waits and who is told "busy".
    """

    def __init__(self, seen: SeenUpdates, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self.seen = seen
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this user's earlier updates, skip a repeated update_id, then handle the update."""
        key = ordering_key(update)
        if key is None:
            await self._once(update, coroutine)
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await self._once(update, coroutine)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

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
