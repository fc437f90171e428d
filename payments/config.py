"""The configuration the payments use cases need, and how it is read from `settings.Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from settings import Settings

DEV_CONSENT_KEY = "paychat-development-consent-key"
# Only ever used with the sandbox (production refuses it); `make run` sets a random key instead.
DEV_CHALLENGE_KEY = "paychat-development-sandbox-challenge-key"


@dataclass(frozen=True)
class ServiceConfig:
    """The settings the use cases need (a subset of `settings.Settings`)."""

    per_payment_limit_minor: int = 200_000
    daily_limit_minor: int = 500_000
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


def service_config_from(settings: Settings) -> ServiceConfig:
    """The use cases' configuration from `settings.Settings`."""
    return ServiceConfig(
        per_payment_limit_minor=settings.per_payment_limit_minor,
        daily_limit_minor=settings.daily_limit_minor,
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
    )


def challenge_key(settings: Settings) -> bytes:
    """The key signing the sandbox's 3-D Secure challenge links."""
    return (settings.sandbox_challenge_key or DEV_CHALLENGE_KEY).encode()
