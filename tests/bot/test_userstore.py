"""bot.userstore: a user's share is bounded, the store is bounded, and overflow hits the biggest holder."""

from __future__ import annotations

from typing import Any, cast

import pytest

from bot.services import BotServices
from bot.userstore import UserBoundStore


def test_a_user_past_their_share_forgets_their_own_oldest() -> None:
    store: UserBoundStore[str] = UserBoundStore(capacity=10, per_user=3)
    store.put("v", 1, "victim")
    for n in range(50):
        store.put(f"m{n}", 2, "mallory")
    assert store.get("v") == (1, "victim")
    assert store.count(2) == 3 and "m49" in store and "m46" not in store
    assert len(store) == 4


def test_the_whole_store_stays_bounded_and_the_biggest_holder_gives_way() -> None:
    store: UserBoundStore[int] = UserBoundStore(capacity=5, per_user=3)
    store.put("a", 1, 0)
    for user in (2, 3):
        for n in range(3):
            store.put(f"{user}-{n}", user, n)
    assert len(store) == 5
    assert "a" in store  # the user holding one entry keeps it; users 2 and 3 gave their oldest
    assert store.count(2) + store.count(3) == 4
    store.discard("a")
    assert store.get("a") is None and store.count(1) == 0


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        UserBoundStore(capacity=0, per_user=1)


def test_another_chats_taps_never_reopen_a_used_keyboard() -> None:
    services = BotServices(assistant=cast(Any, None), users=None, session_factory=None)
    assert services.first_tap(1001, 10)
    for n in range(60_000):  # more taps than the whole store holds, all in one chat
        services.first_tap(6666, n)
    assert services.was_tapped(1001, 10) and not services.first_tap(1001, 10)
