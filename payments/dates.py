"""Payment dates from what people write, as a calendar day in the user's time zone.

"tomorrow", "next friday", "on the 1st", "Dec 3", "am 1.", "übermorgen". Past days and days
beyond the horizon are refused with a reason; text that is not a date is refused, never guessed.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import dateparser
from babel.dates import format_date

from payments.errors import DateInPastError, DateInvalidError, DateTooFarError

TODAY_WORDS = {"today", "now", "right now", "immediately", "asap", "heute", "sofort", "jetzt"}
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonntag": 6,
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
WEEKDAY_TEXT = re.compile(r"^(?:on\s+|am\s+)?(?:(next|this|coming|nächsten|kommenden)\s+)?([a-zäöü]+)$")
DAY_OF_MONTH = re.compile(
    r"^(?:on\s+|am\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th|\.)?(?:\s+of\s+the\s+month)?$"
)


class DayRelation(StrEnum):
    """How a payment's day relates to the user's today; the edges word it ("today", "on 3 Dec")."""

    TODAY = "today"
    TOMORROW = "tomorrow"
    LATER = "later"
    # Only for days already gone (a list of past payments); a new payment is never dated there.
    EARLIER = "earlier"


def today_in(timezone: str, now: datetime) -> date:
    """The calendar day `now` falls on in `timezone`."""
    return now.astimezone(ZoneInfo(timezone)).date()


def day_relation(day: date, *, timezone: str, now: datetime) -> DayRelation:
    """Whether `day` is the user's today, tomorrow, later or earlier, in their time zone."""
    today = today_in(timezone, now)
    if day == today:
        return DayRelation.TODAY
    if day == today + timedelta(days=1):
        return DayRelation.TOMORROW
    return DayRelation.LATER if day > today else DayRelation.EARLIER


def format_day(day: date, locale: str) -> str:
    """A calendar day in the user's locale, babel "medium" ("3 Dec 2025", "03.12.2025")."""
    # Stored days are already the user's calendar days (pay_on is taken in their time zone).
    return str(format_date(day, format="medium", locale=locale.replace("-", "_") or "en_IE"))


def parse_pay_date(text: str | None, *, timezone: str, now: datetime, horizon_days: int) -> date:
    """The day the user means (today when `text` is empty), refused when past or beyond the horizon."""
    today = today_in(timezone, now)
    day = today if not text or not text.strip() else _parse(text, timezone=timezone, now=now, today=today)
    if day < today:
        raise DateInPastError(text=text, date=day.isoformat())
    if day > today + timedelta(days=horizon_days):
        raise DateTooFarError(text=text, date=day.isoformat(), horizon_days=horizon_days)
    return day


def _parse(text: str, *, timezone: str, now: datetime, today: date) -> date:
    cleaned = " ".join(text.strip().casefold().split())
    if cleaned in TODAY_WORDS:
        return today
    if match := WEEKDAY_TEXT.match(cleaned):
        qualifier, word = match.groups()
        if word in WEEKDAYS:
            ahead = (WEEKDAYS[word] - today.weekday()) % 7
            # "friday" on a Friday means today; "next friday" means a week later.
            if ahead == 0 and qualifier in ("next", "nächsten", "kommenden"):
                ahead = 7
            return today + timedelta(days=ahead)
    if match := DAY_OF_MONTH.match(cleaned):
        return _next_day_of_month(int(match.group(1)), today, text)
    local_now = now.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    parsed = dateparser.parse(
        cleaned,
        languages=["en", "de"],
        settings={
            "TIMEZONE": timezone,
            "RETURN_AS_TIMEZONE_AWARE": False,
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": local_now,
            "STRICT_PARSING": False,
        },
    )
    if parsed is None:
        raise DateInvalidError(text=text)
    day: date = parsed.date()
    return day


def _next_day_of_month(day: int, today: date, text: str) -> date:
    """The next date (from today) whose day of month is `day`."""
    if not 1 <= day <= 31:
        raise DateInvalidError(text=text)
    year, month = today.year, today.month
    for _ in range(13):
        if day <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate >= today:
                return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    raise DateInvalidError(text=text)
