"""Staff logins have a brake (issue 10, item 11): one throttled check behind the form, the API and Basic.

After CONSOLE_LOGIN_MAX_FAILURES wrong passwords for an account (any address), or
CONSOLE_LOGIN_MAX_FAILURES_PER_ADDRESS from one address (any accounts), further logins are
refused with 429 + Retry-After without being checked, even with the right password; each further
failure doubles the wait. Counters live in the database (or Redis) so every console process
agrees, and the answers are the same whether or not the account exists. HTTP Basic runs argon2
once per cache period, not on every request.
"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

import console.staff
from console.app import create_app
from console.services import ConsoleServices
from console.staff import hash_password
from db.models import StaffUser, utcnow
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import PASSWORD, FakeChannel, Seed, csrf_of

BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
MAX_FAILURES = 5  # the defaults (settings/__init__.py, .env.example)
MAX_FAILURES_PER_ADDRESS = 20
FIRST_LOCK = 30
WRONG = "not the password"


def basic(username: str, password: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def form_login(client: TestClient, username: str, password: str) -> httpx.Response:
    """POST the login form (with the page's CSRF token)."""
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(client), "next": "/"},
    )


def api_login(client: TestClient, username: str, password: str) -> httpx.Response:
    """POST /api/login."""
    return client.post("/api/login", json={"username": username, "password": password})


def basic_request(client: TestClient, username: str, password: str) -> httpx.Response:
    """A JSON API request authenticated with HTTP Basic."""
    return client.get("/api/me", headers=basic(username, password))


def fail(client: TestClient, username: str, times: int) -> None:
    """`times` wrong passwords for `username`, through the form, the API and Basic in turn."""
    ways = (form_login, api_login, basic_request)
    for attempt in range(times):
        response = ways[attempt % 3](client, username, WRONG)
        assert response.status_code == 401, response.text


def assert_locked(response: httpx.Response) -> int:
    """The response is a lockout: 429, a Retry-After, the same wording for everyone; returns the wait."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= FIRST_LOCK * 2**10
    assert "Too many failed logins" in response.text
    return retry_after


def another_console(
    settings: Settings, session_factory: sessionmaker[Session], fake: FakeChannel
) -> TestClient:
    """A second console app on the same database: another console process."""
    rasa = RasaClient("http://rasa.test", fake.secret, 5, transport=httpx.MockTransport(fake.handler))
    app = create_app(settings, ConsoleServices(session_factory=session_factory, assistant=rasa))
    return TestClient(app, follow_redirects=False)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(client: TestClient, console_settings: Settings, session_factory: sessionmaker[Session]) -> Clock:
    """Install a login guard on the app whose time the test controls."""
    from console.login import build_login_guard

    moved = Clock()
    client.app.state.login_guard = build_login_guard(console_settings, session_factory, clock=moved)  # type: ignore[attr-defined]
    return moved


@BACKENDS
def test_wrong_passwords_lock_the_account_everywhere_even_for_the_right_password(
    client: TestClient, seed: Seed
) -> None:
    fail(client, "tester", MAX_FAILURES)

    form = form_login(client, "tester", PASSWORD)
    assert_locked(form)
    assert "Too many failed logins" in form.text and "<form" in form.text  # the form, with the message
    assert_locked(api_login(client, "tester", PASSWORD))
    assert_locked(basic_request(client, "tester", PASSWORD))
    # Other accounts are not affected by this account's lock.
    assert api_login(client, "viewer", PASSWORD).status_code == 200


@BACKENDS
def test_the_lockout_does_not_reveal_whether_the_account_exists(
    client: TestClient, seed: Seed, clock: Clock
) -> None:
    fail(client, "tester", MAX_FAILURES)
    fail(client, "no-such-person", MAX_FAILURES)
    real, ghost = api_login(client, "tester", WRONG), api_login(client, "no-such-person", WRONG)
    assert (real.status_code, real.json(), real.headers["retry-after"]) == (
        ghost.status_code,
        ghost.json(),
        ghost.headers["retry-after"],
    )
    assert_locked(real)


@BACKENDS
def test_guessing_many_accounts_from_one_address_locks_the_address(client: TestClient, seed: Seed) -> None:
    for n in range(MAX_FAILURES_PER_ADDRESS):
        assert api_login(client, f"guess-{n}", WRONG).status_code == 401
    assert_locked(api_login(client, "viewer", PASSWORD))
    elsewhere = TestClient(client.app, client=("203.0.113.7", 40000), follow_redirects=False)
    assert elsewhere.post("/api/login", json={"username": "viewer", "password": PASSWORD}).status_code == 200


@BACKENDS
def test_several_console_processes_share_the_counters(
    client: TestClient,
    seed: Seed,
    console_settings: Settings,
    session_factory: sessionmaker[Session],
    fake_channel: FakeChannel,
) -> None:
    other = another_console(console_settings, session_factory, fake_channel)
    with other:
        for n in range(MAX_FAILURES):
            assert api_login(client if n % 2 else other, "admin", WRONG).status_code == 401
        assert_locked(api_login(other, "admin", PASSWORD))
        assert_locked(api_login(client, "admin", PASSWORD))


@BACKENDS
def test_the_lock_ends_and_each_failure_after_it_doubles_the_next(
    client: TestClient, seed: Seed, clock: Clock
) -> None:
    fail(client, "tester", MAX_FAILURES)
    assert assert_locked(api_login(client, "tester", PASSWORD)) == FIRST_LOCK
    clock.now += timedelta(seconds=FIRST_LOCK + 1)
    assert api_login(client, "tester", WRONG).status_code == 401  # counted: the sixth failure
    assert assert_locked(api_login(client, "tester", PASSWORD)) == 2 * FIRST_LOCK
    clock.now += timedelta(seconds=2 * FIRST_LOCK + 1)
    assert api_login(client, "tester", PASSWORD).status_code == 200
    # A success forgets the account's failures: the next wrong password does not lock it again.
    assert api_login(client, "tester", WRONG).status_code == 401
    assert api_login(client, "tester", PASSWORD).status_code == 200


@pytest.fixture
def argon2_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification from now on (console.staff._verify), by hash prefix."""
    runs: list[str] = []
    real = console.staff._verify

    def counting(password_hash: str, password: str) -> bool:
        runs.append(password_hash[:10])
        return real(password_hash, password)

    monkeypatch.setattr(console.staff, "_verify", counting)
    return runs


@BACKENDS
def test_basic_auth_runs_argon2_once_not_on_every_request(
    client: TestClient, seed: Seed, argon2_runs: list[str], session_factory: sessionmaker[Session]
) -> None:
    for _ in range(10):
        assert basic_request(client, "tester", PASSWORD).status_code == 200
    assert len(argon2_runs) == 1
    # A wrong password is never answered from the cache.
    assert basic_request(client, "tester", WRONG).status_code == 401
    assert len(argon2_runs) == 2
    # A new password (a new hash stamp) ends what was remembered at once.
    with session_factory.begin() as session:
        session.execute(
            update(StaffUser)
            .where(StaffUser.username == "tester")
            .values(password_hash=hash_password("new-pass-123"))
        )
    assert basic_request(client, "tester", PASSWORD).status_code == 401
    assert basic_request(client, "tester", "new-pass-123").status_code == 200
    # So does deactivating the account.
    with session_factory.begin() as session:
        session.execute(update(StaffUser).where(StaffUser.username == "tester").values(is_active=False))
    assert basic_request(client, "tester", "new-pass-123").status_code == 401


def test_argon2_runs_with_no_transaction_open_so_a_login_never_holds_the_write_lock(
    client: TestClient, seed: Seed, monkeypatch: pytest.MonkeyPatch, console_database_url: str
) -> None:
    """On SQLite every transaction takes the one write lock (BEGIN IMMEDIATE): a verify inside one
    stalled every payment behind a staff login (and at 20 Basic users, "database is locked" 500s).
    While argon2 runs, another connection must be able to write at once (busy timeout 0)."""
    real = console.staff._verify
    writes: list[str] = []

    def verify_while_writing(password_hash: str, password: str) -> bool:
        other = sqlite3.connect(console_database_url.removeprefix("sqlite:///"), timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            writes.append("written")
        except sqlite3.OperationalError as locked:
            writes.append(str(locked))
        finally:
            other.close()
        return real(password_hash, password)

    monkeypatch.setattr(console.staff, "_verify", verify_while_writing)
    assert api_login(client, "tester", PASSWORD).status_code == 200
    assert basic_request(client, "tester", PASSWORD).status_code == 200
    assert api_login(client, "tester", WRONG).status_code == 401
    assert writes == ["written"] * 3


def test_a_remembered_basic_check_expires_after_its_period(
    client: TestClient,
    seed: Seed,
    argon2_runs: list[str],
    console_settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    from console.login import build_login_guard

    now = [1000.0]
    guard = build_login_guard(console_settings, session_factory)
    guard.monotonic = lambda: now[0]
    client.app.state.login_guard = guard  # type: ignore[attr-defined]
    assert basic_request(client, "tester", PASSWORD).status_code == 200
    now[0] += console_settings.console_basic_auth_cache_seconds - 1
    assert basic_request(client, "tester", PASSWORD).status_code == 200
    assert len(argon2_runs) == 1
    now[0] += 2  # past the period: argon2 runs again
    assert basic_request(client, "tester", PASSWORD).status_code == 200
    assert len(argon2_runs) == 2


def test_the_basic_cache_keeps_at_most_its_size_least_recently_used_forgotten(
    client: TestClient,
    seed: Seed,
    argon2_runs: list[str],
    console_settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    from console.login import build_login_guard

    one = console_settings.model_copy(update={"console_basic_auth_cache_size": 1})
    client.app.state.login_guard = build_login_guard(one, session_factory)  # type: ignore[attr-defined]
    assert basic_request(client, "tester", PASSWORD).status_code == 200
    assert basic_request(client, "tester", PASSWORD).status_code == 200
    assert len(argon2_runs) == 1
    assert basic_request(client, "viewer", PASSWORD).status_code == 200  # "tester" is forgotten
    assert len(argon2_runs) == 2
    assert basic_request(client, "tester", PASSWORD).status_code == 200
    assert len(argon2_runs) == 3
    assert len(client.app.state.login_guard._basic) == 1  # type: ignore[attr-defined]


@pytest.fixture
def redis_settings(console_settings: Settings) -> Iterator[Settings]:
    """The console's settings with REDIS_URL (TEST_REDIS_URL), its login keys wiped before and after."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    namespace = f"throttle-test-{secrets.token_hex(4)}"
    connection = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        connection.ping()
    except redis.RedisError as err:
        pytest.fail(f"Redis at {url} is unreachable ({err}); start it or set TEST_REDIS_URL")
    yield console_settings.model_copy(update={"redis_url": url, "environment": namespace})
    for key in connection.scan_iter(f"paychat:login:{namespace}:*"):
        connection.delete(key)
    connection.close()


@pytest.mark.redis
def test_with_redis_several_console_processes_share_the_counters(
    seed: Seed, redis_settings: Settings, session_factory: sessionmaker[Session], fake_channel: FakeChannel
) -> None:
    first = another_console(redis_settings, session_factory, fake_channel)
    second = another_console(redis_settings, session_factory, fake_channel)
    with first, second:
        for n in range(MAX_FAILURES):
            assert api_login(first if n % 2 else second, "admin", WRONG).status_code == 401
        assert_locked(api_login(first, "admin", PASSWORD))
        assert_locked(api_login(second, "admin", PASSWORD))
        assert api_login(second, "viewer", PASSWORD).status_code == 200
