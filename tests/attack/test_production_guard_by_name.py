"""Item 10: production's refusals hang on the exact spelling "production".

`Settings.is_production` is `environment == "production"` and PAYCHAT_ENV is any string, so a
deployment that says `PAYCHAT_ENV=Production` or `prod` gets none of production's refusals: demo
mode (new Telegram users get demo bills and a sandbox card), placeholder secrets and the Stripe
sandbox are all accepted without a word. An environment name that is not one of the known ones
(development | test | production, .env.example) should be refused, not treated as development.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from settings import Settings


@pytest.mark.parametrize("environment", ["Production", "PRODUCTION", "prod"])
def test_a_production_deployment_spelled_otherwise_still_refuses_demo_mode(environment: str) -> None:
    with pytest.raises(ValidationError):
        Settings(
            _env_file=None,
            PAYCHAT_ENV=environment,
            PAYCHAT_DEMO_MODE=True,
            ACTION_SERVER_SECRET="change-me",
            RASA_SHARED_SECRET="change-me",
        )


@pytest.mark.parametrize("environment", ["prodution", "staging", "", "live-ish"])
def test_an_unknown_environment_name_is_refused_at_start_up(environment: str) -> None:
    with pytest.raises(ValidationError, match="PAYCHAT_ENV"):
        Settings(_env_file=None, PAYCHAT_ENV=environment)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [(" Development ", "development"), ("DEV", "development"), ("Test", "test"), ("PROD", "production")],
)
def test_environment_names_are_normalised(environment: str, expected: str) -> None:
    settings = Settings(
        _env_file=None,
        PAYCHAT_ENV=environment,
        STRIPE_API_KEY="sk_live_x",
        ACTION_SERVER_SECRET="a" * 32,
        RASA_SHARED_SECRET="b" * 32,
        CONSOLE_SECRET_KEY="c" * 32,
        PAYCHAT_CONSENT_SIGNING_KEY="d" * 32,
        PAYCHAT_DATA_KEYS=Fernet.generate_key().decode(),
    )
    assert settings.environment == expected
    assert settings.is_production is (expected == "production")
