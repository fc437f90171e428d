"""Coalescing work per key: one call in flight, shared by everyone who asks meanwhile.

`SingleFlight`: one lookup per key at a time, its result shared by the callers that came while it
ran (attack19: a first-contact flood looked its user up once per message, 147 lookups for 150
messages, on the worker threads other users' database work needs). `LatestWins`: the latest value
per key written by one write at a time, the values that came meanwhile skipped (attack19: each block
or unblock of the bot held a slot while it waited behind the previous one's write).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Runs one call per key at a time; the callers that come while it runs get its result (or error)."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        """The result of `call()`, or of the call for `key` already running."""
        task = self._running.get(key)
        if task is None:
            task = self._running[key] = asyncio.ensure_future(call())
            task.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(task)  # one caller cancelled does not cancel the others' call


class LatestWins(Generic[K, V]):
    """The latest value per key, written by one write at a time: a value that comes while a write
    runs waits for it and replaces any value still waiting, so only the newest is written next.

    "Latest" is by `order` (e.g. Telegram's update_id), not by arrival, so updates whose handlers
    reach here out of order (an await in between) cannot write an older state last. The last order
    written per key is remembered (`remembered` keys) to skip a stale value that comes late.
    """

    def __init__(self, remembered: int = 50_000) -> None:
        self._waiting: dict[K, tuple[int, V, Callable[[V], Awaitable[None]]]] = {}
        self._writing: dict[K, asyncio.Task[None]] = {}
        self._last: OrderedDict[K, int] = OrderedDict()  # key -> order of the newest value taken
        self._remembered = remembered

    async def put(self, key: K, value: V, order: int, write: Callable[[V], Awaitable[None]]) -> None:
        """Have `value` written with `write` unless a newer one (by `order`) is; returns once the
        write that covers it is done (raises its error, or the last one's when every write failed)."""
        if order <= self._last.get(key, order - 1):
            log.info("a newer value for %s was taken already; this one (%s) is not written", key, order)
            return
        self._last[key] = order
        self._last.move_to_end(key)
        while len(self._last) > self._remembered:
            self._last.popitem(last=False)
        await self._enqueue(key, order, value, write)

    def last(self, key: K) -> int | None:
        """The order of the newest value taken for `key`, None when none is remembered."""
        return self._last.get(key)

    async def put_if_unchanged(
        self, key: K, value: V, seen: int | None, write: Callable[[V], Awaitable[None]]
    ) -> None:
        """Have `value` written unless a value was taken for `key` since `seen` (what `last(key)`
        said when the caller started): for news that has no order of its own, such as a send
        refused because the user blocked the bot, which must not overwrite an unblock taken
        while the send ran (attack20)."""
        if self._last.get(key) != seen:
            log.info("a newer value for %s was taken while this one was found; not written", key)
            return
        await self._enqueue(key, -1 if seen is None else seen, value, write)

    async def _enqueue(self, key: K, order: int, value: V, write: Callable[[V], Awaitable[None]]) -> None:
        self._waiting[key] = (order, value, write)
        task = self._writing.get(key)
        if task is None:
            task = self._writing[key] = asyncio.create_task(self._write_waiting(key))
        await asyncio.shield(task)

    def busy(self) -> bool:
        """True while a write runs or a value waits (tests)."""
        return bool(self._writing or self._waiting)

    async def _write_waiting(self, key: K) -> None:
        """Write the key's waiting value until none waits; a failed write is superseded by a newer
        value, else its error is raised to every caller it covers."""
        try:
            while key in self._waiting:
                _, value, write = self._waiting.pop(key)
                try:
                    await write(value)
                except Exception:
                    if key not in self._waiting:
                        raise
                    log.warning("a write for %s failed; writing the newer value", key, exc_info=True)
        finally:
            del self._writing[key]
