"""Money parsing and formatting: examples from the issue, refusals, and Hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.errors import PaymentsError
from payments.money import (
    MINIMUM_CHARGE_MINOR,
    Money,
    format_money,
    minimum_charge,
    minor_unit_digits,
    parse_amount,
    unread_amount,
)

OUTSTANDING = Money(8421, "EUR")


@pytest.mark.parametrize(
    ("text", "currency", "locale", "expected"),
    [
        ("45,20 €", "EUR", "de_DE", 4520),
        ("45,20 €", "EUR", "en_IE", 4520),
        ("€45.20", "EUR", "en_IE", 4520),
        ("45.20 EUR", "EUR", "en_IE", 4520),
        ("$1,200", "USD", "en_US", 120000),
        ("1.200,50", "EUR", "de_DE", 120050),
        ("1,200.50", "EUR", "en_IE", 120050),
        ("1 200,50 €", "EUR", "fr_FR", 120050),
        ("45 bucks", "EUR", "en_IE", 4500),
        ("fifty dollars", "USD", "en_US", 5000),
        ("twenty-five euros and fifty cents", "EUR", "en_IE", 2550),
        ("a hundred and five", "EUR", "en_IE", 10500),
        ("99 cents", "EUR", "en_IE", 99),
        ("45,-", "EUR", "de_DE", 4500),
        ("1,5", "EUR", "de_DE", 150),
        ("45.123", "EUR", "de_DE", 4512300),  # "." groups thousands in German
        ("¥1,200", "JPY", "en_US", 1200),
        ("1.200 ¥", "JPY", "de_DE", 1200),
        ("all", "EUR", "en_IE", 8421),
        ("pay it all", "EUR", "en_IE", 8421),
        ("the full amount", "EUR", "en_IE", 8421),
    ],
)
def test_reads_what_people_type(text: str, currency: str, locale: str, expected: int) -> None:
    outstanding = Money(8421, currency)
    assert parse_amount(text, currency=currency, locale=locale, outstanding=outstanding) == Money(
        expected, currency
    )


@pytest.mark.parametrize(
    ("text", "currency", "locale", "code"),
    [
        ("1.200", "EUR", "en_IE", "amount_ambiguous"),  # 1.2 or 1200? ask, do not guess
        ("1,200", "EUR", "de_DE", "amount_ambiguous"),
        ("45 or 50", "EUR", "en_IE", "amount_ambiguous"),
        ("half", "EUR", "en_IE", "amount_ambiguous"),  # 84.21 / 2 is not whole cents
        ("€45 $45", "EUR", "en_IE", "amount_ambiguous"),
        ("0", "EUR", "en_IE", "amount_not_positive"),
        ("-5 €", "EUR", "en_IE", "amount_not_positive"),
        ("1.5", "JPY", "en_US", "amount_too_precise"),  # yen have no minor unit
        ("2.499", "EUR", "en_IE", "amount_too_precise"),  # not whole cents: ask, never 2499 or 2.50
        ("0.125", "EUR", "en_IE", "amount_too_precise"),
        ("3000 yen", "EUR", "en_IE", "amount_currency_mismatch"),
        ("-20", "EUR", "en_IE", "amount_not_positive"),
        ("12,34,567", "EUR", "en_IE", "amount_invalid"),
        ("45 20", "EUR", "en_IE", "amount_invalid"),
        ("lots", "EUR", "en_IE", "amount_invalid"),
        ("", "EUR", "en_IE", "amount_invalid"),
        ("$45", "EUR", "en_IE", "amount_currency_mismatch"),
        ("fifty pounds", "EUR", "en_IE", "amount_currency_mismatch"),
        ("99999999999", "EUR", "en_IE", "amount_invalid"),
    ],
)
def test_refuses_instead_of_guessing(text: str, currency: str, locale: str, code: str) -> None:
    with pytest.raises(PaymentsError) as caught:
        parse_amount(text, currency=currency, locale=locale, outstanding=OUTSTANDING)
    assert caught.value.code == code


def test_half_of_an_even_amount() -> None:
    assert parse_amount("half", currency="EUR", locale="en_IE", outstanding=Money(8420, "EUR")) == Money(
        4210, "EUR"
    )


def test_all_without_a_bill_is_invalid() -> None:
    with pytest.raises(PaymentsError) as caught:
        parse_amount("all", currency="EUR", locale="en_IE")
    assert caught.value.code == "amount_invalid"


def test_minor_units_follow_iso_4217() -> None:
    assert (minor_unit_digits("EUR"), minor_unit_digits("JPY"), minor_unit_digits("USD")) == (2, 0, 2)


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        Money(45.2, "EUR")  # type: ignore[arg-type]


def test_format_money_is_locale_aware() -> None:
    assert format_money(Money(8420, "EUR"), "en_IE") == "€84.20"
    assert format_money(Money(8420, "EUR"), "de_DE") == "84,20\xa0€"
    assert format_money(Money(1200, "JPY"), "en_US") == "¥1,200"


LOCALES = ["en_IE", "en_US", "en_GB", "de_DE", "de_CH", "fr_FR", "es_ES", "it_IT", "nl_NL", "ja_JP"]
CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF"]


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=10**9),
    currency=st.sampled_from(CURRENCIES),
    locale=st.sampled_from(LOCALES),
)
def test_what_we_format_we_read_back_exactly(amount: int, currency: str, locale: str) -> None:
    money = Money(amount, currency)
    assert parse_amount(format_money(money, locale), currency=currency, locale=locale) == money


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("0123456789.,-€$ £¥'abcdefghilnorstuvwy\u00a0"), max_size=20))
def test_any_text_gives_positive_money_or_a_coded_error(text: str) -> None:
    try:
        money = parse_amount(text, currency="EUR", locale="en_IE", outstanding=OUTSTANDING)
    except PaymentsError as error:
        assert error.code.startswith("amount_")
    else:
        assert isinstance(money.amount_minor, int) and money.amount_minor > 0 and money.currency == "EUR"


@settings(max_examples=200, deadline=None)
@given(whole=st.integers(min_value=1, max_value=999), fraction=st.integers(min_value=0, max_value=999))
def test_a_lone_locale_decimal_mark_before_three_digits_is_never_guessed(whole: int, fraction: int) -> None:
    with pytest.raises(PaymentsError) as caught:
        parse_amount(f"{whole}.{fraction:03d}", currency="EUR", locale="en_IE")
    # "1.200" could be 1.20 or 1200: ambiguous; "2.499" is no whole number of cents: too precise.
    assert caught.value.code == ("amount_ambiguous" if fraction % 10 == 0 else "amount_too_precise")


def test_every_gateway_minimum_is_whole_minor_units_of_a_known_currency() -> None:
    assert minimum_charge("EUR") == Money(50, "EUR") and minimum_charge("GBP") == Money(30, "GBP")
    assert minimum_charge("JPY") == Money(50, "JPY")  # ¥50: a zero-decimal currency
    assert all(minimum_charge(code) is not None for code in MINIMUM_CHARGE_MINOR)


@pytest.mark.parametrize(
    ("text", "currency", "code"),
    [
        # Every dash and minus sign is a sign, also before a currency symbol.
        ("\u201320", "EUR", "amount_not_positive"),
        ("\u201420 euros", "EUR", "amount_not_positive"),
        ("\u2010 20", "EUR", "amount_not_positive"),
        ("\uff0d20", "EUR", "amount_not_positive"),
        ("-€5", "EUR", "amount_not_positive"),
        ("\u2212 €5", "EUR", "amount_not_positive"),
        ("+20", "EUR", "amount_invalid"),
        # Exponent notation.
        ("1e3", "EUR", "amount_notation"),
        ("2.5E-2 euros", "EUR", "amount_notation"),
        # A currency symbol from any locale's data, never read as the bill's.
        ("₽20", "EUR", "amount_currency_mismatch"),
        ("20 zł", "EUR", "amount_currency_mismatch"),
        ("20 ₺", "EUR", "amount_currency_mismatch"),
        ("₩2000", "EUR", "amount_currency_mismatch"),
        ("20 Fr.", "EUR", "amount_currency_mismatch"),
        ("20 Kč", "EUR", "amount_currency_mismatch"),
        ("₿ 20", "EUR", "amount_currency_mismatch"),  # a sign no locale maps: still not the bill's
        # Subunit words belong to their currencies: pence are not euro cents.
        ("50 p", "EUR", "amount_currency_mismatch"),
        ("50 pence", "EUR", "amount_currency_mismatch"),
        ("50 cents", "GBP", "amount_currency_mismatch"),
        # Currency names and symbols babel knows, in every form the span rules keep.
        ("20 rupees", "EUR", "amount_currency_mismatch"),
        ("20 swiss francs", "EUR", "amount_currency_mismatch"),
        ("20 us dollars", "EUR", "amount_currency_mismatch"),
        ("20 R$", "EUR", "amount_currency_mismatch"),
        ("Rs. 500", "EUR", "amount_currency_mismatch"),
        ("500 RUB", "EUR", "amount_currency_mismatch"),
        ("20 dollar cents", "EUR", "amount_currency_mismatch"),
        # A sub-unit word with a symbol: twenty euros or twenty cents? Asked, never guessed.
        ("€20 cents", "EUR", "amount_ambiguous"),
        ("20€ cents", "EUR", "amount_ambiguous"),
        # A currency word nobody mapped is not silently dropped.
        ("20 zorkmids", "EUR", "amount_invalid"),
    ],
)
def test_a_sign_a_foreign_currency_or_a_foreign_subunit_is_refused(
    text: str, currency: str, code: str
) -> None:
    with pytest.raises(PaymentsError) as refused:
        parse_amount(text, currency=currency, locale="en_IE")
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [("20 zł", "PLN", 2000), ("₽20", "RUB", 2000), ("50 p", "GBP", 50), ("20 euro cents", "EUR", 20)],
)
def test_a_currency_marker_of_the_bills_own_currency_is_read(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency=currency, locale="en_IE").amount_minor == expected


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("20 eurocents", "EUR", 20),
        ("20 cts", "EUR", 20),
        ("20c", "EUR", 20),
        ("20 centimes", "CHF", 20),
        ("20 pennies", "GBP", 20),
        ("20 sterling", "GBP", 2000),
    ],
)
def test_other_sub_unit_words_are_sub_units_of_their_currency(
    text: str, currency: str, expected: int
) -> None:
    assert parse_amount(text, currency=currency, locale="en_IE").amount_minor == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("20 centimes", "amount_currency_mismatch"),
        ("20 pennies", "amount_currency_mismatch"),
        ("20 sterling", "amount_currency_mismatch"),
    ],
)
def test_a_sub_unit_word_of_another_currency_is_never_whole_euros(text: str, code: str) -> None:
    with pytest.raises(PaymentsError) as refused:
        parse_amount(text, currency="EUR", locale="en_IE")
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("20 rupees", "INR", Money(2000, "INR")),
        ("20 swiss francs", "CHF", Money(2000, "CHF")),
        ("20 R$", "BRL", Money(2000, "BRL")),
        ("20 euro cents", "EUR", Money(20, "EUR")),  # twenty cents: the minimum check refuses it later
    ],
)
def test_a_babel_currency_in_its_own_currency_is_read(text: str, currency: str, expected: Money) -> None:
    assert parse_amount(text, currency=currency, locale="en_IE") == expected


@pytest.mark.parametrize(
    ("message", "unread"),
    [
        ("pay vodafone in rubles", "rubles"),
        ("pay vodafone \u2013 5", "- 5"),
        ("pay vodafone 1e3", "1e3"),
        ("pay ₽ to vodafone", "₽"),
        ("pay vodafone in USD", "usd"),
        ("pay vodafone a few cents", "cents"),
        # What the amount span left behind (spans cut out as spaces): digits, signs, slang, words.
        ("pay the rent 1       ", "1"),
        ("pay vodafone \u00bd", "\u00bd"),
        ("pay vodafone 2\u00d710", "2"),
        ("pay vodafone a fiver", "fiver"),
        ("pay vodafone   tenners", "tenners"),
        ("pay vodafone    grand", "grand"),
        ("pay vodafone -      ", "-"),
        ("pay vodafone   -", "-"),
        ("pay vodafone minus       ", "minus"),
        ("pay vodafone    negative", "negative"),
        ("pay vodafone (  )", "( )"),
        ("pay vodafone   ^ ", "^"),
        ("pay vodafone zero hundred", "zero"),
        ("pay vodafone    eurocents", "eurocents"),
        ("pay vodafone    euro-cents", "euro-cents"),
        ("pay vodafone    sterling", "sterling"),
        ("pay vodafone    bitcoin", "bitcoin"),
        ("pay vodafone    usdt", "usdt"),
        ("pay vodafone          in dollars", "dollars"),
    ],
)
def test_money_left_outside_every_span_is_found(message: str, unread: str) -> None:
    assert unread_amount(message) == unread


@pytest.mark.parametrize(
    "message",
    ["pay vodafone", "pay  to vodafone ", "pay my 2 bills", "PAY IT ALL", "top up", "try again", "/affirm{}"],
)
def test_a_message_without_money_outside_its_spans_has_nothing_unread(message: str) -> None:
    assert unread_amount(message) is None
