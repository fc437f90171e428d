"""Console fixtures: a migrated database per test (SQLite, or PostgreSQL where asked), seeded staff
and test users, and the app wired to a real RasaClient whose transport answers like the paychat
channel (unit tests only; the e2e and browser tests use the real assistant_stack)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import User
from rasa_client import RasaClient
from settings import Settings

PASSWORD = "correct horse battery"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("console-db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this run, dropped at the end."""
    url = make_url(POSTGRES_URL)
    name = f"console_test_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    test_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade(test_url)
    yield test_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        names = ", ".join(f'"{t}"' for t in tables if t != "alembic_version")
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def console_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """SQLite by default; tests parametrized indirectly with "postgres" get the real PostgreSQL."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgres":
        url = request.getfixturevalue("postgres_database")
        _truncate_postgres(url)
        yield url
        return
    path = tmp_path / "console.db"
    shutil.copy(sqlite_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def session_factory(console_database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test database."""
    engine = make_engine(console_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@dataclass
class Seed:
    """Ids of what `seed` created."""

    staff: dict[Role, int]
    alex_id: int
    other_test_id: int
    customer_id: int


@pytest.fixture
def seed(session_factory: sessionmaker[Session]) -> Seed:
    """One staff account per role (username = role), two test users and one real customer."""
    with session_factory.begin() as session:
        staff = {
            role: create_staff_user(session, username=role.value, password=PASSWORD, role=role).id
            for role in Role
        }
        alex = User(name="Alex Demo", demo_key="alex", is_test=True, locale="en_IE", currency="EUR")
        other = User(name="Casey Test", is_test=True, locale="en_US", currency="USD")
        customer = User(name="Real Customer", telegram_user_id=555, is_test=False)
        session.add_all([alex, other, customer])
        session.flush()
        return Seed(staff=staff, alex_id=alex.id, other_test_id=other.id, customer_id=customer.id)


def channel_body(
    text: str = "Hello! How can I help?",
    *,
    intent: str = "greet",
    confidence: float = 0.97,
    buttons: list[dict[str, str]] | None = None,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A paychat channel response (contracts.md shape)."""
    return {
        "replies": [{"text": text, "buttons": buttons or [], "custom": {}}],
        "parse": {
            "intent": {"name": intent, "confidence": confidence},
            "ranking": [
                {"name": intent, "confidence": confidence},
                {"name": "other", "confidence": 1 - confidence},
            ],
            "entities": entities or [],
            "text": "",
        },
        "slots": slots or {},
        "events": events
        or [
            {"event": "user", "text": ""},
            {"event": "action", "name": "utter_greet"},
            {"event": "action", "name": "action_listen"},
        ],
    }


@dataclass
class FakeChannel:
    """Answers the paychat channel's requests from a queue and records what it was sent."""

    secret: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        if request.headers.get("X-Paychat-Secret") != self.secret:
            return httpx.Response(403)
        self.received.append(json.loads(request.content))
        if self.status != 200:
            return httpx.Response(self.status)
        return httpx.Response(200, json=self.bodies.pop(0) if self.bodies else channel_body())


@pytest.fixture
def fake_channel() -> FakeChannel:
    """The fake paychat channel behind the unit tests' RasaClient."""
    return FakeChannel(secret=secrets.token_urlsafe(16))


@pytest.fixture
def console_settings(tmp_path: Path, console_database_url: str) -> Settings:
    """Settings for a console in tests."""
    return Settings(
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=tmp_path,
        DATABASE_URL=console_database_url,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        TUNING_DIR=str(tmp_path / "tuning"),
    )


@pytest.fixture
def client(
    console_settings: Settings, session_factory: sessionmaker[Session], fake_channel: FakeChannel, seed: Seed
) -> Iterator[TestClient]:
    """A TestClient on the console app with the fake channel."""
    rasa = RasaClient(
        "http://rasa.test", fake_channel.secret, 5, transport=httpx.MockTransport(fake_channel.handler)
    )
    services = ConsoleServices(session_factory=session_factory, assistant=rasa)
    with TestClient(create_app(console_settings, services), follow_redirects=False) as test_client:
        yield test_client


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF token embedded in a page."""
    page = client.get(path)
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(client), "next": "/"},
    )
    assert response.status_code == 303, response.text
    return csrf_of(client, "/transcripts")
