"""What production refuses, and the safe defaults (issue 10)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from settings import Settings


def production_values() -> dict[str, Any]:
    """Production settings with every required secret set."""
    return {
        "PAYCHAT_ENV": "production",
        "RASA_SHARED_SECRET": secrets.token_urlsafe(32),
        "ACTION_SERVER_SECRET": secrets.token_urlsafe(32),
        "CONSOLE_SECRET_KEY": secrets.token_urlsafe(32),
        "PAYCHAT_CONSENT_SIGNING_KEY": secrets.token_urlsafe(32),
        "STRIPE_API_KEY": "sk_test_" + secrets.token_hex(12),
        "PAYCHAT_DATA_KEYS": Fernet.generate_key().decode(),
    }


def test_complete_production_settings_are_accepted() -> None:
    assert Settings(_env_file=None, **production_values()).is_production


@pytest.mark.parametrize("value", [None, "", "changeme", "secret", "short-secret"])
def test_production_refuses_a_missing_or_placeholder_action_server_secret(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTION_SERVER_SECRET", raising=False)
    values = production_values()
    del values["ACTION_SERVER_SECRET"]
    if value is not None:
        values["ACTION_SERVER_SECRET"] = value
    with pytest.raises(ValidationError, match="ACTION_SERVER_SECRET"):
        Settings(_env_file=None, **values)


def test_the_action_server_binds_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTION_SERVER_HOST", raising=False)
    assert Settings(_env_file=None).action_server_host == "127.0.0.1"


def test_demo_mode_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYCHAT_DEMO_MODE", raising=False)
    assert Settings(_env_file=None).demo_mode is False
    monkeypatch.setenv("PAYCHAT_DEMO_MODE", "true")
    assert Settings(_env_file=None).demo_mode is True


def test_production_refuses_demo_mode() -> None:
    with pytest.raises(ValidationError, match="PAYCHAT_DEMO_MODE"):
        Settings(_env_file=None, **production_values(), PAYCHAT_DEMO_MODE=True)
    assert Settings(_env_file=None, **production_values(), PAYCHAT_DEMO_MODE=False).demo_mode is False


@pytest.mark.parametrize("keys", [None, "", "cGF5Y2hhdC1kZXZlbG9wbWVudC1kYXRhLWtleS0wMDE="])
def test_production_refuses_missing_or_development_data_keys(keys: str | None) -> None:
    values = production_values()
    del values["PAYCHAT_DATA_KEYS"]
    if keys is not None:
        values["PAYCHAT_DATA_KEYS"] = keys
    with pytest.raises(ValidationError, match="PAYCHAT_DATA_KEYS"):
        Settings(_env_file=None, **values)


def test_development_encrypts_with_the_development_key_and_production_with_its_own() -> None:
    assert Settings(_env_file=None).effective_data_keys == ["cGF5Y2hhdC1kZXZlbG9wbWVudC1kYXRhLWtleS0wMDE="]
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    values = production_values() | {"PAYCHAT_DATA_KEYS": f"{new}, {old}"}
    assert Settings(_env_file=None, **values).effective_data_keys == [new, old]


def test_a_var_dir_with_a_question_mark_is_refused_and_odd_characters_kept(tmp_path: Path) -> None:
    """The default database URL is a string: a '?' would open another file than the var folder's."""
    with pytest.raises(ValidationError, match="PAYCHAT_VAR_DIR"):
        Settings(_env_file=None, PAYCHAT_VAR_DIR=tmp_path / "var?dir")
    odd = tmp_path / "var dir ü #1 100%"
    url = Settings(_env_file=None, PAYCHAT_VAR_DIR=odd, DATABASE_URL="").effective_database_url
    assert make_url(url).database == str(odd / "paychat.db")
