"""The one staff password check, shared by the login form, `POST /api/login` and HTTP Basic.

`LoginGuard.check_password` refuses at once while the account or the client address is locked
(`LoginThrottledError`, shown as HTTP 429 with Retry-After), otherwise verifies the argon2 hash,
having first counted the attempt against both keys (atomically, so concurrent guesses each take
a slot before argon2 runs); a success clears the account's count and gives the address its slot
back. Locks and messages
are the same whether or not the account exists.

HTTP Basic stays for compatibility: a successful check is remembered in this process for
`basic_cache_seconds`, keyed by the staff member and their password-hash stamp plus a keyed digest
of the password sent, so a script sending Basic on every request costs one argon2 run per period,
not one per request. A new password (new stamp) or a deactivated account ends it at once. At most
`basic_cache_size` accounts are remembered (least recently used forgotten first); failures never are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from console.staff import StaffView, authenticate_outside_transaction, get_staff
from console.throttle import ThrottlePolicy, ThrottleStore, account_key, address_key, build_store
from db.models import utcnow
from payments.audit import append_audit
from settings import Settings

log = logging.getLogger(__name__)


class LoginThrottledError(Exception):
    """Too many failed logins for this account or from this address: try again later."""

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = max(1, retry_after_seconds)
        minutes = math.ceil(self.retry_after_seconds / 60)
        wait = (
            f"{self.retry_after_seconds} seconds"
            if self.retry_after_seconds < 60
            else (f"{minutes} minute{'s' if minutes != 1 else ''}")
        )
        super().__init__(f"Too many failed logins. Try again in {wait}.")


@dataclass(frozen=True)
class _RememberedBasic:
    staff_id: int
    stamp: str
    digest: bytes
    expires_at: float


@dataclass
class LoginGuard:
    """Throttled password checks and the HTTP Basic cache of one console process."""

    store: ThrottleStore
    account_policy: ThrottlePolicy
    address_policy: ThrottlePolicy
    basic_cache_seconds: float
    basic_cache_size: int = 1024
    clock: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    _basic: OrderedDict[str, _RememberedBasic] = field(default_factory=OrderedDict)
    _basic_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check_password(
        self, session_factory: sessionmaker[Session], *, username: str, password: str, address: str
    ) -> StaffView | None:
        """The account if the password is right; None if not; LoginThrottledError while locked."""
        now = self.clock()
        account, client = account_key(username), address_key(address)
        locked_until = self.store.locked_until([account, client])
        if locked_until is not None and locked_until > now:
            raise LoginThrottledError(math.ceil((locked_until - now).total_seconds()))
        # Count the attempt before argon2 runs (a reserved slot, taken atomically): concurrent
        # guesses cannot all pass the lock check before the first failure is counted.
        by_address = self.store.reserve(client, self.address_policy, now)
        if not by_address.granted:
            raise LoginThrottledError(self._retry_after(by_address.state.locked_until, now))
        by_account = self.store.reserve(account, self.account_policy, now)
        if not by_account.granted:
            raise LoginThrottledError(self._retry_after(by_account.state.locked_until, now))
        staff = authenticate_outside_transaction(session_factory, username=username, password=password)
        if staff is not None:
            with session_factory.begin() as session:
                append_audit(session, event="staff.login", data={"staff": staff.username, "address": address})
            self.store.forget(account)
            self.store.release(client, self.address_policy)
            return staff
        if by_account.state.locked_until or by_address.state.locked_until:
            with session_factory.begin() as session:
                append_audit(
                    session,
                    event="staff.login_locked",
                    data={"account": account, "address": address, "failures": by_account.state.failures},
                )
            log.warning(
                "login locked after failures: %s (%d), address %s (%d)",
                account,
                by_account.state.failures,
                address,
                by_address.state.failures,
            )
        return None

    @staticmethod
    def _retry_after(locked_until: datetime | None, now: datetime) -> int:
        if locked_until is None:
            return 1
        if locked_until.tzinfo is None:
            locked_until = locked_until.replace(tzinfo=now.tzinfo)
        return math.ceil((locked_until - now).total_seconds())

    def check_basic(
        self, session_factory: sessionmaker[Session], *, username: str, password: str, address: str
    ) -> StaffView | None:
        """HTTP Basic: a recent success with the same password and password hash skips argon2."""
        name = username.strip().lower()
        digest = hmac.new(self._basic_key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            remembered = self._basic.get(name)
            if remembered is not None:
                self._basic.move_to_end(name)  # least recently used is forgotten first
        if (
            remembered is not None
            and remembered.expires_at > self.monotonic()
            and hmac.compare_digest(remembered.digest, digest)
        ):
            with session_factory() as session:
                staff = get_staff(session, remembered.staff_id)
            if staff is not None and hmac.compare_digest(staff.credential_stamp, remembered.stamp):
                return staff
            with self._lock:
                self._basic.pop(name, None)
        staff = self.check_password(session_factory, username=username, password=password, address=address)
        if staff is not None and self.basic_cache_seconds > 0:
            with self._lock:
                self._basic[name] = _RememberedBasic(
                    staff_id=staff.id,
                    stamp=staff.credential_stamp,
                    digest=digest,
                    expires_at=self.monotonic() + self.basic_cache_seconds,
                )
                self._basic.move_to_end(name)
                while len(self._basic) > self.basic_cache_size:
                    self._basic.popitem(last=False)
        return staff


def build_login_guard(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    clock: Callable[[], datetime] = utcnow,
) -> LoginGuard:
    """A guard on the database's `login_throttle` table, or on Redis when REDIS_URL is set."""
    store = build_store(settings, session_factory, "login")
    window = timedelta(seconds=settings.console_login_window_seconds)
    first_lock = timedelta(seconds=settings.console_login_lockout_seconds)
    max_lock = timedelta(seconds=settings.console_login_max_lockout_seconds)
    return LoginGuard(
        store=store,
        account_policy=ThrottlePolicy(settings.console_login_max_failures, window, first_lock, max_lock),
        address_policy=ThrottlePolicy(
            settings.console_login_max_failures_per_address, window, first_lock, max_lock
        ),
        basic_cache_seconds=settings.console_basic_auth_cache_seconds,
        basic_cache_size=settings.console_basic_auth_cache_size,
        clock=clock,
    )
