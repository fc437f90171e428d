"""Payment dates from what people write, as a calendar day in the user's time zone.

"tomorrow", "next friday", "on the 1st", "Dec 3", "end of the month", "in two weeks", "am 1.",
"übermorgen", "the twenty eighth" (ordinals said aloud: payments.number_words), "EOM", "15.12.".
Every date span the NLU rules mark (scripts/build_spacy_pipeline.py) is read here by explicit rules,
so the same words always give the same day; dateparser only reads what no rule covers. Past days and
days beyond the horizon are refused with a reason; text that is not a date is refused, never
guessed.

Vague periods become their first day that is not past: "this week"/"this month" today, "next
week" next Monday, "next month" its 1st, "the weekend" the coming Saturday; "end of the
month" its last day, "end of the week" its Friday. Numeric dates are read day first (12/03 is
3 December) unless that is impossible (12/15 is 15 December).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import dateparser
from babel import Locale
from babel.dates import format_date, format_time

from payments.errors import DateInPastError, DateInvalidError, DateTooFarError
from payments.number_words import ordinals_as_digits

TODAY_WORDS = {
    "today",
    "2day",
    "tonight",
    "now",
    "right now",
    "immediately",
    "asap",
    "heute",
    "sofort",
    "jetzt",
    "tonite",
    "2nite",
    "2night",
}
TOMORROW_WORDS = {
    "tomorrow",
    "tmrw",
    "tmr",
    "tmw",
    "tomorow",
    "tommorow",
    "tommorrow",
    "2moro",
    "2morrow",
    "morgen",
    "tmoz",
    "tomoz",
    "tmoro",
    "tmrow",
    "2mrw",
    "2moz",
    "tomo",
}
DAY_AFTER_TOMORROW = re.compile(r"^(?:the\s+)?day\s+after\s+(?:tomorrow|tmrw|tomorow)$|^übermorgen$")
WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonntag": 6,
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4,
    "sat": 5, "sun": 6,
}  # fmt: skip
MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "fifteenth": 15, "twentieth": 20,
}  # fmt: skip
COUNT_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "ten": 10, "couple": 2, "a couple": 2, "few": 3, "a few": 3,
}  # fmt: skip
UNIT_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "wk": 7, "wks": 7}
MONTH_UNITS = {"month", "months"}

LEADING_WORDS = re.compile(r"^(?:(?:on|by|before|b4|until|till|from|am|for|at|due|date)\s+)+")
# Shorthand for a period's end, as busy people write it ("EOM").
SHORTHANDS = {"eom": "end of the month", "eow": "end of the week"}
TIME_OF_DAY = re.compile(r"\s+(?:in\s+the\s+)?(?:morning|afternoon|evening|night|noon|am|pm|arvo)$")
# Issue 11: holidays on a fixed day (month, day); "christmas" alone is Christmas Day.
HOLIDAYS = {
    "christmas eve": (12, 24), "xmas eve": (12, 24), "christmas": (12, 25), "xmas": (12, 25),
    "christmas day": (12, 25), "xmas day": (12, 25), "boxing day": (12, 26), "nye": (12, 31),
    "hogmanay": (12, 31), "nyd": (1, 1),
}  # fmt: skip
NEW_YEAR = re.compile(r"^new\s+(?:year|yr)s?(?:'s)?(?:\s+(eve|day))?$")
PART_OF_TODAY = re.compile(r"^this\s+(?:morning|afternoon|evening|arvo)$")
# "a week on friday", "a week today", "friday week", "tomorrow fortnight", "the monday after next".
WEEK_ON = re.compile(r"^(?:a|one)\s+(week|wk|fortnight)\s+(?:on\s+|from\s+)?(?P<day>[a-z0-9]+)$")
DAY_WEEK = re.compile(r"^(?P<day>[a-z0-9]+)\s+(week|wk|fortnight)$")
AFTER_NEXT = re.compile(r"^(?:the\s+)?(?P<day>[a-z]+)\s+after\s+next$")
# An offset from a day the readers do not count ("the day before christmas", "a week on the 20th",
# "2 weeks on friday", "the friday before christmas"): refused, so the user is asked for the day rather
# than the offset dropped (dateparser would read "a week on the 20th" as "in a week").
UNREAD_OFFSET = re.compile(
    r"^(?:the\s+|that\s+|\w+\s+)?(?:days?|weeks?|wks?|fortnights?|months?|[a-z]+day|mon|tue|wed|thu|fri|sat|sun)"
    r"\s+(?:on|from|after|before)\s+"
)
# "in the next 10 days", "within a week", "over the next two weeks": the window's last day.
WITHIN = re.compile(r"^(?:(?:in|within|over|during)\s+)?(?:the\s+)?next\s+(?=\w+\s+\w+$)|^within\s+")
YEAR_PERIOD = re.compile(r"^(?:in\s+|during\s+|since\s+|throughout\s+)?((?:19|20)\d\d)$")
# "friday the 13th", "monday 5th", "Tue, 1st December": the day of the month decides.
WEEKDAY_BEFORE_DAY = re.compile(r"^[a-z]+,?\s+(?=(?:the\s+)?\d{1,2}(?:st|nd|rd|th)?\b)")
WEEKDAY_TEXT = re.compile(
    r"^(?:(next|this\s+coming|this|coming|last|nächsten|kommenden)\s+)?([a-zäöü]+)"
    r"(?:\s+(next|this)\s+week)?$"
)
DAY_TOKEN = r"(\d{1,2})(?:st|nd|rd|th|\.)?"
DAY_WORD = r"(\d{1,2}(?:st|nd|rd|th)?|" + "|".join(ORDINAL_WORDS) + r"|last)"
DAY_OF_MONTH = re.compile(rf"^(?:the\s+)?{DAY_WORD}(?:\s+of\s+(the|this|next)\s+month)?$")
DAY_MONTH = re.compile(rf"^(?:the\s+)?{DAY_WORD}\s+(?:of\s+)?([a-z]+)\.?(?:,?\s+(\d{{4}}))?$")
MONTH_DAY = re.compile(rf"^([a-z]+)\.?\s+(?:the\s+)?{DAY_TOKEN}(?:,?\s+(\d{{4}}))?$")
NUMERIC = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{2}|\d{4}))?\.?$")
ISO = re.compile(r"^(\d{4})\s*-\s*(\d{1,2})\s*-\s*(\d{1,2})$")
PERIOD = re.compile(r"^(next|this|last|the)\s+(week|weekend|month|year)$")
END_OF = re.compile(r"^(?:the\s+)?end\s+of\s+(?:(the|this|next)\s+)?(month|week)$")
# "until the end of next June", "bis Ende Juni": words around a month named without a day.
MONTH_ALONE = re.compile(
    r"^(?:(?:until|till|til|through|thru|to|by|bis|zum)\s+)*(?:(?:the\s+)?end\s+of\s+|ende\s+)?"
    r"(?P<next>(?:next|nächsten|kommenden)\s+)?(?P<month>[a-zäöü]+\.?(?:\s+\d{4})?)$"
)
START_OF_NEXT_MONTH = re.compile(r"^(?:the\s+)?(?:start|beginning)\s+of\s+(?:the\s+)?next\s+month$")
OFFSET = re.compile(
    r"^(?:in\s+)?(?:(a|an)\s+)?(\d{1,3}|[a-z]+)\s+(?:of\s+)?([a-z]+)(?:\s+(from\s+(?:now|today)|ago))?$"
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


@dataclass(frozen=True)
class LocalMoment:
    """A moment (stored UTC) as the user reads it: its day relative to their today, day and clock
    in their zone and locale. The edges word it ("tomorrow at 00:00", "on 3 Dec 2025 at 21:10")."""

    at: datetime
    day: DayRelation
    date_text: str
    time_text: str
    timezone: str


def start_of_day(day: date, timezone: str) -> datetime:
    """The UTC moment the calendar `day` begins in `timezone` (its first instant, DST included)."""
    # A midnight skipped by a DST jump is read with the offset before the jump (fold=0), which is
    # the instant the day's first existing wall time (01:00) begins.
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def first_of_next_month(day: date) -> date:
    """The 1st of the month after `day`'s."""
    return _add_months(day.replace(day=1), 1)


def local_moment(at: datetime, *, timezone: str, locale: str, now: datetime) -> LocalMoment:
    """`at` (UTC) in the user's zone and locale, with its day related to their today."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(timezone))
    babel_locale = locale.replace("-", "_") or "en_IE"
    return LocalMoment(
        at=aware.astimezone(UTC),
        day=day_relation(local.date(), timezone=timezone, now=now),
        date_text=format_day(local.date(), locale),
        time_text=str(format_time(local, format="short", locale=babel_locale)),
        timezone=timezone,
    )


def format_day(day: date, locale: str) -> str:
    """A calendar day in the user's locale, babel "medium" ("3 Dec 2025", "03.12.2025")."""
    # Stored days are already the user's calendar days (pay_on is taken in their time zone).
    return str(format_date(day, format="medium", locale=locale.replace("-", "_") or "en_IE"))


def format_moment(moment: datetime, *, timezone: str, locale: str) -> str:
    """A stored (UTC) moment as the user's wall-clock day and time with its UTC offset:
    "3 Dec 2025, 14:05 +01:00" in their zone (the offset tells apart the hour clocks go back)."""
    local = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    local = local.astimezone(ZoneInfo(timezone))
    babel_locale = locale.replace("-", "_") or "en_IE"
    day = format_date(local, format="medium", locale=babel_locale)
    clock = format_time(local, format="short", locale=babel_locale) + " " + format_time(local, "xxx")
    return str(Locale.parse(babel_locale).datetime_formats["medium"]).format(clock, day)


def month_end(text: str, *, timezone: str, now: datetime, horizon_days: int) -> date | None:
    """The last day of the month `text` names without a day ("June", "jun", "Juni", "June 2027",
    "end of June", "next June"), English or German: with no year its next occurrence (this month's
    end when it is this month, a year on after "next"). None when `text` does not name a month
    alone (a day, a weekday, words dateparser does not read). DateInPastError for a month already
    over, DateTooFarError beyond `horizon_days`."""
    cleaned = " ".join(unicodedata.normalize("NFKC", text).strip().casefold().split()).rstrip("!?,")
    match = MONTH_ALONE.match(cleaned)
    if match is None:
        return None
    today = today_in(timezone, now)
    base = datetime.combine(today.replace(day=1), time(0))  # this month counts as the next occurrence
    read = {
        prefer: dateparser.parse(
            match.group("month").replace(".", ""), languages=["en", "de"],
            settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "PREFER_DAY_OF_MONTH": prefer},
        )
        for prefer in ("first", "last")
    }  # fmt: skip
    first, last = read["first"], read["last"]
    if first is None or last is None or first.day != 1 or last.day == 1:
        return None  # a day is named (or nothing dateparser reads): the day is what the user said
    end: date = last.date().replace(day=calendar.monthrange(last.year, last.month)[1])
    if match.group("next") and (end.year, end.month) == (today.year, today.month):
        end = date(end.year + 1, end.month, calendar.monthrange(end.year + 1, end.month)[1])
    if end < today:
        raise DateInPastError(text=text, date=end)
    if end > today + timedelta(days=horizon_days):
        raise DateTooFarError(text=text, date=end, horizon_days=horizon_days)
    return end


def parse_pay_date(text: str | None, *, timezone: str, now: datetime, horizon_days: int) -> date:
    """The day the user means (today when `text` is empty), refused when past or beyond the horizon."""
    today = today_in(timezone, now)
    day = today if not text or not text.strip() else _parse(text, timezone=timezone, now=now, today=today)
    if day < today:
        raise DateInPastError(text=text, date=day)
    if day > today + timedelta(days=horizon_days):
        raise DateTooFarError(text=text, date=day, horizon_days=horizon_days)
    return day


def _parse(text: str, *, timezone: str, now: datetime, today: date) -> date:
    text_nfkc = unicodedata.normalize("NFKC", text)  # full-width "\uff11\uff13 dec" reads as "13 dec"
    cleaned = " ".join(text_nfkc.strip().casefold().replace("\u2019", "'").split()).rstrip(".!?,")
    cleaned = LEADING_WORDS.sub("", ordinals_as_digits(cleaned))  # "the twenty eighth" → "the 28th"
    cleaned = SHORTHANDS.get(cleaned, re.sub(r"^the\s+(?=\d{1,2}[./-]\d)", "", cleaned))  # "the 1.2."
    if PART_OF_TODAY.match(cleaned):  # "this morning": TIME_OF_DAY would leave a bare "this"
        return today
    if cleaned == "last night":
        return today - timedelta(days=1)
    if cleaned not in TODAY_WORDS:
        cleaned = TIME_OF_DAY.sub("", cleaned)
    day = _by_rules(cleaned, today, text)
    if day is None:
        day = _said_in_chat(cleaned, today, text)
    if day is not None:
        return day
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
            # Day first, as the rules read numeric dates ("03-12-2026" is 3 December).
            "DATE_ORDER": "DMY",
        },
    )
    if parsed is None:
        raise DateInvalidError(text=text)
    result: date = parsed.date()
    return result


def _by_rules(cleaned: str, today: date, text: str) -> date | None:
    """The day for every shape the NLU rules mark, or None for dateparser to try."""
    if cleaned in TODAY_WORDS:
        return today
    if cleaned in TOMORROW_WORDS:
        return today + timedelta(days=1)
    if cleaned in ("yesterday", "gestern"):
        return today - timedelta(days=1)
    if DAY_AFTER_TOMORROW.match(cleaned):
        return today + timedelta(days=2)
    for reader in (_weekday, _period, _end_of, _offset):
        day = reader(cleaned, today)
        if day is not None:
            return day
    if START_OF_NEXT_MONTH.match(cleaned):
        return _add_months(today.replace(day=1), 1)
    month_word = cleaned.removeprefix("in ")
    if month_word in MONTHS and (len(month_word) > 3 or cleaned.startswith("in ")):  # "march", "in may"
        month = MONTHS[month_word]
        return today if today.month == month else _next_month_day(month, 1, today, text)
    return _calendar_day(cleaned, today, text)


def _said_in_chat(cleaned: str, today: date, text: str) -> date | None:
    """Issue 11: holidays, weeks on from a day ("Wednesday week", "a week on Friday", "the Monday
    after next"), years as periods, windows ("within 10 days") and a weekday before its date."""
    if match := NEW_YEAR.match(cleaned):
        return _next_month_day(*((12, 31) if match.group(1) == "eve" else (1, 1)), today, text)
    if cleaned in HOLIDAYS:
        return _next_month_day(*HOLIDAYS[cleaned], today, text)
    match = WEEK_ON.match(cleaned) or DAY_WEEK.match(cleaned)
    if match:
        base = _base_day(match.group("day"), today)
        weeks = 2 if match.group(1) == "fortnight" else 1
        return None if base is None else base + timedelta(days=7 * weeks)
    if match := AFTER_NEXT.match(cleaned):
        if match.group("day") == "week":
            return today - timedelta(days=today.weekday()) + timedelta(days=14)
        # "the tuesday after next" said on a Tuesday: a week after next Tuesday, not next Tuesday.
        base = _weekday(" ".join(("next", match.group("day"))), today)
        return None if base is None else base + timedelta(days=7)
    if match := YEAR_PERIOD.match(cleaned):
        year = int(match.group(1))
        return today if year == today.year else date(year, 1, 1)
    if WITHIN.match(cleaned):
        return _offset(WITHIN.sub("in ", cleaned, count=1), today)
    if (match := WEEKDAY_BEFORE_DAY.match(cleaned)) and (weekday := match.group(0).strip(" ,")) in WEEKDAYS:
        day = _calendar_day(cleaned[match.end() :], today, text)
        if day is not None and day.weekday() != WEEKDAYS[weekday]:
            # "friday the 13th" when the 13th is a Sunday: neither word is dropped; the user is asked.
            raise DateInvalidError(text=text, reason="weekday_mismatch")
        return day
    if UNREAD_OFFSET.match(cleaned):
        raise DateInvalidError(text=text, reason="offset_unread")
    return None


def _base_day(word: str, today: date) -> date | None:
    """The day "a week on" counts from: today, tomorrow or the coming weekday."""
    if word in TODAY_WORDS:
        return today
    if word in TOMORROW_WORDS:
        return today + timedelta(days=1)
    return _weekday(word, today)


def _weekday(cleaned: str, today: date) -> date | None:
    match = WEEKDAY_TEXT.match(cleaned)
    if not match or match.group(2) not in WEEKDAYS:
        return None
    qualifier, word, week = match.groups()
    target = WEEKDAYS[word]
    if week:  # "friday next week": that weekday in next (or this) Monday-based week
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7 if week == "next" else 0)
        return monday + timedelta(days=target)
    if qualifier == "last":
        return today - timedelta(days=(today.weekday() - target) % 7 or 7)
    ahead = (target - today.weekday()) % 7
    # "friday" on a Friday means today; "next friday" means a week later.
    if ahead == 0 and qualifier in ("next", "nächsten", "kommenden"):
        ahead = 7
    return today + timedelta(days=ahead)


def _period(cleaned: str, today: date) -> date | None:
    match = PERIOD.match(cleaned)
    if not match:
        return None
    which, unit = match.groups()
    monday = today - timedelta(days=today.weekday())
    if unit == "weekend":
        if which == "next":
            return monday + timedelta(days=12)
        return today if today.weekday() >= 5 else monday + timedelta(days=5)
    if which == "the":
        return None
    if unit == "week":
        return {"this": today, "next": monday + timedelta(days=7), "last": monday - timedelta(days=7)}[which]
    if unit == "month":
        first = today.replace(day=1)
        return {"this": today, "next": _add_months(first, 1), "last": _add_months(first, -1)}[which]
    return {"this": today, "next": date(today.year + 1, 1, 1), "last": date(today.year - 1, 1, 1)}[which]


def _end_of(cleaned: str, today: date) -> date | None:
    match = END_OF.match(cleaned)
    if not match:
        return None
    which, unit = match.groups()
    if unit == "week":
        friday = today - timedelta(days=today.weekday()) + timedelta(days=4)
        if which == "next":
            return friday + timedelta(days=7)
        return max(friday, today)
    month = _add_months(today.replace(day=1), 1 if which == "next" else 0)
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _offset(cleaned: str, today: date) -> date | None:
    match = OFFSET.match(cleaned)
    if not match or not (cleaned.startswith("in ") or match.group(4)):
        return None
    article, count_text, unit, tail = match.groups()
    if count_text.isdigit():
        count = int(count_text)
    else:
        key = f"{article} {count_text}" if article else count_text
        if key not in COUNT_WORDS:
            return None
        count = COUNT_WORDS[key]
    sign = -1 if tail == "ago" else 1
    if unit in UNIT_DAYS:
        return today + timedelta(days=sign * count * UNIT_DAYS[unit])
    if unit in MONTH_UNITS:
        moved = _add_months(today.replace(day=1), sign * count)
        return moved.replace(day=min(today.day, calendar.monthrange(moved.year, moved.month)[1]))
    return None


def _day_number(word: str, month: date | None, text: str) -> int:
    """1-31 from "3", "3rd", "third"; "last" is the month's last day (of `month`)."""
    if word == "last":
        if month is None:
            raise DateInvalidError(text=text)
        return calendar.monthrange(month.year, month.month)[1]
    if word in ORDINAL_WORDS:
        return ORDINAL_WORDS[word]
    return int(re.sub(r"\D", "", word))


def _calendar_day(cleaned: str, today: date, text: str) -> date | None:
    """Days of a month: "the 3rd", "the 1st of next month", "3rd of may", "Dec 3", "12/15"."""
    if match := DAY_OF_MONTH.match(cleaned):
        word, which = match.groups()
        if which == "next":
            month = _add_months(today.replace(day=1), 1)
            return _valid(month.year, month.month, _day_number(word, month, text), text)
        if word == "last":
            return today.replace(day=calendar.monthrange(today.year, today.month)[1])
        return _next_day_of_month(_day_number(word, None, text), today, text)
    if (match := DAY_MONTH.match(cleaned)) and match.group(2) in MONTHS:
        word, month_word, year = match.groups()
        month_number = MONTHS[month_word]
        if word == "last":
            for year_ in [int(year)] if year else [today.year, today.year + 1]:
                last = _valid(year_, month_number, calendar.monthrange(year_, month_number)[1], text)
                if year or last >= today:
                    break
            return last
        return _month_day(month_number, _day_number(word, None, text), year, today, text)
    if (match := MONTH_DAY.match(cleaned)) and match.group(1) in MONTHS:
        month_word, day_text, year = match.groups()
        return _month_day(MONTHS[month_word], int(day_text), year, today, text)
    if match := ISO.match(cleaned):
        return _valid(int(match.group(1)), int(match.group(2)), int(match.group(3)), text)
    if match := NUMERIC.match(cleaned):
        first, separator, second, year = match.groups()
        a, b = int(first), int(second)
        # Day first (as in the user's Europe) unless only month-first makes sense.
        day_, month_ = (b, a) if separator == "/" and b > 12 and a <= 12 else (a, b)
        if year:
            return _valid(int(year) + (2000 if len(year) == 2 else 0), month_, day_, text)
        return _month_day(month_, day_, None, today, text)
    return None


def _month_day(month: int, day: int, year: str | None, today: date, text: str) -> date:
    if year:
        return _valid(int(year), month, day, text)
    return _next_month_day(month, day, today, text)


def _valid(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateInvalidError(text=text) from None


def _next_month_day(month: int, day: int, today: date, text: str) -> date:
    """The next `month`/`day` from today (this year's if not past, else next year's)."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise DateInvalidError(text=text)
    for year in (today.year, today.year + 1, today.year + 2):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 February in a common year, 31 April
            continue
        if candidate >= today:
            return candidate
    raise DateInvalidError(text=text)


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


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
