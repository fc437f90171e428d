"""Amounts written in words are read as amounts the user did not say (issue 10, item 9).

`payments.money.parse_amount` is the core's only reading of an amount from chat: whatever it
returns is what the summary offers and what Confirm charges. Written in words, it reads:

- "one hundred and twenty five cents" as €100.25 — yet "one hundred twenty five cents" as €1.25,
  and "twenty five cents" as €0.25: the word "and" alone moves the cents word from the whole
  number to the part after it, an 80-fold difference for the same spoken amount;
- "zero hundred" as €100 and "zero thousand" as €1,000 (`current or 1` turns a spoken zero into one);
- "hundred hundred" as €10,000, "thousand thousand" as €2,000 and "thousand million" as €1,001,000
  (a British billion): repeated or inverted scale words are added up instead of being refused.

None of these is an amount a person means; each must be refused (or asked about), never read.
Fixed in fix10b: `_number_from_words` refuses them and "and" after a scale word stays inside the number.
"""

from __future__ import annotations

import pytest

from payments.errors import PaymentsError
from payments.money import Money, parse_amount

OUTSTANDING = Money(95_000, "EUR")  # the demo rent, so "over what is owed" does not hide the reading


def _read(text: str) -> Money | str:
    try:
        return parse_amount(text, currency="EUR", locale="en_IE", outstanding=OUTSTANDING)
    except PaymentsError as error:
        return error.code


def test_the_same_cents_amount_reads_the_same_with_or_without_and() -> None:
    """The control: without "and" the cents word covers the whole number (125 cents = €1.25)."""
    assert _read("one hundred twenty five cents") == Money(125, "EUR")
    assert _read("twenty five cents") == Money(25, "EUR")


@pytest.mark.parametrize(
    "text",
    ["one hundred and twenty five cents", "a hundred and fifty cents", "two hundred and five cents"],
)
def test_and_inside_a_cents_amount_never_makes_euros(text: str) -> None:
    without_and = _read(text.replace(" and ", " "))
    assert isinstance(without_and, Money) and without_and.amount_minor < 1000
    # With "and" the same words must read the same, or be asked about — never 80 times more.
    assert _read(text) in (without_and, "amount_ambiguous", "amount_invalid")


@pytest.mark.parametrize("text", ["zero hundred", "zero thousand", "zero hundred euros"])
def test_zero_of_a_scale_is_never_an_amount(text: str) -> None:
    assert _read(text) in ("amount_not_positive", "amount_invalid")


@pytest.mark.parametrize(
    "text", ["hundred hundred", "thousand thousand", "thousand million", "a million thousand"]
)
def test_nonsense_scale_words_are_refused(text: str) -> None:
    assert not isinstance(_read(text), Money), f"{text!r} read as {_read(text)}"
