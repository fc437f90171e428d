"""API tokens for scripts (issue 10, item 11): made by the real CLI, stored only as a hash, revocable,
never above their staff member's role, and no argon2 on the requests that carry them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

import console.staff
from console.tokens import create_api_token, list_api_tokens
from db.models import StaffUser
from tests.console.conftest import Seed

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def cli_env(console_database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the CLI at the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYCHAT_", "DATABASE_", "CONSOLE_"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=console_database_url, PAYCHAT_VAR_DIR=str(tmp_path / "var"))
    return env


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m console.cli ARGS` as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_token(env: dict[str, str], name: str, role: str, staff: str) -> str:
    """`create-token` as an operator runs it; the token is the last line of its output."""
    made = cli("create-token", name, "--role", role, "--staff", staff, env=env)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def direct_token(session_factory: sessionmaker[Session], name: str, role: str, staff: str) -> str:
    """A token made in-process (the CLI itself is tested above; a subprocess takes seconds)."""
    with session_factory.begin() as session:
        _, token = create_api_token(session, staff_username=staff, name=name, role=role)
    return token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def argon2_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per argon2 verification from now on."""
    runs: list[int] = []
    real = console.staff._verify

    def counting(password_hash: str, password: str) -> bool:
        runs.append(1)
        return real(password_hash, password)

    monkeypatch.setattr(console.staff, "_verify", counting)
    return runs


@BACKENDS
def test_a_token_is_shown_once_stored_as_a_hash_and_works_without_csrf_or_argon2(
    client: TestClient,
    seed: Seed,
    cli_env: dict[str, str],
    session_factory: sessionmaker[Session],
    argon2_runs: list[int],
) -> None:
    token = create_token(cli_env, "nightly-report", "tester", "tester")
    assert token.startswith("pct_") and len(token) > 40

    for _ in range(5):
        me = client.get("/api/me", headers=bearer(token))
        assert me.status_code == 200 and me.json() == {"username": "tester", "role": "tester"}
    chat = client.post("/api/chat", json={"session": "token_1", "text": "hello"}, headers=bearer(token))
    assert chat.status_code == 200, chat.text  # an unsafe request: no cookie, so no CSRF token needed
    assert argon2_runs == []

    with session_factory() as session:
        rows = session.execute(text("SELECT * FROM staff_api_tokens")).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert token not in stored and token.removeprefix("pct_") not in stored
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()

    listed = cli("list-tokens", env=cli_env)
    assert listed.returncode == 0 and "nightly-report" in listed.stdout and "tester" in listed.stdout
    assert token not in listed.stdout and rows[0]["token_hash"] not in listed.stdout


@BACKENDS
def test_revoked_unknown_and_malformed_tokens_are_refused(
    client: TestClient, seed: Seed, cli_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    token = direct_token(session_factory, "to-revoke", "viewer", "viewer")
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    with session_factory() as session:
        [listed] = list_api_tokens(session)
    revoked = cli("revoke-token", str(listed.id), env=cli_env)
    assert revoked.returncode == 0, revoked.stderr
    for header in (
        bearer(token),
        bearer(token[:-1] + ("A" if token[-1] != "A" else "B")),
        bearer(token.removeprefix("pct_")),
        bearer(""),
        {"Authorization": "Bearer"},
    ):
        assert client.get("/api/me", headers=header).status_code == 401, header
    assert "revoked" in cli("list-tokens", env=cli_env).stdout


@BACKENDS
def test_a_token_never_exceeds_its_staff_members_role(
    client: TestClient, seed: Seed, cli_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    refused = cli("create-token", "too-much", "--role", "admin", "--staff", "tester", env=cli_env)
    assert refused.returncode != 0 and "cannot have more" in refused.stderr
    assert cli("create-token", "ghost", "--role", "viewer", "--staff", "nobody", env=cli_env).returncode != 0

    read_only = direct_token(session_factory, "read-only", "viewer", "admin")
    assert client.get("/api/transcripts", headers=bearer(read_only)).status_code == 200
    chat = client.post("/api/chat", json={"session": "t", "text": "hi"}, headers=bearer(read_only))
    assert chat.status_code == 403
    assert client.get("/api/approvals", headers=bearer(read_only)).status_code == 403

    full = direct_token(session_factory, "full", "admin", "admin")
    assert client.get("/api/approvals", headers=bearer(full)).status_code == 200
    with session_factory.begin() as session:  # the admin is demoted: the token follows at once
        session.execute(update(StaffUser).where(StaffUser.username == "admin").values(role="viewer"))
    assert client.get("/api/approvals", headers=bearer(full)).status_code == 403
    assert client.get("/api/me", headers=bearer(full)).json()["role"] == "viewer"
    with session_factory.begin() as session:  # and deactivated: it stops working
        session.execute(update(StaffUser).where(StaffUser.username == "admin").values(is_active=False))
    assert client.get("/api/me", headers=bearer(full)).status_code == 401
