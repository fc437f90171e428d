"""Every amount and date span the NLU rules can mark is read by the core (no span shape is left over).

The rules live in scripts/build_spacy_pipeline.py; each carries examples of the spans it marks.
Here every example of every rule, and every word of the rules' vocabularies, goes through
`parse_amount` / `parse_pay_date`: it must give Money / a day, or one of the refusals that rule
exists to produce (a sign → not positive; a past day → in the past). Whether the built pipeline
actually marks the examples is checked in tests/rasa/test_span_rules_pipeline.py (Rasa env).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payments.currency_markers import DASH_CHARS, SUBUNIT_WORDS
from payments.dates import parse_pay_date
from payments.errors import (
    AmountCurrencyMismatchError,
    AmountInvalidError,
    AmountNotationError,
    AmountNotPositiveError,
    DateInPastError,
)
from payments.money import Money, parse_amount
from scripts import build_spacy_pipeline as rules

NOW = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)  # a Wednesday; already Wednesday night in Berlin
TODAY = date(2026, 11, 25)
OUTSTANDING = Money(10_000, "EUR")  # 100.00: every percentage in the examples is exact


def _amount(text: str) -> Money:
    """Read `text` as the bill's currency, or as the currency it names (the core refuses that)."""
    try:
        return parse_amount(text, currency="EUR", locale="en_IE", outstanding=OUTSTANDING)
    except AmountCurrencyMismatchError as mismatch:
        currency = mismatch.params["currency"]
        return parse_amount(text, currency=currency, locale="en_IE", outstanding=Money(10_000, currency))


AMOUNT_EXAMPLES = [
    pytest.param(rule.name, example, id=f"{rule.name}: {example}")
    for rule in rules.amount_rules()
    for example in rule.examples
]
# Rules that exist so the core refuses what they mark (the span keeps what the bare number lost).
REFUSED_BY = {
    "sign after a marker": AmountNotPositiveError,
    "exponent": AmountNotationError,
    "malformed number": AmountInvalidError,
}


@pytest.mark.parametrize(("rule", "text"), AMOUNT_EXAMPLES)
def test_every_amount_rule_example_is_read(rule: str, text: str) -> None:
    if rule in REFUSED_BY:
        with pytest.raises(REFUSED_BY[rule]):
            _amount(text)
        return
    if text.lstrip().startswith((*DASH_CHARS, "minus", "negative")):
        with pytest.raises(AmountNotPositiveError):
            _amount(text)
        return
    if text.startswith("+"):
        with pytest.raises(AmountInvalidError):
            _amount(text)
        return
    money = _amount(text)
    assert money.amount_minor > 0


@pytest.mark.parametrize(
    "marker",
    sorted({*rules.BABEL_WORDS, *rules.BABEL_SYMBOLS, *rules.BABEL_NAMES} - set(SUBUNIT_WORDS)),
)
def test_every_babel_marker_the_spans_keep_names_its_currency(marker: str) -> None:
    """On a euro bill each marker is euros or another currency named (refused), never a bare number."""
    money = _amount(f"20 {marker}")
    assert money.amount_minor > 0
    if marker not in ("eur", "euro", "euros", "€"):
        assert money.currency != "EUR" or marker in rules.BABEL_SYMBOLS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("52 bucks", Money(5200, "EUR")),
        ("96.50 USD", Money(9650, "USD")),
        ("950€", Money(95000, "EUR")),
        ("$20", Money(2000, "USD")),
        ("3000 yen", Money(3000, "JPY")),
        ("1.5k", Money(150000, "EUR")),
        ("€1.5k", Money(150000, "EUR")),
        ("2 k eur", Money(200000, "EUR")),
        ("1,5k", Money(150000, "EUR")),
        ("forty dollars", Money(4000, "USD")),
        ("twenty-five dollars", Money(2500, "USD")),
        ("fifty and", Money(5000, "EUR")),  # a span cut after a connective
        ("20%", Money(2000, "EUR")),
        ("12.5 %", Money(1250, "EUR")),
        ("half", Money(5000, "EUR")),
        ("the total", OUTSTANDING),
        ("£64", Money(6400, "GBP")),
        ("58 quid", Money(5800, "GBP")),
    ],
)
def test_amount_spans_in_minor_units_and_the_currency_written(text: str, expected: Money) -> None:
    assert _amount(text) == expected


def test_an_amount_in_another_currency_keeps_its_currency_for_the_refusal() -> None:
    with pytest.raises(AmountCurrencyMismatchError) as caught:
        parse_amount("96.50 USD", currency="EUR", locale="en_IE", outstanding=OUTSTANDING)
    assert caught.value.params["currency"] == "USD" and caught.value.params["expected"] == "EUR"


@pytest.mark.parametrize("word", rules.CURRENCY_WORDS)
def test_every_currency_word_is_read(word: str) -> None:
    texts = [f"20 {word}"] if word in ("cent", "cents") else [f"20 {word}", f"1.5k {word}"]
    for text in texts:
        assert _amount(text).amount_minor > 0


@pytest.mark.parametrize("symbol", rules.CURRENCY_SYMBOLS)
def test_every_currency_symbol_is_read_before_and_after(symbol: str) -> None:
    assert _amount(f"{symbol}20").amount_minor > 0
    assert _amount(f"20 {symbol}").amount_minor > 0


@pytest.mark.parametrize("phrase", rules.SHARE_PHRASES)
def test_every_share_phrase_is_read(phrase: str) -> None:
    assert 0 < _amount(phrase).amount_minor <= OUTSTANDING.amount_minor


DATE_EXAMPLES = [
    pytest.param(example, id=f"{rule.name}: {example}")
    for rule in rules.date_rules()
    for example in rule.examples
]
PAST = {"yesterday", "last month", "3 days ago", "two weeks ago", "last night"}


def _day(text: str) -> date:
    return parse_pay_date(text, timezone="Europe/Berlin", now=NOW, horizon_days=800)


@pytest.mark.parametrize("text", DATE_EXAMPLES)
def test_every_date_rule_example_is_read(text: str) -> None:
    if text in PAST:
        with pytest.raises(DateInPastError):
            _day(text)
        return
    assert TODAY <= _day(text) <= date(2028, 12, 31)


@pytest.mark.parametrize(
    "word",
    sorted(set(rules.RELATIVE_DAYS) - {"yesterday"}) + rules.WEEKDAYS + rules.MONTHS_ALONE,
)
def test_every_day_word_of_the_rules_is_read(word: str) -> None:
    assert _day(word) >= TODAY


@pytest.mark.parametrize("month", rules.MONTHS)
@pytest.mark.parametrize("form", ["{m} 3", "3 {m}", "3rd of {m}", "{m} 3rd", "the first of {m}"])
def test_every_month_name_with_a_day_is_read(month: str, form: str) -> None:
    day = _day(form.format(m=month))
    assert day.day in (1, 3) and day >= TODAY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("end of the month", date(2026, 11, 30)),
        ("the end of the month", date(2026, 11, 30)),
        ("end of next month", date(2026, 12, 31)),
        ("end of the week", date(2026, 11, 27)),
        ("the 3rd", date(2026, 12, 3)),
        ("on the 3rd", date(2026, 12, 3)),
        ("in two weeks", date(2026, 12, 9)),
        ("in a couple of days", date(2026, 11, 27)),
        ("a week from today", date(2026, 12, 2)),
        ("friday", date(2026, 11, 27)),
        ("next monday", date(2026, 11, 30)),
        ("this weekend", date(2026, 11, 28)),
        ("next week", date(2026, 11, 30)),
        ("next month", date(2026, 12, 1)),
        ("the first of next month", date(2026, 12, 1)),
        ("the 5th of next month", date(2026, 12, 5)),
        ("tomorrow morning", date(2026, 11, 26)),
        ("the day after tomorrow", date(2026, 11, 27)),
        ("3rd of may", date(2027, 5, 3)),
        ("march 1", date(2027, 3, 1)),
        ("20 june", date(2027, 6, 20)),
        ("12/15", date(2026, 12, 15)),
        ("12/03", date(2027, 3, 12)),  # day first, as the user's Europe writes it
        ("on 01.06.", date(2027, 6, 1)),
        ("2026-12-03", date(2026, 12, 3)),
        ("friday next week", date(2026, 12, 4)),
    ],
)
def test_date_spans_as_calendar_days(text: str, expected: date) -> None:
    assert _day(text) == expected


# Issue 11: the shapes people write that the rules now mark, read to the day and the minor unit.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Christmas Eve", date(2026, 12, 24)),
        ("on Christmas Eve", date(2026, 12, 24)),
        ("by xmas", date(2026, 12, 25)),
        ("Boxing Day", date(2026, 12, 26)),
        ("New Year's Eve", date(2026, 12, 31)),
        ("new years day", date(2027, 1, 1)),
        ("new year\u2019s day", date(2027, 1, 1)),
        ("NYE", date(2026, 12, 31)),
        ("tmoz", date(2026, 11, 26)),
        ("2mrw", date(2026, 11, 26)),
        ("weds", date(2026, 11, 25)),  # a Wednesday: today
        ("on sat", date(2026, 11, 28)),
        ("Wednesday week", date(2026, 12, 2)),
        ("friday week", date(2026, 12, 4)),
        ("tomorrow week", date(2026, 12, 3)),
        ("a week on Friday", date(2026, 12, 4)),
        ("a week today", date(2026, 12, 2)),
        ("a fortnight on monday", date(2026, 12, 14)),
        ("the Monday after next", date(2026, 12, 7)),
        ("the week after next", date(2026, 12, 7)),
        ("this morning", date(2026, 11, 25)),
        ("tomorrow arvo", date(2026, 11, 26)),
        ("in 2027", date(2027, 1, 1)),
        ("in the next 10 days", date(2026, 12, 5)),
        ("within a week", date(2026, 12, 2)),
        ("over the next two weeks", date(2026, 12, 9)),
        ("Friday the 11th", date(2026, 12, 11)),
        ("fri 4 dec", date(2026, 12, 4)),
        ("14 Dec.", date(2026, 12, 14)),
        ("Dec. 3", date(2026, 12, 3)),
    ],
)
def test_chat_date_shapes_as_calendar_days(text: str, expected: date) -> None:
    assert _day(text) == expected


@pytest.mark.parametrize("text", ["last night", "in 2025"])
def test_past_periods_are_refused_as_past(text: str) -> None:
    with pytest.raises(DateInPastError):
        _day(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a fiver", Money(500, "EUR")),
        ("tenner", Money(1000, "EUR")),
        ("a grand", Money(100_000, "EUR")),
        ("two grand", Money(200_000, "EUR")),
        ("1.5 grand", Money(150_000, "EUR")),
        ("ninety nine cents", Money(99, "EUR")),
        ("87 euros 40", Money(8740, "EUR")),
        ("the full balance", OUTSTANDING),
        ("the entire amount", OUTSTANDING),
    ],
)
def test_money_slang_in_minor_units(text: str, expected: Money) -> None:
    assert _amount(text) == expected


def test_pence_and_pounds_slang_keep_their_currency() -> None:
    assert parse_amount("ninety nine pence", currency="GBP", locale="en_GB") == Money(99, "GBP")
    assert parse_amount("87 pounds 40", currency="GBP", locale="en_GB") == Money(8740, "GBP")
    with pytest.raises(AmountCurrencyMismatchError):
        parse_amount("87 pounds 40", currency="EUR", locale="en_IE")
