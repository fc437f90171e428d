"""Item 11: the staff login brake is read before, and counted after, the argon2 check.

`LoginGuard.check_password` reads the lock, runs argon2, and only then records the failure. Wrong
passwords arriving at the same moment all pass the lock check before the first failure is
counted, so an attacker guessing one account's password in bursts gets as many argon2-checked
guesses per burst as the console runs at once (`POST /api/login` uses asyncio.to_thread: up to
~40 threads), not the documented 5 — and again after each lock ends. Measured through
`POST /api/login` on PostgreSQL: 7-10 of 24 simultaneous wrong passwords answered 401 (checked).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm import Session, sessionmaker

from console.login import LoginThrottledError, build_login_guard
from settings import Settings
from tests.console.conftest import Seed

MAX_FAILURES = 5  # CONSOLE_LOGIN_MAX_FAILURES default
BURST = 16  # below the per-address limit (20): only the per-account brake is in play
# PostgreSQL, as in production: SQLite's BEGIN IMMEDIATE happens to serialize the check there.
POSTGRES = pytest.mark.parametrize(
    "console_database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@POSTGRES
def test_a_burst_of_concurrent_guesses_gets_no_more_checked_guesses_than_the_limit(
    console_settings: Settings, session_factory: sessionmaker[Session], seed: Seed
) -> None:
    guard = build_login_guard(console_settings, session_factory)  # what the console app builds
    start = threading.Barrier(BURST)

    def guess(number: int) -> str:
        start.wait()
        try:
            staff = guard.check_password(
                session_factory, username="tester", password=f"guess-{number}", address="203.0.113.9"
            )
        except LoginThrottledError:
            return "refused unchecked"
        assert staff is None
        return "checked"

    with ThreadPoolExecutor(BURST) as pool:
        outcomes = list(pool.map(guess, range(BURST)))

    checked = outcomes.count("checked")
    assert checked <= MAX_FAILURES, f"{checked} of {BURST} concurrent guesses were checked by argon2"
