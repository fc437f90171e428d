"""paychat configuration: every setting comes from an environment variable, read here only.

`.env.example` documents each variable. Nothing reads `os.environ` elsewhere; processes call
`get_settings()` in `main()` (never at import time) and tests build `Settings(...)` directly.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_SETTINGS = {"database_url", "redis_url"}  # may hold a password
# Encrypts personal data outside production only (production refuses it): a Fernet key, public here.
DEV_DATA_KEY = "cGF5Y2hhdC1kZXZlbG9wbWVudC1kYXRhLWtleS0wMDE="
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev-secret"}


class Environment(StrEnum):
    """Where paychat runs (`PAYCHAT_ENV`); production adds refusals the others do not have."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


# Other spellings people use for the same environments; matched after trimming and lower-casing.
ENVIRONMENT_ALIASES = {
    "dev": Environment.DEVELOPMENT,
    "develop": Environment.DEVELOPMENT,
    "local": Environment.DEVELOPMENT,
    "testing": Environment.TEST,
    "prod": Environment.PRODUCTION,
    "prd": Environment.PRODUCTION,
    "live": Environment.PRODUCTION,
}


def parse_environment(value: object) -> Environment:
    """`PAYCHAT_ENV` as an `Environment`, case-insensitively and with aliases; else ValueError.

    An unknown name is refused rather than treated as development: a misspelled "production"
    must not silently drop production's refusals.
    """
    if isinstance(value, Environment):
        return value
    name = str(value).strip().lower()
    if name in ENVIRONMENT_ALIASES:
        return ENVIRONMENT_ALIASES[name]
    try:
        return Environment(name)
    except ValueError:
        known = ", ".join(e.value for e in Environment)
        raise ValueError(f"PAYCHAT_ENV={value!r} is not one of {known} (or prod/dev)") from None


class Settings(BaseSettings):
    """All of paychat's configuration, typed, with embedded defaults for `make run`."""

    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env", extra="ignore")

    environment: Environment = Field(Environment.DEVELOPMENT, alias="PAYCHAT_ENV")
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
    # Admission control per process (rasa_client.admission): calls at Rasa at once, and calls that
    # may wait for a slot (waiting does not count against RASA_TIMEOUT_SECONDS; beyond it: "busy").
    rasa_max_in_flight: int = Field(16, ge=1, alias="RASA_MAX_IN_FLIGHT")
    rasa_max_waiting: int = Field(1000, ge=0, alias="RASA_MAX_WAITING")
    # Seconds a call may wait for a slot; then it is refused unsent ("busy"), never sent stale. Unset:
    # rasa_client.DEFAULT_QUEUE_WAIT_TIMEOUTS (2.5) x RASA_TIMEOUT_SECONDS, so it follows the timeout.
    rasa_max_queue_wait_seconds: float | None = Field(None, gt=0, alias="RASA_MAX_QUEUE_WAIT_SECONDS")
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
    # Test-user brake (console/testusers.py): a staff member may create this many test users
    # (page or API) in a row; further ones wait CONSOLE_TEST_USERS_LOCKOUT_SECONDS, doubling up to the
    # maximum, until CONSOLE_TEST_USERS_WINDOW_SECONDS pass without a creation.
    console_test_users_burst: int = Field(10, ge=1, alias="CONSOLE_TEST_USERS_BURST")
    console_test_users_lockout_seconds: float = Field(60.0, gt=0, alias="CONSOLE_TEST_USERS_LOCKOUT_SECONDS")
    console_test_users_max_lockout_seconds: float = Field(
        3600.0, gt=0, alias="CONSOLE_TEST_USERS_MAX_LOCKOUT_SECONDS"
    )
    console_test_users_window_seconds: float = Field(600.0, gt=0, alias="CONSOLE_TEST_USERS_WINDOW_SECONDS")
    # How long a successful HTTP Basic check is remembered in a console process (0: never).
    console_basic_auth_cache_seconds: float = Field(300.0, ge=0, alias="CONSOLE_BASIC_AUTH_CACHE_SECONDS")
    # At most this many accounts remembered at once; the least recently used is forgotten first.
    console_basic_auth_cache_size: int = Field(1024, ge=1, alias="CONSOLE_BASIC_AUTH_CACHE_SIZE")
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
    # Buttons and paged lists the bot keeps in memory per user (their own oldest forgotten first), so
    # one user's chatter never expires another's; the whole store stays bounded as well.
    bot_buttons_per_user: int = Field(300, ge=1, le=10_000, alias="BOT_BUTTONS_PER_USER")
    bot_paged_lists_per_user: int = Field(50, ge=1, le=5_000, alias="BOT_PAGED_LISTS_PER_USER")
    # One user's updates in handlers or waiting for their earlier ones at once (bot.updates); more
    # are answered "slow down" at once, so a flood never holds the slots other users need.
    bot_max_updates_per_user: int = Field(10, ge=1, le=1_000, alias="BOT_MAX_UPDATES_PER_USER")
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
    # Limits per payment, per calendar day and per calendar month of the user's time zone (a payment
    # counts on its pay day); users.*_limit_minor overrides them for one user (payments/ledger.py).
    per_payment_limit_minor: int = Field(200_000, ge=0, alias="PAYCHAT_PER_PAYMENT_LIMIT_MINOR")
    daily_limit_minor: int = Field(500_000, ge=0, alias="PAYCHAT_DAILY_LIMIT_MINOR")
    monthly_limit_minor: int = Field(2_000_000, ge=0, alias="PAYCHAT_MONTHLY_LIMIT_MINOR")
    # The time lock (cancel window): a payment to a biller the user has never paid successfully, and
    # every scheduled payment, is charged no sooner than this many minutes after the user confirmed
    # it; until then it is approved but held and can be cancelled in chat or the console. 0: off.
    time_lock_minutes: float = Field(10.0, ge=0, alias="PAYCHAT_TIME_LOCK_MINUTES")
    # --- issue 13 item 4 (reminders) ---
    # The worker reminds users (reminders on) of open bills due within this many days of their
    # today (0: only bills due today), once per bill and due date, and only between these local
    # hours of the user's time zone (start inclusive, end exclusive; outside them the next round
    # in the hours sends it).
    reminder_days: int = Field(3, ge=0, le=60, alias="PAYCHAT_REMINDER_DAYS")
    reminder_start_hour: int = Field(8, ge=0, le=23, alias="PAYCHAT_REMINDER_START_HOUR")
    reminder_end_hour: int = Field(20, ge=1, le=24, alias="PAYCHAT_REMINDER_END_HOUR")
    # --- end reminders ---
    # Payments at or above this amount wait for a staff member's second approval ("multi-signature").
    second_approval_minor: int = Field(100_000, alias="PAYCHAT_SECOND_APPROVAL_MINOR")
    # ... counted over what the user pays one biller within this many days (rolling), so splitting a
    # large bill into smaller payments does not dodge it.
    second_approval_period_days: int = Field(30, ge=1, alias="PAYCHAT_SECOND_APPROVAL_PERIOD_DAYS")
    schedule_horizon_days: int = Field(365, alias="PAYCHAT_SCHEDULE_HORIZON_DAYS")

    # --- issue 13 items 2 and 5: step-up codes and risk checks (payments/step_up.py, risk.py) ---
    # A payment at or above this amount (minor units) needs the user's one-time code, sent as a
    # separate message, before anything else happens to it (0: only risk flags ask for a code).
    step_up_minor: int = Field(50_000, ge=0, alias="PAYCHAT_STEP_UP_MINOR")
    # How long a one-time code is valid, and how many wrong tries cancel the payment.
    step_up_code_minutes: float = Field(10.0, gt=0, alias="PAYCHAT_STEP_UP_CODE_MINUTES")
    step_up_max_attempts: int = Field(3, ge=1, alias="PAYCHAT_STEP_UP_MAX_ATTEMPTS")
    # HMAC key the codes are hashed with; empty: derived from PAYCHAT_CONSENT_SIGNING_KEY (which
    # production requires), so a separate key is optional.
    step_up_key: str = Field("", alias="PAYCHAT_STEP_UP_KEY")
    # The threshold counts what the user pays one biller within this many hours (rolling), so a
    # large amount paid in parts still needs the code.
    step_up_period_hours: float = Field(24.0, gt=0, alias="PAYCHAT_STEP_UP_PERIOD_HOURS")
    # Wrong tries worth this many failed codes (this * PAYCHAT_STEP_UP_MAX_ATTEMPTS), summed over all
    # the user's codes sent within this many hours however each ended (failed, cancelled before the
    # last try, superseded, expired), refuse new payments and autopays that need a code (guessing
    # codes by restarting) until the code that reached the sum is that old.
    step_up_lock_failures: int = Field(6, ge=1, alias="PAYCHAT_STEP_UP_LOCK_FAILURES")
    step_up_lock_hours: float = Field(24.0, gt=0, alias="PAYCHAT_STEP_UP_LOCK_HOURS")
    # The risk check at confirmation: off → every payment is allowed (and nothing is recorded).
    risk_enabled: bool = Field(True, alias="PAYCHAT_RISK_ENABLED")
    # Score at or above which a payment needs the code, and at or above which it is refused.
    risk_step_up_score: int = Field(40, ge=1, alias="PAYCHAT_RISK_STEP_UP_SCORE")
    risk_refuse_score: int = Field(100, ge=1, alias="PAYCHAT_RISK_REFUSE_SCORE")
    # "Far above the usual": at least this percentage of the median of the user's succeeded payments
    # to the biller (300: three times), once they have at least PAYCHAT_RISK_MIN_HISTORY of them.
    risk_amount_ratio_percent: int = Field(300, gt=100, alias="PAYCHAT_RISK_AMOUNT_RATIO_PERCENT")
    risk_min_history: int = Field(2, ge=1, alias="PAYCHAT_RISK_MIN_HISTORY")
    # "Many attempts": this many confirmations (this one included) within the window.
    risk_attempts_max: int = Field(5, ge=2, alias="PAYCHAT_RISK_ATTEMPTS_MAX")
    risk_attempts_window_minutes: float = Field(10.0, gt=0, alias="PAYCHAT_RISK_ATTEMPTS_WINDOW_MINUTES")
    # "A card added minutes ago": the card paying was saved less than this many minutes ago.
    risk_new_card_minutes: float = Field(30.0, ge=0, alias="PAYCHAT_RISK_NEW_CARD_MINUTES")
    # "A new payee and a large amount": a biller never paid successfully, and at least this much.
    risk_new_payee_large_minor: int = Field(20_000, ge=0, alias="PAYCHAT_RISK_NEW_PAYEE_LARGE_MINOR")
    # --- end of step-up and risk settings ---

    # Deadlines of the payment states that wait (payments/settlement.py; the worker enforces them).
    # A draft nobody confirmed is cancelled after this many minutes.
    draft_expiry_minutes: int = Field(30, ge=1, alias="PAYCHAT_DRAFT_EXPIRY_MINUTES")
    # A payment waiting for a staff member's second approval is cancelled after this many hours.
    approval_expiry_hours: int = Field(48, ge=1, alias="PAYCHAT_APPROVAL_EXPIRY_HOURS")
    # An approved payment not charged within this many seconds (a crash between approval and
    # charge) is charged by the worker while its consent is valid, else cancelled.
    approved_charge_deadline_seconds: float = Field(
        300.0, gt=0, alias="PAYCHAT_APPROVED_CHARGE_DEADLINE_SECONDS"
    )
    # How long an approval (the user's, or staff's second one) authorizes a charge.
    consent_validity_hours: float = Field(24.0, gt=0, alias="PAYCHAT_CONSENT_VALIDITY_HOURS")
    # A charge call may still be running until STRIPE_TIMEOUT_SECONDS plus this grace after it
    # started: reconciliation never fails a payment before that deadline.
    charge_grace_seconds: float = Field(60.0, ge=0, alias="PAYCHAT_CHARGE_GRACE_SECONDS")
    # A 3-D Secure challenge not finished within this many minutes is cancelled at the processor.
    authentication_deadline_minutes: float = Field(
        60.0, gt=0, alias="PAYCHAT_AUTHENTICATION_DEADLINE_MINUTES"
    )
    # How long reconciliation keeps checking a payment it failed for a late charge (then corrects it).
    late_success_window_hours: float = Field(24.0, ge=0, alias="PAYCHAT_LATE_SUCCESS_WINDOW_HOURS")
    # A payment outcome told in the user's own chat turn is also queued in the outbox, held this many
    # seconds: the bot drops it once the turn's reply was delivered, else it is sent.
    outcome_hold_seconds: float = Field(60.0, ge=0, alias="PAYCHAT_OUTCOME_HOLD_SECONDS")
    # HMAC key that signs consent records (payments/consent.py); required in production.
    consent_signing_key: str = Field("", alias="PAYCHAT_CONSENT_SIGNING_KEY")
    # Fernet keys encrypting personal data at rest (db/crypto.py), comma-separated, newest first.
    # Empty outside production: a fixed development key (refused in production).
    data_keys: str = Field("", alias="PAYCHAT_DATA_KEYS")
    # Rasa's SQL tracker store (the conversation as Rasa keeps it), emptied for a user by /forget;
    # the worker deletes its events older than TRANSCRIPT_RETENTION_DAYS (transcripts/retention.py).
    rasa_tracker_db: str = Field("", alias="RASA_TRACKER_DB")

    # Transcripts (transcripts/retention.py, run by the worker): conversations whose last message is
    # older than this many days are deleted or anonymized (0: kept forever).
    transcript_retention_days: int = Field(365, ge=0, alias="TRANSCRIPT_RETENTION_DAYS")
    transcript_retention_mode: Literal["delete", "anonymize"] = Field(
        "anonymize", alias="TRANSCRIPT_RETENTION_MODE"
    )

    # Tuning loop (tuning/): user messages whose intent scored under this go to the review queue.
    review_low_confidence: float = Field(0.6, gt=0, le=1, alias="TUNING_REVIEW_LOW_CONFIDENCE")
    # Where candidate models, exports and comparison reports are written (empty: <var dir>/tuning).
    tuning_dir: str = Field("", alias="TUNING_DIR")
    # `promote` refuses a candidate when a headline metric (intent macro-F1, accuracy, an entity's
    # F1, test-story accuracy) fell by more than this, or one intent's F1 by more than the second.
    tuning_promote_tolerance: float = Field(0.01, ge=0, le=1, alias="TUNING_PROMOTE_TOLERANCE")
    tuning_intent_tolerance: float = Field(0.05, ge=0, le=1, alias="TUNING_INTENT_TOLERANCE")

    @property
    def is_production(self) -> bool:
        """True when placeholder secrets and the sandbox are not acceptable."""
        return self.environment is Environment.PRODUCTION

    @field_validator("environment", mode="before")
    @classmethod
    def _known_environment(cls, value: Any) -> Environment:
        return parse_environment(value)

    @field_validator("var_dir")
    @classmethod
    def _no_url_query_in_var_dir(cls, value: Path) -> Path:
        # effective_database_url is a URL string: a '?' would start its query and open another file.
        if "?" in str(value):
            raise ValueError("PAYCHAT_VAR_DIR must not contain '?' (the SQLite URL would name another file)")
        return value

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
    def effective_data_keys(self) -> list[str]:
        """The data encryption keys, newest first; the development key when none is set."""
        keys = [key.strip() for key in self.data_keys.split(",") if key.strip()]
        return keys or [DEV_DATA_KEY]

    @property
    def effective_rasa_tracker_db(self) -> Path:
        """The SQLite file of Rasa's tracker store (`make run`: var/rasa-tracker.db)."""
        return Path(self.rasa_tracker_db) if self.rasa_tracker_db else self.var_dir / "rasa-tracker.db"

    @property
    def effective_tuning_dir(self) -> Path:
        """`TUNING_DIR`, or `tuning/` under the var folder."""
        return Path(self.tuning_dir) if self.tuning_dir else self.var_dir / "tuning"

    @property
    def effective_database_url(self) -> str:
        """`DATABASE_URL`, or the embedded SQLite file under the var folder."""
        return self.database_url or f"sqlite:///{self.var_dir / 'paychat.db'}"

    def audit_snapshot(self) -> dict[str, str]:
        """Every setting as text for the audit log; a secret only as a short fingerprint of it."""
        snapshot: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = str(getattr(self, name))
            alias = field.alias or name
            if name in SECRET_SETTINGS or "secret" in name or name.endswith(("_key", "_keys", "_token")):
                value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12] if value else ""
            snapshot[alias] = value
        return snapshot

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
            if not self.data_keys.strip() or DEV_DATA_KEY in self.data_keys:
                raise ValueError("PAYCHAT_DATA_KEYS must be set to real Fernet keys in production")
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
