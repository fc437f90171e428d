"""Dates in the user's zone, biller matching and sender ids — pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payments.billers import BillerCandidate, match_biller
from payments.dates import parse_pay_date
from payments.errors import BillerAmbiguousError, BillerUnknownError, PaymentsError

# A Wednesday, late evening in UTC — already Thursday in Tokyo.
NOW = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, date(2026, 11, 25)),
        ("today", date(2026, 11, 25)),
        ("tomorrow", date(2026, 11, 26)),
        ("übermorgen", date(2026, 11, 27)),
        ("friday", date(2026, 11, 27)),
        ("next friday", date(2026, 11, 27)),
        ("next wednesday", date(2026, 12, 2)),
        ("on the 1st", date(2026, 12, 1)),
        ("am 1.", date(2026, 12, 1)),
        ("Dec 3", date(2026, 12, 3)),
        ("in 3 days", date(2026, 11, 28)),
    ],
)
def test_dates_in_the_users_zone(text: str | None, expected: date) -> None:
    assert parse_pay_date(text, timezone="Europe/Berlin", now=NOW, horizon_days=365) == expected


def test_today_depends_on_the_users_zone() -> None:
    assert parse_pay_date("today", timezone="Asia/Tokyo", now=NOW, horizon_days=365) == date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("yesterday", "date_in_past"),
        ("in 2 years", "date_too_far"),
        ("whenever", "date_invalid"),
        ("the 35th", "date_invalid"),
    ],
)
def test_dates_refused_with_a_reason(text: str, code: str) -> None:
    with pytest.raises(PaymentsError) as caught:
        parse_pay_date(text, timezone="Europe/Berlin", now=NOW, horizon_days=365)
    assert caught.value.code == code


BILLERS = [
    BillerCandidate(
        1, "Stadtwerke", "electricity", ("electricity", "power", "strom", "stadtwerke", "energy")
    ),
    BillerCandidate(2, "Vodafone", "phone", ("phone", "mobile", "handy")),
    BillerCandidate(3, "Telekom", "internet", ("internet", "broadband", "wifi")),
    BillerCandidate(4, "Berliner Wasserbetriebe", "water", ("water", "wasser")),
]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("electricity", "Stadtwerke"),
        ("Strom", "Stadtwerke"),
        ("my electricity bill", "Stadtwerke"),
        ("Stadtwerk", "Stadtwerke"),  # typo
        ("stadtwerke berlin", "Stadtwerke"),
        ("my phone bill", "Vodafone"),
        ("vodafon", "Vodafone"),
        ("Wasser-Rechnung", "Berliner Wasserbetriebe"),
    ],
)
def test_billers_by_alias_and_fuzzy_match(text: str, name: str) -> None:
    assert match_biller(text, BILLERS).name == name


def test_two_close_candidates_are_a_question() -> None:
    billers = [*BILLERS, BillerCandidate(5, "Vodafone Kabel", "tv", ("cable", "kabel"))]
    with pytest.raises(BillerAmbiguousError) as caught:
        match_biller(
            "vodafone",
            [b for b in billers if b.biller_id != 2] + [BillerCandidate(6, "Vodafone Mobile", "phone", ())],
        )
    assert caught.value.code == "biller_ambiguous"
    assert caught.value.candidates == ["Vodafone Kabel", "Vodafone Mobile"]


def test_shared_alias_is_ambiguous() -> None:
    billers = [*BILLERS, BillerCandidate(7, "E.ON", "electricity", ("power",))]
    with pytest.raises(BillerAmbiguousError) as caught:
        match_biller("power", billers)
    assert caught.value.candidates == ["E.ON", "Stadtwerke"]


@pytest.mark.parametrize("text", ["pizza", "", "my bill"])
def test_unknown_biller(text: str) -> None:
    with pytest.raises(BillerUnknownError):
        match_biller(text, BILLERS)
