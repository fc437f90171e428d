"""The staff CLI, run as `make run` and operators run it: a real subprocess on a migrated database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from console.staff import authenticate, list_staff

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(console_database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the CLI at the test database and a private var folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYCHAT_", "DATABASE_", "CONSOLE_"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=console_database_url, PAYCHAT_VAR_DIR=str(tmp_path / "var"))
    return env


def test_create_user_with_option_and_prompt(
    cli_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    made = _cli("create-user", "Alice", "--role", "tester", "--password", "alice-password-1", env=cli_env)
    assert made.returncode == 0, made.stderr
    assert "created alice (tester)" in made.stdout
    prompted = _cli(
        "create-user", "bob", "--role", "admin", env=cli_env, stdin="bob-password-12\nbob-password-12\n"
    )
    assert prompted.returncode == 0, prompted.stderr
    with session_factory() as session:
        assert [(s.username, s.role.value) for s in list_staff(session)] == [
            ("alice", "tester"),
            ("bob", "admin"),
        ]
        assert authenticate(session, username="bob", password="bob-password-12") is not None
        assert authenticate(session, username="alice", password="wrong-password") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-user", "x", "--password", "long-enough-pw"], "username"),
        (["create-user", "carol", "--password", "short"], "password"),
        (["create-user", "carol", "--role", "root", "--password", "long-enough-pw"], "root"),
    ],
)
def test_create_user_refuses_bad_input(cli_env: dict[str, str], args: list[str], message: str) -> None:
    result = _cli(*args, env=cli_env)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_create_user_refuses_a_taken_name(cli_env: dict[str, str]) -> None:
    assert _cli("create-user", "dave", "--password", "long-enough-pw", env=cli_env).returncode == 0
    again = _cli("create-user", "dave", "--password", "long-enough-pw", env=cli_env)
    assert again.returncode == 1
    assert "taken" in again.stderr


def test_ensure_demo_staff_is_idempotent_and_its_login_works(
    cli_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    first = _cli("ensure-demo-staff", env=cli_env)
    second = _cli("ensure-demo-staff", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    line = first.stdout.strip().splitlines()[-1]
    assert line.startswith("console: http://127.0.0.1:8000/  login: demo / ")
    password = line.rsplit(" / ", 1)[1]
    with session_factory() as session:
        staff = authenticate(session, username="demo", password=password)
        assert staff is not None and staff.role.value == "admin"
        assert len(list_staff(session)) == 1
    password_file = Path(cli_env["PAYCHAT_VAR_DIR"]) / "console-demo-staff.txt"
    assert password_file.stat().st_mode & 0o077 == 0
    password_file.unlink()  # lost file: the password is reset, and the new one works
    third = _cli("ensure-demo-staff", env=cli_env)
    new_password = third.stdout.strip().rsplit(" / ", 1)[1]
    assert new_password != password
    with session_factory() as session:
        assert authenticate(session, username="demo", password=new_password) is not None
        assert authenticate(session, username="demo", password=password) is None


def test_ensure_demo_staff_refuses_in_production(cli_env: dict[str, str]) -> None:
    env = dict(
        cli_env,
        PAYCHAT_ENV="production",
        STRIPE_API_KEY="sk_test_x",
        RASA_SHARED_SECRET="r" * 32,
        CONSOLE_SECRET_KEY="c" * 32,
    )
    result = _cli("ensure-demo-staff", env=env)
    assert result.returncode == 1
    assert "production" in result.stderr
