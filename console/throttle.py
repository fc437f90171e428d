"""Failed staff logins, counted per account and per address, and how long further tries wait.

`ThrottlePolicy.after_failure` is the whole rule (pure, so both stores share it): failures count
until a quiet `window` passes; from the `max_failures`-th failure on, every new failure locks the
key for `first_lock`, doubling each time up to `max_lock`. While a key is locked the login is not
even checked, so guessing costs time whether or not the account exists.

The counters live where every console process sees them: the `login_throttle` table, or Redis
when REDIS_URL is set. Keys are SHA-256 digests ("account:…", "address:…"): a username typed by
mistake (or a password typed into the username field) is never stored.

The same counters also brake actions that cost something however they turn out (`ActionBrake`,
e.g. creating test users): each action takes a slot up front, and from the `max_failures`-th one
within the window on, the key waits as a failed login would. They share the table (or Redis) under
their own key prefix and namespace.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import LoginThrottle, utcnow
from settings import Settings

_T = TypeVar("_T")
MAX_DOUBLINGS = 30  # 2**30 first locks is far beyond any max_lock; keeps the arithmetic finite


def account_key(username: str) -> str:
    """The throttle key of a username as typed (existing or not)."""
    return "account:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()[:40]


def address_key(address: str) -> str:
    """The throttle key of a client address."""
    return "address:" + hashlib.sha256(address.encode()).hexdigest()[:40]


def action_key(action: str, actor: str) -> str:
    """The throttle key of one actor (a staff member) doing one kind of action."""
    return f"{action}:" + hashlib.sha256(actor.encode()).hexdigest()[:40]


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; storage is always UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ThrottleState:
    """A key's failures since the window restarted, the last one, and the lock they caused."""

    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures a key may have before it is locked, and for how long."""

    max_failures: int
    window: timedelta
    first_lock: timedelta
    max_lock: timedelta

    def after_failure(self, state: ThrottleState | None, now: datetime) -> ThrottleState:
        """The key's state after one more failure at `now`."""
        quiet = state is None or now - _aware(state.last_failure_at) > self.window
        failures = 1 if quiet or state is None else state.failures + 1
        locked_until = None
        if failures >= self.max_failures:
            doublings = min(failures - self.max_failures, MAX_DOUBLINGS)
            locked_until = now + min(self.first_lock * 2**doublings, self.max_lock)
        return ThrottleState(failures=failures, last_failure_at=now, locked_until=locked_until)

    def reserve(self, state: ThrottleState | None, now: datetime) -> Reservation:
        """Count one attempt up front, unless the key is locked at `now` (then nothing changes).

        Counting before the password is checked is what keeps concurrent guesses honest: each
        one takes a slot atomically, so a burst gets at most `max_failures` checked guesses.
        """
        if state is not None and state.locked_until is not None and _aware(state.locked_until) > now:
            return Reservation(granted=False, state=state)
        return Reservation(granted=True, state=self.after_failure(state, now))

    def release(self, state: ThrottleState | None) -> ThrottleState | None:
        """Give back one reserved attempt (it succeeded); a lock it alone caused goes too."""
        if state is None or state.failures <= 1:
            return None
        failures = state.failures - 1
        locked_until = state.locked_until if failures >= self.max_failures else None
        return ThrottleState(failures, state.last_failure_at, locked_until)


@dataclass(frozen=True)
class Reservation:
    """An attempt counted before it was checked (`granted`), or refused because the key is locked."""

    granted: bool
    state: ThrottleState


class ThrottleStore(Protocol):
    """Where failure counters live; every console process must share it."""

    def locked_until(self, keys: Sequence[str]) -> datetime | None:
        """The latest lock among `keys` (possibly in the past), or None."""
        ...

    def record_failure(self, key: str, policy: ThrottlePolicy, now: datetime) -> ThrottleState:
        """Count one failure for `key` (atomically) and return its new state."""
        ...

    def reserve(self, key: str, policy: ThrottlePolicy, now: datetime) -> Reservation:
        """Atomically: refuse if `key` is locked at `now`, else count one attempt."""
        ...

    def release(self, key: str, policy: ThrottlePolicy) -> None:
        """Atomically give back one attempt reserved for `key` (the login succeeded)."""
        ...

    def forget(self, key: str) -> None:
        """Drop `key`'s failures (after a successful login)."""
        ...


class SqlThrottleStore:
    """Counters in the `login_throttle` table (SQLite or PostgreSQL)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def locked_until(self, keys: Sequence[str]) -> datetime | None:
        """The latest lock among `keys`, or None."""
        with self.session_factory() as session:
            found = session.scalars(
                select(LoginThrottle.locked_until).where(LoginThrottle.key.in_(list(keys)))
            ).all()
        locks = [_aware(moment) for moment in found if moment is not None]
        return max(locks, default=None)

    def record_failure(self, key: str, policy: ThrottlePolicy, now: datetime) -> ThrottleState:
        """Count a failure inside one transaction (a row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite)."""
        try:
            return self._record(key, policy, now)
        except IntegrityError:
            # Two first failures of a key raced to insert its row: count on the winner's row.
            return self._record(key, policy, now)

    def _record(self, key: str, policy: ThrottlePolicy, now: datetime) -> ThrottleState:
        return self._update(key, lambda before: (policy.after_failure(before, now),) * 2)

    def reserve(self, key: str, policy: ThrottlePolicy, now: datetime) -> Reservation:
        """Check the lock and count the attempt in one transaction (row lock / BEGIN IMMEDIATE)."""

        def change(before: ThrottleState | None) -> tuple[Reservation, ThrottleState | None]:
            reservation = policy.reserve(before, now)
            return reservation, (reservation.state if reservation.granted else before)

        try:
            return self._update(key, change)
        except IntegrityError:
            return self._update(key, change)

    def release(self, key: str, policy: ThrottlePolicy) -> None:
        """Give back one reserved attempt in one transaction."""
        self._update(key, lambda before: (None, policy.release(before)))

    def _update(
        self, key: str, change: Callable[[ThrottleState | None], tuple[_T, ThrottleState | None]]
    ) -> _T:
        with self.session_factory.begin() as session:
            row = session.scalar(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())
            before = (
                ThrottleState(row.failures, row.last_failure_at, row.locked_until)
                if row is not None
                else None
            )
            result, state = change(before)
            if state is None:
                if row is not None:
                    session.delete(row)
                return result
            if row is None:
                row = LoginThrottle(key=key)
                session.add(row)
            row.failures = state.failures
            row.last_failure_at = state.last_failure_at
            row.locked_until = state.locked_until
            return result

    def forget(self, key: str) -> None:
        """Delete `key`'s row."""
        with self.session_factory.begin() as session:
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


class RedisThrottleStore:
    """Counters in Redis hashes (`<namespace>:<key>`), updated with optimistic transactions."""

    def __init__(self, client: Any, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def _name(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def locked_until(self, keys: Sequence[str]) -> datetime | None:
        """The latest lock among `keys`, or None."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(self._name(key), "locked_until")
        locks = [float(value) for value in pipe.execute() if value not in (None, b"", "")]
        return datetime.fromtimestamp(max(locks), UTC) if locks else None

    def record_failure(self, key: str, policy: ThrottlePolicy, now: datetime) -> ThrottleState:
        """Count a failure with WATCH/MULTI, retrying when another process changed the key meanwhile."""
        return self._update(key, policy, lambda before: (policy.after_failure(before, now),) * 2)

    def reserve(self, key: str, policy: ThrottlePolicy, now: datetime) -> Reservation:
        """Check the lock and count the attempt in one optimistic transaction."""

        def change(before: ThrottleState | None) -> tuple[Reservation, ThrottleState | None]:
            reservation = policy.reserve(before, now)
            return reservation, (reservation.state if reservation.granted else before)

        return self._update(key, policy, change)

    def release(self, key: str, policy: ThrottlePolicy) -> None:
        """Give back one reserved attempt."""
        self._update(key, policy, lambda before: (None, policy.release(before)))

    def _update(
        self,
        key: str,
        policy: ThrottlePolicy,
        change: Callable[[ThrottleState | None], tuple[_T, ThrottleState | None]],
    ) -> _T:
        import redis

        name = self._name(key)
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)
                    stored = pipe.hgetall(name)
                    result, state = change(_state_from_redis(stored))
                    pipe.multi()
                    if state is None:
                        pipe.delete(name)
                    else:
                        pipe.hset(
                            name,
                            mapping={
                                "failures": state.failures,
                                "last_failure_at": state.last_failure_at.timestamp(),
                                "locked_until": state.locked_until.timestamp() if state.locked_until else "",
                            },
                        )
                        # Nothing about the key matters once the window and the longest lock have passed.
                        pipe.expire(name, int((policy.window + policy.max_lock).total_seconds()) + 1)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue

    def forget(self, key: str) -> None:
        """Delete `key`'s hash."""
        self.client.delete(self._name(key))


def _state_from_redis(stored: dict[Any, Any]) -> ThrottleState | None:
    values = {(k.decode() if isinstance(k, bytes) else k): v for k, v in stored.items()}
    if not values.get("failures"):
        return None
    locked = values.get("locked_until")
    return ThrottleState(
        failures=int(values["failures"]),
        last_failure_at=datetime.fromtimestamp(float(values["last_failure_at"]), UTC),
        locked_until=datetime.fromtimestamp(float(locked), UTC) if locked not in (None, b"", "") else None,
    )


def build_store(settings: Settings, session_factory: sessionmaker[Session], purpose: str) -> ThrottleStore:
    """Counters for `purpose` ("login", "test-users"...): in Redis when REDIS_URL is set (namespace
    paychat:<purpose>:<environment>), else in the database's `login_throttle` table."""
    if settings.redis_url:
        import redis

        return RedisThrottleStore(
            redis.Redis.from_url(settings.redis_url), namespace=f"paychat:{purpose}:{settings.environment}"
        )
    return SqlThrottleStore(session_factory)


@dataclass(frozen=True)
class ActionBrake:
    """A rate limit on an action: every attempt is counted, whatever its outcome.

    `take` reserves a slot for the key, or says how many seconds to wait while it is locked;
    `give_back` returns the slot of an attempt that did nothing (it failed before any effect).
    """

    store: ThrottleStore
    policy: ThrottlePolicy
    clock: Callable[[], datetime] = utcnow

    def take(self, key: str) -> int | None:
        """None when the action may go ahead (one slot taken); else the seconds to wait (>= 1)."""
        now = self.clock()
        reservation = self.store.reserve(key, self.policy, now)
        if reservation.granted:
            return None
        locked_until = reservation.state.locked_until
        assert locked_until is not None, "a refused reservation is a locked key"
        return max(1, math.ceil((_aware(locked_until) - now).total_seconds()))

    def give_back(self, key: str) -> None:
        """Return the slot an attempt took (it had no effect)."""
        self.store.release(key, self.policy)
