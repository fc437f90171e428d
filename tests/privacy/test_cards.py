"""Tests for privacy.cards, the project's one card-number detector: card numbers typed into chat are
recognised whatever separates their digits; ordinary text (dates, amounts, phone numbers) is not."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from privacy.cards import (
    CARD_PLACEHOLDER,
    MAX_DIGITS,
    MAX_GLUED_DIGITS,
    MIN_GLUED_CARD_DIGITS,
    MIN_GLUED_DIGITS,
    in_card_range,
    looks_like_card_number,
    luhn_valid,
    message_holds_card_number,
    redact_card_numbers,
)

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


def _starts_with_card(digits: str) -> bool:
    """True when `digits` is a Luhn-valid number in a card range with 3-8 digits glued on."""
    return any(
        in_card_range(digits[:n]) and luhn_valid(digits[:n])
        for n in range(
            max(MIN_GLUED_CARD_DIGITS, len(digits) - MAX_GLUED_DIGITS),
            min(MAX_DIGITS, len(digits) - MIN_GLUED_DIGITS) + 1,
        )
    )


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
        # Issue 10, item 7: separators the first detector let through.
        "4242/4242/4242/4242",
        "4242\n4242\n4242\n4242",
        "4242.4242.4242.4242",
        "4242 - 4242 - 4242 - 4242",
        "4242\t4242\t4242\t4242",
        "4242_4242_4242_4242",
        "4242,4242,4242,4242",
        "4242\u20094242\u20094242\u20094242",
        "4242 \u2013 4242 \u2013 4242 \u2013 4242",
        "4242\u30004242\u30004242\u30004242",
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
        "pay it on 01/12/2025",
        "pay 1.234,56 € on 2025-12-01",
        "call 030 1234 5678",
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
    # ... unless it is a shorter card number with digits glued on (see the glued tests below)
    assume(not _starts_with_card(_break_luhn(number)))
    assert not looks_like_card_number(f"here: {_break_luhn(number)}.")
    if len(number) == 13:  # any grouping of 13 digits leaves no shorter run that could be a card
        assert not looks_like_card_number(f"here: {data.draw(grouped(_break_luhn(number)))}.")


@given(st.text(max_size=200))
def test_text_with_fewer_than_13_digits_is_never_a_card(text: str) -> None:
    digits = sum(ch.isdecimal() for ch in text)
    if digits < 13:
        assert not looks_like_card_number(text)


@given(st.text("0123456789", min_size=20, max_size=40))
def test_one_unbroken_run_longer_than_19_digits_is_a_card_only_when_it_starts_with_one(digits: str) -> None:
    # A card number with its expiry/CVC glued on ("4242424242424242123") is a card; any other long
    # reference number is not.
    glued = len(digits) <= MAX_DIGITS + MAX_GLUED_DIGITS and _starts_with_card(digits)
    assert looks_like_card_number(f"ref {digits} end") == glued


@pytest.mark.parametrize(
    "text",
    [
        "card 4242424242424242123",
        "card 42424242424242421227",
        "card 4242424242424242 1227123",
        "5555555555554444123 please",
        "3782822463100051227",
        "4242 4242 4242 4242123",
    ],
)
def test_a_card_number_glued_to_expiry_or_cvc_is_a_card(text: str) -> None:
    assert looks_like_card_number(text)
    assert redact_card_numbers(text).count(CARD_PLACEHOLDER) == 1


@pytest.mark.parametrize(
    "text",
    [
        "order 12345678901234567890",  # starts with no card issuer prefix
        "ref 9000000000000000000000",
        "tracking 00340434161094042557",
        "invoice 7777777777777777123",
    ],
)
def test_long_reference_numbers_outside_card_ranges_are_not_cards(text: str) -> None:
    assert not looks_like_card_number(text)


# Anything that is neither a letter nor a digit may stand between a card number's digit groups.
SEPARATOR_CHARS = " \n\t\r.-\u2010\u2013\u2014/\\_,;:|()[]\u00a0\u2007\u2009\u202f\u3000*+#~'\""
mixed_separators = st.text(st.sampled_from(SEPARATOR_CHARS), min_size=1, max_size=4)


@st.composite
def separated(draw: st.DrawFn, number: str) -> str:
    """The number cut into random groups, each gap filled with a random mix of separators."""
    cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), min_size=1, max_size=8)))
    parts = [number[i:j] for i, j in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    return parts[0] + "".join(draw(mixed_separators) + part for part in parts[1:])


@given(number=card_numbers, data=st.data(), before=surroundings, after=surroundings)
def test_card_numbers_split_by_any_mix_of_separators_are_recognised(
    number: str, data: st.DataObject, before: str, after: str
) -> None:
    text = f"{before} {data.draw(separated(number))} {after}"
    assert looks_like_card_number(text)
    assert not looks_like_card_number(redact_card_numbers(text))


dates = st.dates().map(lambda d: d.strftime(d.isoformat() if d.day % 2 else "%d/%m/%Y"))
amounts = st.integers(0, 10**7).map(lambda cents: f"{cents // 100:,}.{cents % 100:02d} €")
phones = st.text("0123456789", min_size=6, max_size=11).map(lambda n: f"+49 {n[:3]} {n[3:]}")


@given(date=dates, amount=amounts, phone=phones)
def test_dates_amounts_and_short_phone_numbers_are_not_cards(date: str, amount: str, phone: str) -> None:
    for text in (f"pay {amount} on {date}", f"call me on {phone}", f"due {date}; ring {phone}"):
        if sum(ch.isdecimal() for ch in text) < 13:
            assert not looks_like_card_number(text)
        assert not looks_like_card_number(f"pay {amount} to Vodafone")
        assert not looks_like_card_number(f"on {date} please")


def test_redaction_replaces_only_the_card_number() -> None:
    text = "card 4242 4242 4242 4242 for bill 12345, thanks"
    assert redact_card_numbers(text) == f"card {CARD_PLACEHOLDER} for bill 12345, thanks"


@given(number=card_numbers, data=st.data(), before=surroundings, after=surroundings)
def test_redacted_text_never_looks_like_a_card(
    number: str, data: st.DataObject, before: str, after: str
) -> None:
    assert not looks_like_card_number(redact_card_numbers(f"{before} {data.draw(grouped(number))} {after}"))


CARD_DIGITS = "4000056655665556"
ESCAPED = "".join(f"\\u{ord(digit):04x}" for digit in CARD_DIGITS)


@pytest.mark.parametrize(
    "text",
    [
        '/inform{"biller": "' + ESCAPED + '"}',
        ' /inform{"biller": "' + ESCAPED + '"}',
        '\u00a0/inform{"biller": "' + ESCAPED + '"}',
        '\u2003\n/inform{"nested": {"list": ["x", "' + ESCAPED + '"]}}',
        '/inform{"' + ESCAPED + '": "key"}',
        "pay " + ESCAPED,
    ],
)
def test_a_card_number_rasa_would_decode_is_found(text: str) -> None:
    assert not looks_like_card_number(text)
    assert message_holds_card_number(text)


@pytest.mark.parametrize(
    "metadata",
    [
        {"shown_text": f"card {CARD_DIGITS}"},
        {"a": {"b": [1, {"c": "4000 0566 5566 5556"}]}},
        {"n": int(CARD_DIGITS)},
        {CARD_DIGITS: "as a key"},
    ],
)
def test_a_card_number_anywhere_in_metadata_is_found(metadata: object) -> None:
    assert message_holds_card_number("hello", metadata)


def test_an_ordinary_payload_and_metadata_pass() -> None:
    payload = '/inform{"biller": "Vodafone", "amount": "20"}'
    assert not message_holds_card_number(payload, {"shown_text": "Vodafone"})


def test_the_front_ends_tap_evidence_is_not_read_as_a_card_number() -> None:
    # Telegram's callback query ids are long numeric strings: one in ten passes Luhn. A Confirm
    # tap carrying one was refused as "never send a card number" (found by the reliability bench).
    callback_id = "4242424242424242"
    assert looks_like_card_number(callback_id)
    tap = {"callback_id": callback_id, "at": "2026-11-30T18:30:41+00:00"}
    assert not message_holds_card_number('/affirm{"draft_id": 7}', {"channel": "telegram", "tap": tap})
    assert message_holds_card_number("/affirm", {"channel": "telegram", "shown_text": callback_id})
