"""Tests for payments.cards: card numbers typed into chat are recognised, ordinary text is not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.cards import CARD_PLACEHOLDER, looks_like_card_number, luhn_valid, redact_card_numbers

STRIPE_TEST_CARDS = [
    "4242424242424242",
    "4000000000000341",
    "4000002760003184",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "3056930009020004",
]


def _with_check_digit(body: str) -> str:
    """Append the digit that makes `body` pass Luhn."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("unreachable: one check digit always fits")


def _break_luhn(number: str) -> str:
    """Change the last digit so the number fails Luhn."""
    last = int(number[-1])
    return number[:-1] + str((last + 1) % 10)


@pytest.mark.parametrize("number", STRIPE_TEST_CARDS)
def test_known_test_cards_pass_luhn(number: str) -> None:
    assert luhn_valid(number)
    assert not luhn_valid(_break_luhn(number))


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "my card is 4242 4242 4242 4242 thanks",
        "4242-4242-4242-4242",
        "4242 4242 4242 4242 12/27 123",
        "4242424242424242 123",
        "card:4242424242424242",
        "378282246310005",
        "37 8282 2463 10005",
        "4242\u00a04242\u00a04242\u00a04242",
        "pay with 4000 0027 6000 3184 please",
    ],
)
def test_card_numbers_in_text_are_recognised(text: str) -> None:
    assert looks_like_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "pay my electricity bill",
        "pay 84,20 € to Stadtwerke on 2025-12-01",
        "4242 4242 4242 4243",  # fails Luhn
        "424242424242",  # 12 digits
        "call me on +49 170 1234567",
        "reference 12345678901234567890123",  # one unbroken 23-digit run is not a card
        "4242/4242/4242/4242",  # slashes are not card separators
    ],
)
def test_ordinary_text_is_not_a_card(text: str) -> None:
    assert not looks_like_card_number(text)


card_numbers = (
    st.integers(min_value=12, max_value=18)
    .flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))
    .map(_with_check_digit)
)
separators = st.sampled_from([" ", "-", "", "  ", " -", "\u00a0"])
surroundings = st.text(st.characters(blacklist_categories=["Nd"]), max_size=30)


@st.composite
def grouped(draw: st.DrawFn, number: str) -> str:
    """The number split into random groups joined by one random separator."""
    cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), max_size=5)))
    sep = draw(separators)
    parts = [number[i:j] for i, j in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    return sep.join(parts)


@given(number=card_numbers, data=st.data(), before=surroundings, after=surroundings)
def test_any_luhn_number_anywhere_in_text_is_recognised(
    number: str, data: st.DataObject, before: str, after: str
) -> None:
    text = f"{before} {data.draw(grouped(number))} {after}"
    assert looks_like_card_number(text)


@given(number=card_numbers, data=st.data())
def test_a_single_number_failing_luhn_is_not_a_card(number: str, data: st.DataObject) -> None:
    assert not looks_like_card_number(f"here: {_break_luhn(number)}.")
    if len(number) == 13:  # any grouping of 13 digits leaves no shorter run that could be a card
        assert not looks_like_card_number(f"here: {data.draw(grouped(_break_luhn(number)))}.")


@given(st.text(max_size=200))
def test_text_with_fewer_than_13_digits_is_never_a_card(text: str) -> None:
    digits = sum(ch.isdecimal() for ch in text)
    if digits < 13:
        assert not looks_like_card_number(text)


@given(st.text("0123456789", min_size=20, max_size=40))
def test_one_unbroken_run_longer_than_19_digits_is_not_a_card(digits: str) -> None:
    assert not looks_like_card_number(f"ref {digits} end")


def test_redaction_replaces_only_the_card_number() -> None:
    text = "card 4242 4242 4242 4242 for bill 12345, thanks"
    assert redact_card_numbers(text) == f"card {CARD_PLACEHOLDER} for bill 12345, thanks"


@given(number=card_numbers, data=st.data(), before=surroundings, after=surroundings)
def test_redacted_text_never_looks_like_a_card(
    number: str, data: st.DataObject, before: str, after: str
) -> None:
    assert not looks_like_card_number(redact_card_numbers(f"{before} {data.draw(grouped(number))} {after}"))
