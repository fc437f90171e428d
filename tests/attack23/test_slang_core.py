"""attack23: the core readers of issue 11's money slang and chat dates (payments.dates, payments.money).

A misread amount or date is a money error: each hole is a reading that pays or schedules something
other than what the user wrote, pinned as a strict xfail; readings that held are plain tests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payments.dates import parse_pay_date
from payments.errors import (
    AmountAmbiguousError,
    AmountCurrencyMismatchError,
    AmountInvalidError,
    AmountNotPositiveError,
    DateInPastError,
    DateInvalidError,
)
from payments.money import Money, parse_amount

OUTSTANDING = Money(10_000, "GBP")
TUESDAY = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # Tuesday 1 December 2026, evening in London


def _day(text: str, now: datetime = TUESDAY, timezone: str = "Europe/London") -> date:
    return parse_pay_date(text, timezone=timezone, now=now, horizon_days=800)


def _gbp(text: str, outstanding: Money | None = OUTSTANDING) -> Money:
    return parse_amount(text, currency="GBP", locale="en_GB", outstanding=outstanding)


# --- holes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["friday the 13th", "monday the 31st", "tuesday the 3rd", "fri 13"])
def test_a_weekday_that_contradicts_its_date_is_not_silently_dropped(text: str) -> None:
    """13, 31 and 3 December 2026 are a Sunday, a Thursday and a Thursday: ask, or find the weekday."""
    weekday = {"fri": 4, "monday": 0, "tuesday": 1, "friday": 4}[text.split()[0]]
    try:
        day = _day(text)
    except DateInvalidError:
        return  # a clear question back
    assert day.weekday() == weekday, day


def test_the_weekday_after_next_on_that_weekday_is_not_next_week() -> None:
    assert _day("next tuesday") == date(2026, 12, 8)
    assert _day("the tuesday after next") == date(2026, 12, 15)


@pytest.mark.parametrize(("text", "meant"), [("a week on the 5th", date(2026, 12, 12)),
                                             ("a week on the 20th", date(2026, 12, 27))])  # fmt: skip
def test_a_week_on_a_day_of_the_month(text: str, meant: date) -> None:
    try:
        day = _day(text)
    except DateInvalidError:
        return
    assert day == meant


@pytest.mark.parametrize("text", ["87 pounds 400", "87 pound 400", "87 quid 400"])
def test_three_digits_after_a_currency_word_are_not_thousands(text: str) -> None:
    try:
        amount = _gbp(text, outstanding=None)
    except (AmountInvalidError, AmountAmbiguousError):
        return
    assert amount.amount_minor < 100_000, amount


@pytest.mark.parametrize("text", ["ninety nine pence", "five pence"])
def test_pence_in_words_on_a_euro_bill_is_the_wrong_currency(text: str) -> None:
    with pytest.raises(AmountCurrencyMismatchError):
        parse_amount("99 pence", currency="EUR", locale="en_IE", outstanding=None)
    with pytest.raises(AmountCurrencyMismatchError):
        parse_amount(text, currency="EUR", locale="en_IE", outstanding=None)


# --- held --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["two fivers", "a tenner each", "a fiver and a tenner", "grand", "a grand union", "grandson",
             "grand total", "a trillion", "1 pound 5", "87 pounds 4", "1.5 grands", "5 grand each"],
)  # fmt: skip
def test_slang_that_does_not_name_one_amount_is_refused(text: str) -> None:
    with pytest.raises(AmountInvalidError):
        _gbp(text)


@pytest.mark.parametrize("text", ["minus a fiver", "negative two grand", "zero grand"])
def test_signed_or_zero_slang_is_not_positive(text: str) -> None:
    with pytest.raises(AmountNotPositiveError):
        _gbp(text)


@pytest.mark.parametrize(
    ("text", "minor"),
    [("999 grand", 99_900_000), ("\u0661\u0662 grand", 1_200_000), ("\uff11\uff12 grand", 1_200_000),
     ("87 pounds 05", 8705), ("87 quid 40", 8740), ("0.5 grand", 50_000)],
)  # fmt: skip
def test_slang_reads_to_the_minor_unit(text: str, minor: int) -> None:
    assert _gbp(text, outstanding=None) == Money(minor, "GBP")


@pytest.mark.parametrize("text", ["last night", "last night's", "in 2025", "in 1999", "yesterday evening"])
def test_past_chat_dates_are_refused(text: str) -> None:
    with pytest.raises(DateInPastError):
        _day(text)


@pytest.mark.parametrize(
    ("text", "now", "timezone", "expected"),
    [
        # Already Christmas Day in Berlin at 23:30 UTC on the 24th: Christmas Eve is next year's.
        ("christmas eve", datetime(2026, 12, 24, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2027, 12, 24)),
        ("christmas eve", datetime(2026, 12, 23, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 12, 24)),
        # Still New Year's Eve in New York at 00:30 UTC on 1 January.
        ("nye", datetime(2027, 1, 1, 0, 30, tzinfo=UTC), "America/New_York", date(2026, 12, 31)),
        ("tonite", datetime(2026, 12, 1, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 12, 2)),
        ("this arvo", datetime(2026, 12, 1, 23, 30, tzinfo=UTC), "Australia/Sydney", date(2026, 12, 2)),
        ("feb 29", datetime(2026, 3, 1, 10, 0, tzinfo=UTC), "Europe/London", date(2028, 2, 29)),
    ],
)
def test_holidays_and_parts_of_the_day_in_the_users_time_zone(
    text: str, now: datetime, timezone: str, expected: date
) -> None:
    assert _day(text, now=now, timezone=timezone) == expected


def test_in_this_year_on_new_years_eve_night_in_berlin_is_past() -> None:
    with pytest.raises(DateInPastError):
        _day("in 2026", now=datetime(2026, 12, 31, 23, 30, tzinfo=UTC), timezone="Europe/Berlin")
