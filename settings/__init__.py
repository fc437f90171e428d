"""paychat configuration: every setting comes from an environment variable, read here only.

`.env.example` documents each variable. Nothing reads `os.environ` elsewhere; processes call
`get_settings()` in `main()` (never at import time) and tests build `Settings(...)` directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev-secret"}


class Settings(BaseSettings):
    """All of paychat's configuration, typed, with embedded defaults for `make run`."""

    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env", extra="ignore")

    environment: str = Field("development", alias="PAYCHAT_ENV")
    var_dir: Path = Field(PROJECT_ROOT / "var", alias="PAYCHAT_VAR_DIR")
    database_url: str = Field("", alias="DATABASE_URL")
    redis_url: str = Field("", alias="REDIS_URL")

    # Stripe: without a key paychat runs against the local sandbox (localstripe).
    stripe_api_key: str = Field("", alias="STRIPE_API_KEY")
    stripe_api_base: str = Field("", alias="STRIPE_API_BASE")
    stripe_sandbox_port: int = Field(8420, alias="STRIPE_SANDBOX_PORT")
    stripe_webhook_secret: str = Field("", alias="STRIPE_WEBHOOK_SECRET")
    stripe_timeout_seconds: float = Field(10.0, alias="STRIPE_TIMEOUT_SECONDS")

    # Rasa server and action server.
    rasa_url: str = Field("http://127.0.0.1:5005", alias="RASA_URL")
    rasa_shared_secret: str = Field("", alias="RASA_SHARED_SECRET")
    rasa_timeout_seconds: float = Field(30.0, alias="RASA_TIMEOUT_SECONDS")
    action_server_port: int = Field(5055, alias="ACTION_SERVER_PORT")
    # Loopback unless a container network must reach it; never a public interface.
    action_server_host: str = Field("127.0.0.1", alias="ACTION_SERVER_HOST")
    # Rasa sends it as `Authorization: Bearer <secret>` (endpoints.yml); the action server refuses
    # every call without it (actions/server.py).
    action_server_secret: str = Field("", alias="ACTION_SERVER_SECRET")

    # Staff console.
    console_host: str = Field("127.0.0.1", alias="CONSOLE_HOST")
    console_port: int = Field(8000, alias="CONSOLE_PORT")
    console_secret_key: str = Field("", alias="CONSOLE_SECRET_KEY")
    # Login brake (console/login.py): after this many failed logins of one account (from anywhere),
    # or from one address (for any accounts), logins wait CONSOLE_LOGIN_LOCKOUT_SECONDS, doubling
    # with each further failure up to the maximum; a quiet window forgets the failures.
    console_login_max_failures: int = Field(5, ge=1, alias="CONSOLE_LOGIN_MAX_FAILURES")
    console_login_max_failures_per_address: int = Field(
        20, ge=1, alias="CONSOLE_LOGIN_MAX_FAILURES_PER_ADDRESS"
    )
    console_login_lockout_seconds: float = Field(30.0, gt=0, alias="CONSOLE_LOGIN_LOCKOUT_SECONDS")
    console_login_max_lockout_seconds: float = Field(900.0, gt=0, alias="CONSOLE_LOGIN_MAX_LOCKOUT_SECONDS")
    console_login_window_seconds: float = Field(3600.0, gt=0, alias="CONSOLE_LOGIN_WINDOW_SECONDS")
    # How long a successful HTTP Basic check is remembered in a console process (0: never).
    console_basic_auth_cache_seconds: float = Field(300.0, ge=0, alias="CONSOLE_BASIC_AUTH_CACHE_SECONDS")
    # Where customers reach the console (3-D Secure return page, sandbox bank challenge page).
    public_url: str = Field("http://127.0.0.1:8000", alias="PAYCHAT_PUBLIC_URL")
    # HMAC key that signs sandbox 3-D Secure challenge links; the action server and console share it.
    sandbox_challenge_key: str = Field("", alias="SANDBOX_CHALLENGE_KEY")

    # Telegram.
    telegram_bot_token: str = Field("", alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_BASE")
    telegram_webhook_url: str = Field("", alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str = Field("", alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_webhook_listen: str = Field("127.0.0.1", alias="TELEGRAM_WEBHOOK_LISTEN")
    telegram_webhook_port: int = Field(8443, alias="TELEGRAM_WEBHOOK_PORT")
    # How often the bot looks for payment outcomes to tell users (the notifications outbox).
    telegram_notify_interval_seconds: float = Field(5.0, gt=0, alias="TELEGRAM_NOTIFY_INTERVAL_SECONDS")
    # Demo mode links a new Telegram user to demo bills and a sandbox card. Off unless set (make run
    # sets it for development); production refuses it.
    demo_mode: bool = Field(False, alias="PAYCHAT_DEMO_MODE")

    # Prometheus /metrics of the processes without a web server of their own (0: not served).
    # The console and the action server answer GET /metrics on their own port.
    metrics_host: str = Field("127.0.0.1", alias="METRICS_HOST")
    bot_metrics_port: int = Field(0, ge=0, alias="BOT_METRICS_PORT")
    worker_metrics_port: int = Field(0, ge=0, alias="WORKER_METRICS_PORT")
    # Level of the JSON log lines every process writes (DEBUG, INFO, WARNING...).
    log_level: str = Field("INFO", alias="PAYCHAT_LOG_LEVEL")

    # Money and limits (integer minor units of the user's currency).
    default_currency: str = Field("EUR", alias="PAYCHAT_DEFAULT_CURRENCY")
    default_locale: str = Field("en_IE", alias="PAYCHAT_DEFAULT_LOCALE")
    default_timezone: str = Field("Europe/Berlin", alias="PAYCHAT_DEFAULT_TIMEZONE")
    per_payment_limit_minor: int = Field(200_000, alias="PAYCHAT_PER_PAYMENT_LIMIT_MINOR")
    daily_limit_minor: int = Field(500_000, alias="PAYCHAT_DAILY_LIMIT_MINOR")
    # Payments at or above this amount wait for a staff member's second approval ("multi-signature").
    second_approval_minor: int = Field(100_000, alias="PAYCHAT_SECOND_APPROVAL_MINOR")
    schedule_horizon_days: int = Field(365, alias="PAYCHAT_SCHEDULE_HORIZON_DAYS")
    # HMAC key that signs consent records (payments/consent.py); required in production.
    consent_signing_key: str = Field("", alias="PAYCHAT_CONSENT_SIGNING_KEY")

    @property
    def is_production(self) -> bool:
        """True when placeholder secrets and the sandbox are not acceptable."""
        return self.environment == "production"

    @property
    def uses_stripe_sandbox(self) -> bool:
        """True when no real Stripe key is configured: charges go to localstripe."""
        return not self.stripe_api_key

    @property
    def effective_stripe_api_key(self) -> str:
        """The key the SDK uses; the sandbox accepts any `sk_` key."""
        return self.stripe_api_key or "sk_test_paychat_sandbox"

    @property
    def effective_stripe_api_base(self) -> str:
        """Stripe's base address: the sandbox unless a real key (and no override) is set."""
        if self.stripe_api_base:
            return self.stripe_api_base
        return "" if self.stripe_api_key else f"http://127.0.0.1:{self.stripe_sandbox_port}"

    @property
    def effective_database_url(self) -> str:
        """`DATABASE_URL`, or the embedded SQLite file under the var folder."""
        return self.database_url or f"sqlite:///{self.var_dir / 'paychat.db'}"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.is_production:
            for name in (
                "rasa_shared_secret",
                "action_server_secret",
                "console_secret_key",
                "consent_signing_key",
            ):
                if getattr(self, name).lower() in PLACEHOLDER_SECRETS or len(getattr(self, name)) < 16:
                    raise ValueError(f"{name.upper()} must be set to a real secret (16+ chars) in production")
            if not self.stripe_api_key:
                raise ValueError("STRIPE_API_KEY must be set in production (the sandbox is for development)")
            if self.demo_mode:
                raise ValueError(
                    "PAYCHAT_DEMO_MODE must be off in production (it gives new users demo bills)"
                )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment (and `.env`)."""
    return Settings()
