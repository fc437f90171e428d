"""The failed-login counters count every failure once under concurrency, on each store.

Several console processes (here: threads with their own connections) failing logins of the same
account at once must add up, or an attacker could spread guesses over processes to stay under
the limit.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from console.throttle import (
    RedisThrottleStore,
    SqlThrottleStore,
    ThrottlePolicy,
    ThrottleState,
    ThrottleStore,
    account_key,
)
from db.models import utcnow

POLICY = ThrottlePolicy(
    max_failures=5,
    window=timedelta(hours=1),
    first_lock=timedelta(seconds=30),
    max_lock=timedelta(minutes=15),
)
ATTEMPTS = 12


BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def redis_store() -> Iterator[RedisThrottleStore]:
    """A Redis store (TEST_REDIS_URL) in a namespace of its own, wiped afterwards."""
    import redis

    client = redis.Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    namespace = f"throttle-store-test-{secrets.token_hex(4)}"
    yield RedisThrottleStore(client, namespace)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)
    client.close()


@BACKENDS
def test_concurrent_failures_all_count_in_the_database(session_factory: sessionmaker[Session]) -> None:
    check_concurrent_failures(SqlThrottleStore(session_factory))


@pytest.mark.redis
def test_concurrent_failures_all_count_in_redis(redis_store: RedisThrottleStore) -> None:
    check_concurrent_failures(redis_store)


def check_concurrent_failures(store: ThrottleStore) -> None:
    """Failures recorded at once from several threads all count; the lock follows; forget clears."""
    key = account_key(f"someone-{secrets.token_hex(3)}")
    now = utcnow()
    with ThreadPoolExecutor(max_workers=6) as pool:
        states = list(pool.map(lambda _: store.record_failure(key, POLICY, now), range(ATTEMPTS)))
    assert sorted(s.failures for s in states) == list(range(1, ATTEMPTS + 1))
    longest = max(states, key=lambda s: s.failures)
    assert longest.locked_until == now + POLICY.max_lock  # 30 s doubled seven times, capped at 15 min
    locked = store.locked_until([key, account_key("somebody else")])
    assert locked is not None and abs((locked - longest.locked_until).total_seconds()) < 1
    store.forget(key)
    assert store.locked_until([key]) is None


def test_the_policy_counts_within_the_window_and_doubles_the_lock() -> None:
    now = utcnow()
    state: ThrottleState | None = None
    locks = []
    for _ in range(8):
        state = POLICY.after_failure(state, now)
        locks.append(state.locked_until - now if state.locked_until else None)
    assert locks[:4] == [None] * 4
    assert locks[4:] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    quiet = POLICY.after_failure(state, now + POLICY.window + timedelta(seconds=1))
    assert (quiet.failures, quiet.locked_until) == (1, None)
    many = ThrottleState(failures=10**6, last_failure_at=now, locked_until=None)
    assert POLICY.after_failure(many, now).locked_until == now + POLICY.max_lock


@BACKENDS
def test_concurrent_reservations_grant_at_most_the_limit_in_the_database(
    session_factory: sessionmaker[Session],
) -> None:
    check_concurrent_reservations(SqlThrottleStore(session_factory))


@pytest.mark.redis
def test_concurrent_reservations_grant_at_most_the_limit_in_redis(redis_store: RedisThrottleStore) -> None:
    check_concurrent_reservations(redis_store)


def check_concurrent_reservations(store: ThrottleStore) -> None:
    """Attempts reserved at once: exactly `max_failures` are granted, the rest see the lock."""
    key = account_key(f"someone-{secrets.token_hex(3)}")
    now = utcnow()
    with ThreadPoolExecutor(max_workers=6) as pool:
        reservations = list(pool.map(lambda _: store.reserve(key, POLICY, now), range(ATTEMPTS)))
    granted = [r for r in reservations if r.granted]
    assert len(granted) == POLICY.max_failures
    assert all(r.state.locked_until is not None for r in reservations if not r.granted)
    # A success gives its slot back: the lock the last reservation caused goes with it.
    store.release(key, POLICY)
    assert store.locked_until([key]) is None
    assert store.reserve(key, POLICY, now).granted
