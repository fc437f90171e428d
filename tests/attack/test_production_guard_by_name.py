"""Item 10: production's refusals hang on the exact spelling "production".

`Settings.is_production` is `environment == "production"` and PAYCHAT_ENV is any string, so a
deployment that says `PAYCHAT_ENV=Production` or `prod` gets none of production's refusals: demo
mode (new Telegram users get demo bills and a sandbox card), placeholder secrets and the Stripe
sandbox are all accepted without a word. An environment name that is not one of the known ones
(development | test | production, .env.example) should be refused, not treated as development.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings import Settings


@pytest.mark.parametrize("environment", ["Production", "PRODUCTION", "prod"])
@pytest.mark.xfail(
    strict=True,
    reason="attack10: PAYCHAT_ENV other than the exact string 'production' (Production, prod) "
    "silently skips the production refusals (demo mode, placeholder secrets, sandbox)",
)
def test_a_production_deployment_spelled_otherwise_still_refuses_demo_mode(environment: str) -> None:
    with pytest.raises(ValidationError):
        Settings(
            _env_file=None,
            PAYCHAT_ENV=environment,
            PAYCHAT_DEMO_MODE=True,
            ACTION_SERVER_SECRET="change-me",
            RASA_SHARED_SECRET="change-me",
        )
