"""attack15: a tester (or a leaked tester token) can create test users without any bound.

Each creation makes a user, the demo bills and a sandbox customer with a card; nothing limits how
many or how fast, so a loop fills the users table (and the processor's customer list) at will.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.testusers import CREATE, build_creation_brake
from db.models import LoginThrottle
from payments.errors import PaymentsError
from payments.service import PaymentsService
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import FakeChannel, csrf_of, login
from tests.console.test_test_users import channel, client, staff  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.sandbox
BURST = 60


def test_a_burst_of_test_user_creations_is_slowed_down(
    client: TestClient,  # noqa: F811
    staff: dict[Role, str],  # noqa: F811
) -> None:
    headers = {"X-CSRF-Token": login(client, staff[Role.TESTER])}
    codes = [
        client.post("/api/test-users", json={"name": f"flood {n}"}, headers=headers).status_code
        for n in range(BURST)
    ]
    assert 429 in codes, f"{codes.count(201)} of {BURST} created"


LOCK = 60  # CONSOLE_TEST_USERS_LOCKOUT_SECONDS below


@pytest.fixture(autouse=True)
def no_brake_rows_left(payments_service: PaymentsService) -> Iterator[None]:
    """The brake counts in the shared database's login_throttle table: leave none of its rows."""
    yield
    with payments_service.session_factory.begin() as session:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key.startswith(f"{CREATE}:")))


@dataclass
class Braked:
    """The console with a two-creation brake whose clock the test moves."""

    client: TestClient
    now: list[datetime]

    def create(self, name: str) -> Any:
        headers = {"X-CSRF-Token": csrf_of(self.client, "/transcripts")}
        return self.client.post("/api/test-users", json={"name": name}, headers=headers)

    def names(self) -> set[str]:
        return {u["name"] for u in self.client.get("/api/test-users").json()}


@pytest.fixture
def braked(payments_service: PaymentsService, tmp_path: Path, channel: FakeChannel) -> Iterator[Braked]:  # noqa: F811
    settings = Settings(
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=tmp_path,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        CONSOLE_TEST_USERS_BURST=2,
        CONSOLE_TEST_USERS_LOCKOUT_SECONDS=LOCK,
        CONSOLE_TEST_USERS_WINDOW_SECONDS=600,
    )
    rasa = RasaClient("http://rasa.test", channel.secret, 5, transport=httpx.MockTransport(channel.handler))
    services = ConsoleServices(
        session_factory=payments_service.session_factory, assistant=rasa, payments=payments_service
    )
    now = [datetime(2026, 1, 5, 9, 0, tzinfo=UTC)]
    app = create_app(settings, services)
    app.state.test_user_brake = build_creation_brake(
        settings, payments_service.session_factory, clock=lambda: now[0]
    )
    with TestClient(app, follow_redirects=False) as test_client:
        yield Braked(test_client, now)


def test_the_api_answers_429_with_retry_after_and_creates_nothing(
    braked: Braked,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    login(braked.client, staff[Role.TESTER])
    tag = secrets.token_hex(4)
    assert [braked.create(f"burst {tag} {n}").status_code for n in range(2)] == [201, 201]
    refused = braked.create(f"burst {tag} 2")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(LOCK)
    assert "too many test users" in refused.json()["detail"]
    assert {f"burst {tag} {n}" for n in range(3)} & braked.names() == {f"burst {tag} 0", f"burst {tag} 1"}


def test_the_page_says_to_wait_and_shares_the_count_with_the_api(
    braked: Braked,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    csrf = login(braked.client, staff[Role.TESTER])
    tag = secrets.token_hex(4)
    assert [braked.create(f"api {tag} {n}").status_code for n in range(2)] == [201, 201]
    page = braked.client.post("/test-users", data={"name": f"form {tag}", "csrf_token": csrf})
    assert page.status_code == 429 and page.headers["Retry-After"] == str(LOCK)
    assert 'id="test-users-throttled"' in page.text and "nothing was created" in page.text
    assert f"form {tag}" not in braked.names()
    assert braked.client.get("/test-users?wait_seconds=5").text.count("test-users-throttled") == 0


def test_the_brake_is_per_staff_member_and_resets_are_not_braked(
    braked: Braked,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    login(braked.client, staff[Role.TESTER])
    created = [braked.create(f"mine {n}") for n in range(3)]
    assert [r.status_code for r in created] == [201, 201, 429]
    headers = {"X-CSRF-Token": csrf_of(braked.client, "/transcripts")}
    reset = braked.client.post(f"/api/test-users/{created[0].json()['id']}/reset", headers=headers)
    assert reset.status_code == 200, reset.text

    login(braked.client, staff[Role.ADMIN])  # another staff member has their own count
    assert braked.create("theirs").status_code == 201


def test_after_the_wait_one_more_goes_through_and_the_next_wait_is_longer(
    braked: Braked,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    login(braked.client, staff[Role.TESTER])
    assert [braked.create(f"w {n}").status_code for n in range(3)] == [201, 201, 429]
    braked.now[0] += timedelta(seconds=LOCK - 1)
    assert braked.create("w early").headers.get("Retry-After") == "1"
    braked.now[0] += timedelta(seconds=2)
    assert braked.create("w later").status_code == 201
    again = braked.create("w again")
    assert again.status_code == 429 and again.headers["Retry-After"] == str(2 * LOCK)
    braked.now[0] += timedelta(seconds=2 * LOCK + 601)  # a quiet window: the count starts over
    assert [braked.create(f"w fresh {n}").status_code for n in range(3)] == [201, 201, 429]


def test_a_creation_refused_before_anything_is_made_gives_its_slot_back(
    braked: Braked,
    staff: dict[Role, str],  # noqa: F811
    payments_service: PaymentsService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A domain refusal (PaymentsError) made nothing and gives its slot back; a failure at the
    processor keeps it (attack15b: test_brake_half_made_users)."""
    login(braked.client, staff[Role.TESTER])

    def refused(**_: object) -> None:
        raise PaymentsError("refused before anything was made")

    monkeypatch.setattr(payments_service, "create_test_user", refused)
    for _ in range(3):
        with pytest.raises(PaymentsError):
            braked.create("never")
    monkeypatch.undo()
    assert [braked.create(f"after {n}").status_code for n in range(3)] == [201, 201, 429]


def test_a_concurrent_burst_gets_no_more_than_the_limit(
    braked: Braked,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    """Each creation takes its slot atomically before the (slow) creation runs: parallel requests
    do not all pass the check before any is counted."""
    login(braked.client, staff[Role.TESTER])
    tag = secrets.token_hex(4)
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda n: braked.create(f"par {tag} {n}").status_code, range(6)))
    assert sorted(codes) == [201, 201, 429, 429, 429, 429], codes
    assert len({name for name in braked.names() if name.startswith(f"par {tag} ")}) == 2


def test_refused_requests_take_no_slot(
    braked: Braked,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    """Invalid bodies (422) and forbidden callers (403) are refused before the brake counts them."""
    csrf = login(braked.client, staff[Role.TESTER])
    headers = {"X-CSRF-Token": csrf}
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": "a\x00b"}, {"name": "ok", "card": "gold"}, {}):
        assert braked.client.post("/api/test-users", json=body, headers=headers).status_code == 422
    bad_form = braked.client.post("/test-users", data={"name": "\x07", "csrf_token": csrf})
    assert bad_form.status_code == 422
    assert [braked.create(f"valid {n}").status_code for n in range(3)] == [201, 201, 429]
