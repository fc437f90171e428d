"""A bounded in-memory store of per-user entries in which one user never pushes out another's.

The bot keeps button payloads (bot.rendering.PayloadStore) and paged lists (bot.pages.PageStore)
in memory under random keys, each bound to a user. A single least-recently-made order for everyone
would let one user's own chatter (asking for their bills again and again) push every other user's
buttons out. So each user has a share (`per_user`): past it, that user's own oldest entry goes.
The store as a whole stays bounded (`capacity`): past it, the oldest entry of whoever holds the
most goes, never the entry of a user holding fewer than that.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class UserBoundStore(Generic[V]):
    """Entries by key, each owned by a user; at most `per_user` per user, `capacity` in all."""

    def __init__(self, *, capacity: int, per_user: int) -> None:
        if capacity < 1 or per_user < 1:
            raise ValueError("capacity and per_user must be at least 1")
        self.capacity = capacity
        self.per_user = min(per_user, capacity)
        self._entries: dict[str, tuple[int, V]] = {}
        self._by_user: dict[int, OrderedDict[str, None]] = {}

    def put(self, key: str, user_id: int, value: V) -> None:
        """Keep `value` for `user_id` under `key`, forgetting the oldest entries past the bounds."""
        self.discard(key)
        self._entries[key] = (user_id, value)
        mine = self._by_user.setdefault(user_id, OrderedDict())
        mine[key] = None
        while len(mine) > self.per_user:
            self._forget_oldest_of(user_id)
        while len(self._entries) > self.capacity:
            largest = max(self._by_user, key=lambda user: len(self._by_user[user]))
            self._forget_oldest_of(largest)

    def get(self, key: str) -> tuple[int, V] | None:
        """(owner, value) kept under `key`, or None when unknown or forgotten."""
        return self._entries.get(key)

    def discard(self, key: str) -> None:
        """Forget `key` if kept."""
        found = self._entries.pop(key, None)
        if found is None:
            return
        mine = self._by_user[found[0]]
        mine.pop(key, None)
        if not mine:
            del self._by_user[found[0]]

    def count(self, user_id: int) -> int:
        """How many entries `user_id` holds."""
        return len(self._by_user.get(user_id, ()))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def _forget_oldest_of(self, user_id: int) -> None:
        oldest = next(iter(self._by_user[user_id]))
        self.discard(oldest)
