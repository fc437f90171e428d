"""Issue 11's span rules (dictation, second-language and terse writing): every example of every new
rule is normalised by the core to the exact money or day it means.

tests/payments/test_span_rules.py checks that every rule example is read at all; here each new
rule is listed by name with what each of its examples must become, so a new example (or rule) of
this kind without an expected value fails, and so does a reading that is merely "some amount".
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payments.dates import parse_pay_date
from payments.errors import AmountAmbiguousError
from payments.money import Money, parse_amount
from scripts import build_spacy_pipeline as rules

NOW = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)  # a Wednesday; already Wednesday night in Berlin
OUTSTANDING = 10_000  # 100.00 of the bill's currency

AMOUNTS: dict[str, dict[str, Money]] = {
    "spoken number led by a unit": {
        "a hundred and twenty": Money(12_000, "EUR"),
        "twelve hundred": Money(120_000, "EUR"),
        "six forty": Money(640, "EUR"),  # 6.40: 640.00 is more than the 100.00 owed
        "nine ninety five": Money(995, "EUR"),
        "one hundred twenty": Money(12_000, "EUR"),
    },
    "number words with a currency and cents": {
        "ninety two dollars and forty cents": Money(9_240, "USD"),
        "five euros fifty cents": Money(550, "EUR"),
        "forty euros and five cents": Money(4_005, "EUR"),
    },
    "number words with a currency, then the cents": {
        "sixty seven pounds fifty": Money(6_750, "GBP"),
        "forty two dollars ninety nine": Money(4_299, "USD"),
    },
    "two-letter symbol before": {
        "Rs 1,450": Money(145_000, "INR"),
        "Fr 39": Money(3_900, "CHF"),
        "kr 450": Money(45_000, "SEK"),
        "SFr 20": Money(2_000, "CHF"),
    },
    "bare number": {"54,-": Money(5_400, "EUR")},
}
DAYS: dict[str, dict[str, date]] = {
    "end of month shorthand": {"EOM": date(2026, 11, 30), "eow": date(2026, 11, 27)},
    "spoken day": {
        "the twenty eighth": date(2026, 11, 28),
        "the thirty first": date(2026, 12, 31),
        "the twenty second": date(2026, 12, 22),
    },
    "spoken day past the tenth": {"the eleventh": date(2026, 12, 11), "the fifteenth": date(2026, 12, 15)},
    "spoken day, hyphenated": {"the twenty-eighth": date(2026, 11, 28), "thirty-first": date(2026, 12, 31)},
    "spoken day of a month": {
        "the twenty eighth of december": date(2026, 12, 28),
        "twenty first of march": date(2027, 3, 21),
        "the eleventh of june 2027": date(2027, 6, 11),
    },
    "month, spoken day": {
        "december twenty eighth": date(2026, 12, 28),
        "march the first": date(2027, 3, 1),
        "june thirtieth": date(2027, 6, 30),
    },
    "dotted date with year": {"15.12.2026": date(2026, 12, 15), "30.11.2026": date(2026, 11, 30)},
    "dotted date after a preposition": {
        "on 01.06.": date(2027, 6, 1),
        "by 15.12": date(2026, 12, 15),
        "the 1.2.": date(2027, 2, 1),
        "for 15.12.": date(2026, 12, 15),
        "date 30.11.": date(2026, 11, 30),
    },
    "dashed date": {"15-12-2026": date(2026, 12, 15), "03-12-26": date(2026, 12, 3)},
}


def _amount(text: str, currency: str) -> Money:
    return parse_amount(text, currency=currency, locale="en_IE", outstanding=Money(OUTSTANDING, currency))


# Older rules that issue 11 gave a new example: only those examples are listed here.
EXTENDED = {"bare number"}


def test_every_example_of_the_new_rules_has_its_expected_value() -> None:
    by_name = {rule.name: set(rule.examples) for rule in rules.all_rules()}
    for table in (AMOUNTS, DAYS):
        for name, expected in table.items():
            assert name in by_name, f"no rule {name!r}"
            if name in EXTENDED:
                assert set(expected) <= by_name[name], f"rule {name!r} lost an example"
            else:
                assert by_name[name] == set(expected), f"rule {name!r}: examples and expectations differ"


@pytest.mark.parametrize(
    ("text", "expected"), [(text, money) for table in AMOUNTS.values() for text, money in table.items()]
)
def test_new_amount_rule_examples_normalise_to_minor_units(text: str, expected: Money) -> None:
    assert _amount(text, expected.currency) == expected


@pytest.mark.parametrize(("text", "expected"), [(t, d) for table in DAYS.values() for t, d in table.items()])
def test_new_date_rule_examples_normalise_to_the_day_meant(text: str, expected: date) -> None:
    assert parse_pay_date(text, timezone="Europe/Berlin", now=NOW, horizon_days=800) == expected


@pytest.mark.parametrize(
    ("text", "outstanding", "expected"),
    [
        ("forty two fifty", 10_000, 4_250),  # 42.50: 4,250.00 is more than is owed
        ("twelve fifty", 2_000, 1_250),
        ("thirty nine ninety nine", 4_000, 3_999),
    ],
)
def test_a_spoken_price_is_read_as_the_one_reading_within_what_is_owed(
    text: str, outstanding: int, expected: int
) -> None:
    money = parse_amount(text, currency="USD", locale="en_US", outstanding=Money(outstanding, "USD"))
    assert money == Money(expected, "USD")


@pytest.mark.parametrize(("text", "outstanding"), [("forty two fifty", 500_000), ("six forty", None)])
def test_a_spoken_price_both_readings_allow_is_refused_not_guessed(
    text: str, outstanding: int | None
) -> None:
    owed = Money(outstanding, "USD") if outstanding is not None else None
    with pytest.raises(AmountAmbiguousError):
        parse_amount(text, currency="USD", locale="en_US", outstanding=owed)


def test_a_spoken_price_in_a_currency_without_cents_is_hundreds() -> None:
    assert parse_amount("forty two fifty", currency="JPY", locale="ja_JP") == Money(4_250, "JPY")
