"""The limit refusals: typed errors that say the limit, what is left of it and when it resets.

They derive from `payments.errors.PaymentsError` like every domain error (codes `limit_per_payment`,
`limit_daily`, `limit_monthly`) but live here, above `payments.money` and `payments.dates`, whose
types they carry (those modules import `payments.errors`, so it cannot import them back).
"""

from __future__ import annotations

from typing import Any

from payments.dates import LocalMoment
from payments.errors import PaymentsError
from payments.money import Money


class LimitError(PaymentsError):
    """The amount is over one of the user's limits.

    Carries the `limit`, what is still `remaining` of it (before this payment) and when it
    `resets` (the next midnight, or the 1st of the next month, in the user's zone; None for the
    per-payment limit, which never resets).
    """

    code = "limit"

    def __init__(
        self,
        message: str = "",
        *,
        limit: Money,
        remaining: Money,
        resets: LocalMoment | None = None,
        **params: Any,
    ) -> None:
        super().__init__(message, limit=limit, remaining=remaining, resets=resets, **params)
        self.limit = limit
        self.remaining = remaining
        self.resets = resets


class PerPaymentLimitError(LimitError):
    """The amount exceeds the per-payment limit."""

    code = "limit_per_payment"


class DailyLimitError(LimitError):
    """The amount would exceed the limit of its pay day (the user's calendar day)."""

    code = "limit_daily"


class MonthlyLimitError(LimitError):
    """The amount would exceed the limit of its pay day's calendar month (in the user's zone)."""

    code = "limit_monthly"
