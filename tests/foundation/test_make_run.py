"""What `make run` switches on for a local try-out, and what it never does (issue 10)."""

from __future__ import annotations

import secrets

import pytest
from cryptography.fernet import Fernet

from scripts.run import development_defaults, metrics_defaults
from settings import Settings


@pytest.fixture(autouse=True)
def no_demo_mode_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests decide PAYCHAT_DEMO_MODE themselves."""
    monkeypatch.delenv("PAYCHAT_DEMO_MODE", raising=False)


def test_make_run_turns_the_demo_on_for_development_when_nobody_said_otherwise() -> None:
    assert development_defaults(Settings(_env_file=None)) == {"PAYCHAT_DEMO_MODE": "true"}


def test_make_run_keeps_an_explicit_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYCHAT_DEMO_MODE", "false")
    assert development_defaults(Settings(_env_file=None)) == {}


def test_make_run_never_turns_the_demo_on_in_production() -> None:
    settings = Settings(
        _env_file=None,
        PAYCHAT_ENV="production",
        RASA_SHARED_SECRET=secrets.token_urlsafe(32),
        ACTION_SERVER_SECRET=secrets.token_urlsafe(32),
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        PAYCHAT_CONSENT_SIGNING_KEY=secrets.token_urlsafe(32),
        STRIPE_API_KEY="sk_test_" + secrets.token_hex(12),
        PAYCHAT_DATA_KEYS=Fernet.generate_key().decode(),
    )
    assert development_defaults(settings) == {}


def test_make_run_serves_the_bot_and_worker_metrics_on_their_ports_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BOT_METRICS_PORT", raising=False)
    monkeypatch.delenv("WORKER_METRICS_PORT", raising=False)
    expected = {"BOT_METRICS_PORT": "9102", "WORKER_METRICS_PORT": "9103"}
    assert metrics_defaults(Settings(_env_file=None)) == expected
    monkeypatch.setenv("BOT_METRICS_PORT", "0")
    assert metrics_defaults(Settings(_env_file=None)) == {"WORKER_METRICS_PORT": "9103"}
