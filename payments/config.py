"""The configuration the payments use cases need, and how it is read from `settings.Settings`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from settings import Settings

DEV_CONSENT_KEY = "paychat-development-consent-key"
# Only ever used with the sandbox (production refuses it); `make run` sets a random key instead.
DEV_CHALLENGE_KEY = "paychat-development-sandbox-challenge-key"
DEV_STEP_UP_KEY = "paychat-development-step-up-key"


@dataclass(frozen=True)
class RiskConfig:
    """The risk check's thresholds (payments/risk.py); `enabled=False` allows everything unrecorded."""

    enabled: bool = False
    step_up_score: int = 40
    refuse_score: int = 100
    # "Far above the usual", in percent of the median (300: three times).
    amount_ratio_percent: int = 300
    min_history: int = 2
    attempts_max: int = 5
    attempts_window: timedelta = timedelta(minutes=10)
    new_card_age: timedelta = timedelta(minutes=30)
    new_payee_large_minor: int = 20_000


@dataclass(frozen=True)
class ServiceConfig:
    """The settings the use cases need (a subset of `settings.Settings`)."""

    per_payment_limit_minor: int = 200_000
    daily_limit_minor: int = 500_000
    monthly_limit_minor: int = 2_000_000
    schedule_horizon_days: int = 365
    demo_mode: bool = True
    consent_signing_key: bytes = DEV_CONSENT_KEY.encode()
    default_locale: str = "en_IE"
    default_timezone: str = "Europe/Berlin"
    default_currency: str = "EUR"
    # How long a second confirmation waits for the first one's charge to settle.
    confirm_wait: timedelta = timedelta(seconds=15)
    stripe_webhook_secret: str = ""
    # Signs the sandbox's 3-D Secure challenge links (payments.challenge).
    challenge_signing_key: bytes = DEV_CHALLENGE_KEY.encode()
    # Payments of at least this many minor units wait for a staff member's second approval.
    second_approval_minor: int = 100_000
    # Approvals nobody answered within this many hours are cancelled by `expire_stale_drafts`.
    approval_expiry_hours: int = 48
    # The threshold counts what a user pays one biller within this rolling period.
    second_approval_period: timedelta = timedelta(days=30)
    # Drafts nobody confirmed within this are cancelled.
    draft_expiry: timedelta = timedelta(minutes=30)
    # The gateway call's own limit (the Stripe client's timeout) and the grace after it: until
    # `charge_timeout + charge_grace` after a charge started it may still be running.
    charge_timeout: timedelta = timedelta(seconds=10)
    charge_grace: timedelta = timedelta(seconds=60)
    # An approved payment nobody charged within this is picked up by the worker.
    approved_charge_deadline: timedelta = timedelta(minutes=5)
    # How long an approval authorizes a charge (the worker cancels an older uncharged one).
    consent_validity: timedelta = timedelta(hours=24)
    # A 3-D Secure challenge unfinished after this is cancelled at the processor.
    authentication_deadline: timedelta = timedelta(minutes=60)
    # How long reconciliation looks for a late charge of a payment it failed for lack of one.
    late_success_window: timedelta = timedelta(hours=24)
    # How long an outcome told in the user's own chat turn is held in the outbox before it is sent
    # anyway (the front end drops it when the turn's reply was delivered).
    outcome_hold: timedelta = timedelta(seconds=60)
    # The time lock: a payment to a biller the user never paid successfully, and every scheduled
    # payment, is charged no sooner than this after the user's consent (cancellable until then).
    # Off here (the core's own default, which tests build on); settings turn it on
    # (PAYCHAT_TIME_LOCK_MINUTES, 10 by default).
    time_lock: timedelta = timedelta(0)
    # --- issue 13 item 4 (reminders) ---
    # Bills due within this many days of the user's today are reminded (PAYCHAT_REMINDER_DAYS), only
    # from `reminder_start_hour` (inclusive) to `reminder_end_hour` (exclusive) of the user's clock.
    reminder_days: int = 3
    reminder_start_hour: int = 8
    reminder_end_hour: int = 20
    # --- end reminders ---
    # How often recording a gateway outcome is tried when the database is busy.
    outcome_write_attempts: int = 6
    # --- issue 13 items 2 and 5: step-up codes and risk checks. Off here (the core's own default,
    # which tests build on); settings turn them on (PAYCHAT_STEP_UP_MINOR, PAYCHAT_RISK_ENABLED).
    # 0: no code for size alone.
    step_up_minor: int = 0
    step_up_ttl: timedelta = timedelta(minutes=10)
    step_up_max_attempts: int = 3
    step_up_key: bytes = DEV_STEP_UP_KEY.encode()
    # The step-up threshold counts what the user pays one biller within this rolling period (the
    # same sum as the second approval's), so paying a large amount in parts still asks the code.
    step_up_period: timedelta = timedelta(hours=24)
    # Wrong tries worth this many failed codes (`step_up_lock_failures` * `step_up_max_attempts`),
    # summed over all the user's codes sent within `step_up_lock_window` whatever their end
    # (failed, cancelled, superseded, expired), refuse every new code (payment or mandate) until
    # the code that reached the sum leaves the window (payments.step_up.locked_until).
    step_up_lock_failures: int = 6
    step_up_lock_window: timedelta = timedelta(hours=24)
    risk: RiskConfig = RiskConfig()

    @property
    def charge_deadline(self) -> timedelta:
        """From a charge's start until nothing can still be in flight for it."""
        return self.charge_timeout + self.charge_grace


def service_config_from(settings: Settings) -> ServiceConfig:
    """The use cases' configuration from `settings.Settings`."""
    return ServiceConfig(
        per_payment_limit_minor=settings.per_payment_limit_minor,
        daily_limit_minor=settings.daily_limit_minor,
        monthly_limit_minor=settings.monthly_limit_minor,
        time_lock=timedelta(minutes=settings.time_lock_minutes),
        schedule_horizon_days=settings.schedule_horizon_days,
        demo_mode=settings.demo_mode,
        consent_signing_key=(settings.consent_signing_key or DEV_CONSENT_KEY).encode(),
        default_locale=settings.default_locale,
        default_timezone=settings.default_timezone,
        default_currency=settings.default_currency,
        confirm_wait=timedelta(seconds=settings.stripe_timeout_seconds + 5),
        stripe_webhook_secret=settings.stripe_webhook_secret,
        challenge_signing_key=challenge_key(settings),
        second_approval_minor=settings.second_approval_minor,
        approval_expiry_hours=settings.approval_expiry_hours,
        second_approval_period=timedelta(days=settings.second_approval_period_days),
        draft_expiry=timedelta(minutes=settings.draft_expiry_minutes),
        charge_timeout=timedelta(seconds=settings.stripe_timeout_seconds),
        charge_grace=timedelta(seconds=settings.charge_grace_seconds),
        approved_charge_deadline=timedelta(seconds=settings.approved_charge_deadline_seconds),
        consent_validity=timedelta(hours=settings.consent_validity_hours),
        authentication_deadline=timedelta(minutes=settings.authentication_deadline_minutes),
        late_success_window=timedelta(hours=settings.late_success_window_hours),
        outcome_hold=timedelta(seconds=settings.outcome_hold_seconds),
        # issue 13 item 4 (reminders)
        reminder_days=settings.reminder_days,
        reminder_start_hour=settings.reminder_start_hour,
        reminder_end_hour=settings.reminder_end_hour,
        step_up_minor=settings.step_up_minor,
        step_up_ttl=timedelta(minutes=settings.step_up_code_minutes),
        step_up_max_attempts=settings.step_up_max_attempts,
        step_up_key=step_up_key(settings),
        step_up_period=timedelta(hours=settings.step_up_period_hours),
        step_up_lock_failures=settings.step_up_lock_failures,
        step_up_lock_window=timedelta(hours=settings.step_up_lock_hours),
        risk=risk_config_from(settings),
    )


def step_up_key(settings: Settings) -> bytes:
    """The HMAC key of one-time codes: PAYCHAT_STEP_UP_KEY, else derived from the consent key."""
    if settings.step_up_key:
        return settings.step_up_key.encode()
    consent = (settings.consent_signing_key or DEV_CONSENT_KEY).encode()
    return hmac.new(consent, b"paychat step-up codes", hashlib.sha256).digest()


def risk_config_from(settings: Settings) -> RiskConfig:
    """The risk check's thresholds from `settings.Settings`."""
    return RiskConfig(
        enabled=settings.risk_enabled,
        step_up_score=settings.risk_step_up_score,
        refuse_score=settings.risk_refuse_score,
        amount_ratio_percent=settings.risk_amount_ratio_percent,
        min_history=settings.risk_min_history,
        attempts_max=settings.risk_attempts_max,
        attempts_window=timedelta(minutes=settings.risk_attempts_window_minutes),
        new_card_age=timedelta(minutes=settings.risk_new_card_minutes),
        new_payee_large_minor=settings.risk_new_payee_large_minor,
    )


def challenge_key(settings: Settings) -> bytes:
    """The key signing the sandbox's 3-D Secure challenge links."""
    return (settings.sandbox_challenge_key or DEV_CHALLENGE_KEY).encode()
