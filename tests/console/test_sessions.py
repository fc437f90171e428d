"""Session hardening: the Secure cookie in production, an absolute 8-hour lifetime that re-signing
cannot stretch, sessions ended by a password change, and no password hashing at import."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy.orm import Session, sessionmaker

from console import auth
from console.app import SESSION_COOKIE, create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import get_staff, hash_password
from db.models import StaffUser
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import PASSWORD, FakeChannel, Seed, login

ROOT = Path(__file__).resolve().parents[2]


def _production_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        PAYCHAT_ENV="production",
        PAYCHAT_VAR_DIR=tmp_path,
        DATABASE_URL=database_url,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        RASA_SHARED_SECRET=secrets.token_urlsafe(32),
        ACTION_SERVER_SECRET=secrets.token_urlsafe(32),
        PAYCHAT_CONSENT_SIGNING_KEY=secrets.token_urlsafe(32),
        STRIPE_API_KEY="sk_test_" + secrets.token_hex(12),
        PAYCHAT_DATA_KEYS=Fernet.generate_key().decode(),
    )


def test_production_cookie_is_secure_and_works_over_https(
    tmp_path: Path,
    console_database_url: str,
    session_factory: sessionmaker[Session],
    fake_channel: FakeChannel,
    seed: Seed,
) -> None:
    settings = _production_settings(tmp_path, console_database_url)
    assert settings.is_production
    rasa = RasaClient(
        "http://rasa.test",
        settings.rasa_shared_secret,
        5,
        transport=httpx.MockTransport(fake_channel.handler),
    )
    services = ConsoleServices(session_factory=session_factory, assistant=rasa)
    app = create_app(settings, services)
    with TestClient(app, base_url="https://console.test", follow_redirects=False) as client:
        response = client.post("/api/login", json={"username": "viewer", "password": PASSWORD})
        assert response.status_code == 200
        cookie = response.headers["set-cookie"].lower()
        assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert client.get("/api/me").json() == {"username": "viewer", "role": "viewer"}
    # The same cookie is never sent over plain HTTP by a client that honours the flag.
    with TestClient(app, base_url="http://console.test", follow_redirects=False) as plain:
        assert plain.post("/api/login", json={"username": "viewer", "password": PASSWORD}).status_code == 200
        assert plain.get("/api/me").status_code == 401


def test_development_cookie_is_not_secure(client: TestClient, seed: Seed) -> None:
    # Local development runs on http://127.0.0.1: a Secure cookie would never come back.
    response = client.post("/api/login", json={"username": "viewer", "password": PASSWORD})
    assert "secure" not in response.headers["set-cookie"].lower()


def test_a_session_ends_eight_hours_after_login_however_often_it_is_used(
    client: TestClient, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = auth._now()
    monkeypatch.setattr(auth, "_now", lambda: start)
    login(client, "viewer")
    for hours in (1, 4, 7.9):
        monkeypatch.setattr(auth, "_now", lambda h=hours: start + h * 3600)
        assert client.get("/api/me").status_code == 200  # each answer re-signs the cookie
    monkeypatch.setattr(auth, "_now", lambda: start + auth.SESSION_MAX_AGE + 1)
    assert client.get("/api/me").status_code == 401
    monkeypatch.setattr(auth, "_now", lambda: start + 60)
    assert client.get("/api/me").status_code == 401  # the expired session was cleared, not kept


def test_a_copied_cookie_stops_at_the_same_limit_after_logout(
    client: TestClient, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A signed cookie cannot be revoked server-side (see console/auth.py); its life is bounded.
    start = auth._now()
    monkeypatch.setattr(auth, "_now", lambda: start)
    csrf = login(client, "admin")
    copied = dict(client.cookies)
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/me").status_code == 401
    replay = TestClient(client.app, follow_redirects=False, cookies=copied)  # type: ignore[arg-type]
    monkeypatch.setattr(auth, "_now", lambda: start + auth.SESSION_MAX_AGE + 1)
    assert replay.get("/api/me").status_code == 401


def test_a_password_change_ends_older_sessions(
    client: TestClient, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    login(client, "tester")
    assert client.get("/api/me").status_code == 200
    with session_factory.begin() as session:
        row = session.get(StaffUser, seed.staff[Role.TESTER])
        assert row is not None
        row.password_hash = hash_password("a brand new password")
    assert client.get("/api/me").status_code == 401
    login(client, "tester", "a brand new password")
    assert client.get("/api/me").status_code == 200


def _signed_cookie(secret: str, data: dict[str, object]) -> str:
    # Starlette's SessionMiddleware format: base64 JSON signed with an itsdangerous timestamp.
    return TimestampSigner(secret).sign(base64.b64encode(json.dumps(data).encode())).decode()


def test_a_session_without_login_stamps_is_refused(
    client: TestClient, seed: Seed, console_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        staff = get_staff(session, seed.staff[Role.VIEWER])
    assert staff is not None
    secret = console_settings.console_secret_key
    old = {auth.SESSION_STAFF: staff.id, auth.SESSION_CSRF: "x"}  # a cookie signed before the stamps
    stamped = {**old, auth.SESSION_ISSUED: int(auth._now()), auth.SESSION_STAMP: staff.credential_stamp}
    for data, expected in ((stamped, 200), (old, 401)):
        cookies = {SESSION_COOKIE: _signed_cookie(secret, data)}
        other = TestClient(client.app, follow_redirects=False, cookies=cookies)  # type: ignore[arg-type]
        assert other.get("/api/me").status_code == expected, data


def test_importing_staff_hashes_nothing() -> None:
    # argon2 is deliberately slow: a hash at import would slow every process that imports the console.
    probe = (
        "import argon2\n"
        "def refuse(*a, **k): raise SystemExit('hashed at import')\n"
        "argon2.PasswordHasher.hash = refuse\n"
        "import console.staff, console.app\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.strip() == "ok"
