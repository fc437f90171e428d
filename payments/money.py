"""Money as integer minor units of an ISO 4217 currency, read from what people type.

`parse_amount` turns "45,20 €", "$1,200", "1.200,50", "fifty dollars", "1.5k", "20%" or "pay it
all" into `Money`; it reads every amount span shape the NLU rules mark
(scripts/build_spacy_pipeline.py; tests/payments/test_span_rules.py parses each). It refuses
rather than guesses: a separator that could be decimal or grouping, two numbers, or a
fraction the currency cannot hold is an error with a code, never a best effort that charges the
wrong amount. No float is used anywhere: Decimal only for display.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, get_decimal_symbol

from payments.currency_markers import (
    DASH_CHARS,
    SIGN_CHARS,
    SUBUNIT_WORDS,
    WORD_LIKE_CODES,
    babel_names,
    babel_symbols,
    iso_codes,
)
from payments.errors import (
    AmountAmbiguousError,
    AmountCurrencyMismatchError,
    AmountInvalidError,
    AmountNotationError,
    AmountNotPositiveError,
    AmountTooPreciseError,
)
from payments.number_words import (
    NUMBER_WORDS,
    SCALES,
    TENS,
    UNITS,
    cents_after_currency,
    money_slang,
    number_from_words,
    spoken_price_minor,
)

# Above this many major units an amount is out of range for a bill (and for int64 columns).
MAX_MAJOR_UNITS = 10**9


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units of an ISO 4217 currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("Money.amount_minor must be an int (minor units), never a float")
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError(f"not an ISO 4217 currency code: {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    @property
    def decimal(self) -> Decimal:
        """The amount in major units as an exact Decimal (for display and Stripe-free maths)."""
        return Decimal(self.amount_minor).scaleb(-minor_unit_digits(self.currency))


def minor_unit_digits(currency: str) -> int:
    """How many decimal digits the currency's minor unit has (EUR 2, JPY 0)."""
    return int(get_currency_precision(currency))


def _pow10(digits: int) -> int:
    return int(10**digits)


def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_IE")


def format_money(money: Money, locale: str) -> str:
    """Format `money` for a reader in `locale`, e.g. "€84.20" (en_IE) or "84,20 €" (de_DE)."""
    return str(format_currency(money.decimal, money.currency, locale=_locale(locale)))


# --- parsing ------------------------------------------------------------------------------------

ALL_PHRASES = re.compile(
    r"^(?:(?:pay|settle)\s+)?(?:it\s+|them\s+|the\s+)?"
    r"(?:all|everything|in\s+full|full|the\s+full\s+amount|full\s+amount|whole\s+(?:thing|amount|bill)|"
    r"whole|total|the\s+total|all\s+of\s+it|alles|komplett|den\s+ganzen\s+betrag|"
    r"(?:full|whole|entire)\s+balance|entire\s+amount)"
    r"(?:\s+of\s+it)?(?:\s+(?:please|now|off))?$"
)
HALF_PHRASES = re.compile(
    r"^(?:(?:pay\s+)?(?:it\s+)?)?(?:half|half\s+of\s+it|the\s+half|hälfte|die\s+hälfte)$"
)

# Symbols and words naming a currency. "bucks" is slang people use for their own currency.
# Longer symbols first: "us$" must be taken before "$".
SYMBOLS: dict[str, tuple[str, ...]] = {
    "us$": ("USD",),
    "$us": ("USD",),
    "$ca": ("CAD",),
    "£gb": ("GBP",),
    "ca$": ("CAD",),
    "au$": ("AUD",),
    "a$": ("AUD",),
    "nz$": ("NZD",),
    "jp¥": ("JPY",),
    "cn¥": ("CNY",),
    "\uffe5": ("JPY", "CNY"),
    "c$": ("CAD",),
    "€": ("EUR",),
    "$": ("USD", "CAD", "AUD", "NZD"),
    "£": ("GBP",),
    "¥": ("JPY", "CNY"),
    "₹": ("INR",),
    "chf": ("CHF",),
    "sfr.": ("CHF",),
    "sfr": ("CHF",),
    "fr.": ("CHF",),
    "fr": ("CHF",),
}
WORDS: dict[str, tuple[str, ...]] = {
    "euro": ("EUR",),
    "euros": ("EUR",),
    "eur": ("EUR",),
    "dollar": ("USD", "CAD", "AUD", "NZD"),
    "dollars": ("USD", "CAD", "AUD", "NZD"),
    "pound": ("GBP",),
    "pounds": ("GBP",),
    "quid": ("GBP",),
    "sterling": ("GBP",),
    "yen": ("JPY",),
    "franken": ("CHF",),
    "francs": ("CHF",),
    "kr": ("SEK", "NOK", "DKK"),
    "kronor": ("SEK",),
    "kroner": ("NOK", "DKK"),
}
GENERIC_WORDS = {"bucks", "buck"}
# Sub-unit words beyond the span rules' own: read as sub-units of the bill's currency when they
# belong to it, refused otherwise (never whole units). "20c" is twenty cents.
EXTRA_SUBUNIT_WORDS = {"c"}
CENT_WORDS = {*SUBUNIT_WORDS, "p", *EXTRA_SUBUNIT_WORDS}
# Which currencies each subunit word belongs to: "50 p" on a euro bill is pence, not cents.
CENT_CURRENCIES = ("EUR", "USD", "CAD", "AUD", "NZD", "CHF")
SUBUNIT_CURRENCIES: dict[str, tuple[str, ...]] = {
    "cent": CENT_CURRENCIES,
    "cents": CENT_CURRENCIES,
    "ct": CENT_CURRENCIES,
    "penny": ("GBP",),
    "pence": ("GBP",),
    "p": ("GBP",),
    "pennies": ("GBP",),
    "eurocent": ("EUR",),
    "eurocents": ("EUR",),
    "cts": CENT_CURRENCIES,
    "centime": ("CHF",),
    "centimes": ("CHF",),
    "c": CENT_CURRENCIES,
}
# Every dash and minus sign Unicode has (phones autocorrect "-" to an en dash): all read as "-".
DASHES = str.maketrans(dict.fromkeys(DASH_CHARS[1:], "-"))
# A sign before a number, possibly with a currency symbol between: "-20", "- €5", "+20".
SIGNED = re.compile(r"(?:^|[\s(])([-+])\s*(?:[^\w\s]{1,3}\s*)?\d")
# "1e3", "2.5E-2": exponent notation is never an amount a person means to pay.
EXPONENT = re.compile(r"\d\s*e\s*[-+]?\d")
FILLER_WORDS = {"pay", "please", "only", "just", "about", "of", "it", "the", "amount", "me", "zahle"}

_NOT_SYMBOLS = NUMBER_WORDS | set(CENT_WORDS) | set(FILLER_WORDS) | set(GENERIC_WORDS) | {".", ",", "'"}

# "minus 20", "negative 5 euros": a sign written as a word.
SIGN_WORDS = re.compile(r"^(?:minus|negative)\b")
GROUP_CHARS = " \u00a0\u202f'\u2019"
# "1.5k", "2 k", "-1k": thousands, with at most two decimals (exact, no float).
THOUSANDS = re.compile(r"^([-\u2212]?)(\d{1,4})(?:[.,](\d{1,2}))?\s*k$")
# "20%", "12.5 percent": a share of what is outstanding.
PERCENT = re.compile(r"^(\d{1,3})(?:[.,](\d{1,2}))?\s*(?:%|percent|pct)$")
NUMBER_TOKEN = re.compile(r"[-\u2212]?\d(?:[\d.,\u00a0\u202f'\u2019 ]*\d)?(?:[.,]-)?")


def parse_amount(text: str, *, currency: str, locale: str, outstanding: Money | None = None) -> Money:
    """Read an amount the user typed as Money in `currency` (the bill's); raise a coded error otherwise.

    "all"/"pay it all" means `outstanding`, "half" half of it (refused when that is not whole
    minor units). A currency named in the text must be `currency`.
    """
    raw = " ".join(text.strip().lower().translate(DASHES).split())
    if not raw:
        raise AmountInvalidError(text=text)
    if SIGN_WORDS.match(raw):
        raise AmountNotPositiveError(text=text)
    if signed := SIGNED.search(raw):
        # A sign is never dropped: "-€5" and "\u201320" are not 5 and 20.
        raise (AmountNotPositiveError if signed.group(1) == "-" else AmountInvalidError)(text=text)
    if EXPONENT.search(raw):
        raise AmountNotationError(text=text)
    if _has_currency_sign(raw) and any(word in CENT_WORDS for word in re.findall(r"[a-z]+(?![a-z$])", raw)):
        # "€20 cents": twenty euros or twenty cents? A sub-unit word goes with a currency word
        # ("20 euro cents"), never with a symbol: ask rather than pick one.
        raise AmountAmbiguousError(text=text)
    if (relative := _relative_amount(raw, outstanding, text)) is not None:
        return relative

    raw = money_slang(raw, text)  # "a fiver", "two grand", "87 pounds 40"
    raw = re.sub(r"(?<=\d)e$", " eur", raw)  # "20e": 20 euros as typed on a phone
    for word in re.findall(r"[^\W\d_]+", raw):  # "ninety nine pence" as "99p": a sub-unit keeps its currency
        if word in SUBUNIT_CURRENCIES:
            _subunit_of(word, currency, text)
    raw = cents_after_currency(raw, {*WORDS, *GENERIC_WORDS})  # "sixty seven pounds fifty"
    named, rest = _extract_currency(raw, currency, text)
    if named is not None and named != currency:
        raise AmountCurrencyMismatchError(text=text, currency=named, expected=currency)
    digits = minor_unit_digits(currency)
    if match := THOUSANDS.match(rest):
        sign, whole, fraction = match.groups()
        if sign:
            raise AmountNotPositiveError(text=text)
        thousandths = int(whole) * 1000 + int((fraction or "").ljust(3, "0"))
        return _positive(thousandths * _pow10(digits), currency, text)
    numbers = NUMBER_TOKEN.findall(rest)
    numbers = [n.strip(GROUP_CHARS) for n in numbers if n.strip(GROUP_CHARS)]
    if numbers:
        words_left = [w for w in NUMBER_TOKEN.sub(" ", rest).split() if w not in FILLER_WORDS]
        cents_only = bool(words_left) and all(w in CENT_WORDS for w in words_left)
        if len(numbers) > 1:
            raise AmountAmbiguousError(text=text)
        if words_left and not cents_only:
            raise AmountInvalidError(text=text)
        if cents_only:
            for word in words_left:
                _subunit_of(word, currency, text)
            return _positive(_cents(numbers[0], text), currency, text)
        return _positive(_numeric_minor(numbers[0], digits=digits, locale=locale, text=text), currency, text)
    ceiling = outstanding.amount_minor if outstanding is not None else None
    return _positive(_words_minor(rest, digits=digits, ceiling=ceiling, text=text), currency, text)


def _relative_amount(raw: str, outstanding: Money | None, text: str) -> Money | None:
    """What "all", "half" or "N%" names of `outstanding` (refused without one); else None."""
    if ALL_PHRASES.match(raw) or HALF_PHRASES.match(raw):
        if outstanding is None:
            raise AmountInvalidError(text=text)
        if ALL_PHRASES.match(raw):
            return outstanding
        return _share(outstanding, Fraction(1, 2), text)
    if match := PERCENT.match(raw):
        if outstanding is None:
            raise AmountInvalidError(text=text)
        percent = Fraction(int(match.group(1))) + Fraction(
            int(match.group(2) or 0), 10 ** len(match.group(2) or "")
        )
        if percent <= 0:
            raise AmountNotPositiveError(text=text)
        return _share(outstanding, percent * Fraction(1, 100), text)
    return None


def _share(outstanding: Money, share: Fraction, text: str) -> Money:
    """`share` of what is owed, refused when that is not a whole number of minor units."""
    exact = outstanding.amount_minor * share
    if exact.denominator != 1:
        raise AmountAmbiguousError(text=text)
    return _positive(int(exact), outstanding.currency, text)


def _positive(amount_minor: int, currency: str, text: str) -> Money:
    if amount_minor <= 0:
        raise AmountNotPositiveError(text=text)
    if amount_minor > MAX_MAJOR_UNITS * _pow10(minor_unit_digits(currency)):
        raise AmountInvalidError(text=text)
    return Money(amount_minor, currency)


def _extract_currency(raw: str, expected: str, text: str) -> tuple[str | None, str]:
    """Remove currency symbols/codes/words from `raw`; return the one currency named, if any."""
    found: set[str] = set()
    rest = raw

    def pick(options: tuple[str, ...]) -> str:
        return expected if expected in options else options[0]

    names = _multiword_names()
    for match in names.finditer(rest):
        found.add(pick(babel_names()[match.group(0)]))
    rest = names.sub(" ", rest)
    for match in _compound_symbols().finditer(rest):
        # "r$", "kr.", "s/", "zł" before the one-character symbols inside them ("$" of "r$").
        found.add(pick(_babel_symbols()[match.group(0)]))
    rest = _compound_symbols().sub(" ", rest)
    for symbol, options in SYMBOLS.items():
        # Letter-led symbols ("us$", "chf") must stand alone, not inside a word.
        guard = r"(?<![a-z])" if symbol[0].isalpha() else ""
        pattern = guard + re.escape(symbol) + (r"(?![a-z])" if symbol[-1].isalpha() else "")
        if re.search(pattern, rest):
            found.add(pick(options))
            rest = re.sub(pattern, " ", rest)
    tokens = []
    for token in re.split(r"(\s+|(?<=\d)(?=\D)|(?<=\D)(?=\d))", rest):
        word = token.strip()
        known = _babel_symbols()
        if word in WORDS:
            found.add(pick(WORDS[word]))
        elif word in babel_names() and word not in CENT_WORDS:
            found.add(pick(babel_names()[word]))
        elif word in known or word.rstrip(".") in known:
            found.add(pick(known.get(word) or known[word.rstrip(".")]))
        elif any(unicodedata.category(char) == "Sc" for char in word):
            # A currency sign no locale's data maps (or several glued together): never the bill's.
            raise AmountCurrencyMismatchError(text=text, currency=word, expected=expected)
        elif re.fullmatch(r"[a-z]{3}", word) and word.upper() in iso_codes() and word not in NUMBER_WORDS:
            found.add(word.upper())
        elif word in GENERIC_WORDS:
            continue
        else:
            tokens.append(token)
    if len(found) > 1:
        raise AmountAmbiguousError(text=text)
    return (found.pop() if found else None), " ".join("".join(tokens).split())


@lru_cache(maxsize=1)
def _babel_symbols() -> dict[str, tuple[str, ...]]:
    """Every CLDR currency symbol (payments.currency_markers) except words that are parts of amounts."""
    return {key: codes for key, codes in babel_symbols().items() if key not in _NOT_SYMBOLS}


@lru_cache(maxsize=1)
def _multiword_names() -> re.Pattern[str]:
    """English currency names of several words ("swiss francs", "us dollars"), longest first."""
    names = sorted((name for name in babel_names() if " " in name), key=len, reverse=True)
    return re.compile(r"(?<![a-z])(?:" + "|".join(map(re.escape, names)) + r")(?![a-z])")


@lru_cache(maxsize=1)
def _compound_symbols() -> re.Pattern[str]:
    """CLDR symbols of several characters with a non-letter ("r$", "kr.", "s/"), longest first;
    the hand-made SYMBOLS keep their own reading ("us$", "fr.")."""
    symbols = sorted(
        (s for s in _babel_symbols() if len(s) > 1 and not s.isalpha() and s not in SYMBOLS),
        key=len,
        reverse=True,
    )
    return re.compile(r"(?<![a-z])(?:" + "|".join(map(re.escape, symbols)) + r")(?![a-z])")


def warm_caches() -> None:
    """Build the currency vocabulary (every CLDR locale's symbols and names) now, not in a turn.

    The first amount read in a process loads babel's data for every locale (about 1.5 CPU seconds;
    bench/results/profile.md): a server calls this at start-up so that no user's turn pays it.
    """
    iso_codes()
    _multiword_names()
    _compound_symbols()


def _has_currency_sign(raw: str) -> bool:
    return any(unicodedata.category(char) == "Sc" for char in raw)


# --- an amount written but left out of the amount span ------------------------------------------

# A number with a sign, in exponent notation, or glued to a currency sign.
_SIGNED_NUMBER = re.compile(r"(?:^|[\s(])[" + re.escape(SIGN_CHARS) + r"]\s*\S{0,3}\d")


# Words that say an amount or change it, outside any amount span: slang for sums ("a fiver"),
# multipliers ("2 tenners", "20 grand"), signs ("minus", "negative"), operators ("less", "times").
MONEY_SLANG = frozenset(
    {
        "fiver", "fivers", "tenner", "tenners", "grand", "k", "quid", "bucks", "buck", "dozen",
        "half", "quarter", "minus", "negative", "less", "plus",
        "times", "x", "percent", "pct", "bitcoin", "bitcoins", "btc", "usdt", "tether", "eth",
        "ether", "crypto", "satoshi", "sats", "cent", "cents",
    }
)  # fmt: skip
# Number words that name an amount; "a", "one" and "and" are everyday words ("pay that one").
_AMOUNT_WORDS = (set(UNITS) | set(TENS) | set(SCALES)) - {"a", "one"}
# A count of bills or payments ("pay my 2 bills") is not money.
_COUNTED = re.compile(r"\d+\s+(?:bills?|payments?)\b")


def unread_amount(text: str) -> str | None:
    """The part of `text` (a message with its entity spans cut out) that names money, or None.

    Whatever the amount span read is charged as the amount; that is right only when everything
    about the amount is inside the span. A currency sign, symbol, code or name, a sub-unit word,
    a digit or number word, a fraction or operator character, a sign (a lone "-", "minus", brackets
    left empty around a cut-out number) or money slang left outside every span is an amount that
    was written but not read: the caller refuses it (AmountUnreadError) and asks for it again.
    """
    raw = " ".join(text.strip().lower().translate(DASHES).split())
    if not raw or raw.startswith("/"):
        return None
    if match := _SIGNED_NUMBER.search(raw) or EXPONENT.search(raw):
        return match.group(0).strip()
    raw = _COUNTED.sub(" ", raw)
    if match := re.search(r"\(\s*\)", raw):
        return match.group(0)  # "(20)" with the number cut out: accounting notation for minus
    for char in raw:
        if char.isdigit() or char.isnumeric() or char in "\u00d7\u00f7*/^=%":
            return char  # a digit, a vulgar fraction, a superscript, a times sign or "^" outside every span
    for word in raw.split():
        bare = word.strip(".,!?;:()\"'")
        if bare and all(char in SIGN_CHARS for char in bare):
            return word  # "-twenty", "20-": the sign of a number cut out next to it
        if (
            _has_currency_sign(word)
            or bare in CENT_WORDS - {"p", "ct", "c"}
            or bare in babel_names()
            or bare in WORDS
        ):
            return word
        if bare in _babel_symbols() and (not bare.isalpha() or len(bare) >= 3):
            return word
        if re.fullmatch(r"[a-z]{3}", bare) and bare.upper() in iso_codes() and bare not in WORD_LIKE_CODES:
            return word
        for part in re.split(r"[^a-z]+", bare):
            if part in _AMOUNT_WORDS or part in MONEY_SLANG or part in CENT_WORDS - {"p", "ct", "c"}:
                return word
    return None


def _cents(number: str, text: str) -> int:
    if not number.isdigit():
        raise AmountInvalidError(text=text)
    return int(number)


def _numeric_minor(number: str, *, digits: int, locale: str, text: str) -> int:
    """Digits with separators → minor units, deciding decimal vs grouping without guessing."""
    if number.startswith(("-", "\u2212")):
        raise AmountNotPositiveError(text=text)
    number = re.sub(r"[.,]-$", "", number)  # "45,-" is the German way to write 45 exactly
    for char in GROUP_CHARS:
        if char in number:
            number = _grouped(number, char, text)
    seps = [c for c in number if c in ".,"]
    if not seps:
        return int(number) * _pow10(digits)
    if len(set(seps)) == 2:
        decimal_sep = number[max(number.rfind("."), number.rfind(","))]
        group_sep = "," if decimal_sep == "." else "."
        if number.index(decimal_sep) < number.rfind(group_sep):
            raise AmountInvalidError(text=text)
        whole, fraction = number.rsplit(decimal_sep, 1)
        return _join(_grouped(whole, group_sep, text), fraction, digits, text)
    sep = seps[0]
    if len(seps) > 1:
        return int(_grouped(number, sep, text)) * _pow10(digits)
    whole, fraction = number.split(sep)
    if not whole:
        whole = "0"
    if len(fraction) == 3 and whole != "0":
        # "1.200" is 1200 where "." groups thousands and 1.2 where it is the decimal mark.
        loc = _locale(locale)
        if digits < 3 and sep == get_decimal_symbol(loc) and fraction[digits:].strip("0"):
            # "2.499" where "." is the decimal mark: not a whole number of cents. Ask again rather
            # than read it as 2499 (the grouping reading) or round it.
            raise AmountTooPreciseError(text=text, digits=digits)
        if digits >= 3 or sep == get_decimal_symbol(loc):
            raise AmountAmbiguousError(text=text)
        return int(_grouped(number, sep, text)) * _pow10(digits)
    return _join(whole, fraction, digits, text)


def _grouped(number: str, sep: str, text: str) -> str:
    """Remove grouping separators, insisting on groups of three after the first group."""
    head, *groups = number.split(sep)
    tail_ok = all(len(g) == 3 for g in groups[:-1])
    last = groups[-1] if groups else ""
    # The last group may carry a decimal part ("1 200,50"): check only its integer digits.
    last_int = re.split(r"[.,]", last, maxsplit=1)[0] if groups else ""
    if not head or (len(head) > 3 and groups) or not tail_ok or (groups and len(last_int) != 3):
        raise AmountInvalidError(text=text)
    return head + "".join(groups)


def _join(whole: str, fraction: str, digits: int, text: str) -> int:
    if not whole.isdigit() or not fraction.isdigit():
        raise AmountInvalidError(text=text)
    if len(fraction) > digits:
        raise AmountTooPreciseError(text=text, digits=digits)
    return int(whole) * _pow10(digits) + int(fraction.ljust(digits, "0") or "0")


def _subunit_of(word: str, currency: str, text: str) -> None:
    """Refuse a sub-unit word of another currency ("99p" or "ninety nine pence" on a euro bill)."""
    if currency not in SUBUNIT_CURRENCIES[word]:
        raise AmountCurrencyMismatchError(text=text, currency=SUBUNIT_CURRENCIES[word][0], expected=currency)


def _words_minor(rest: str, *, digits: int, ceiling: int | None, text: str) -> int:
    """English number words: "fifty", "twenty-five and fifty cents", "a hundred and five", and the
    spoken price "forty two fifty" (read within `ceiling`, what is owed: payments.number_words)."""
    words = [w for w in re.split(r"[\s-]+", rest) if w and w not in FILLER_WORDS - {"a"}]
    while words and words[-1] in ("and", "a"):  # a span cut after a connective: "fifty and"
        words.pop()
    if not words:
        raise AmountInvalidError(text=text)
    cents_at = [i for i, w in enumerate(words) if w in CENT_WORDS]
    if len(cents_at) > 1 or (cents_at and cents_at[0] != len(words) - 1):
        raise AmountInvalidError(text=text)
    if cents_at:
        words = words[:-1]
        # "and" after a scale word is inside the number ("one hundred and twenty five cents" is
        # 125 cents, as without "and"); elsewhere it splits whole units from cents ("five and
        # fifty cents").
        split = [i for i, w in enumerate(words) if w == "and" and (i == 0 or words[i - 1] not in SCALES)]
        if not split:
            return number_from_words(words, text)
        major = number_from_words(words[: split[-1]], text)
        minor = number_from_words(words[split[-1] + 1 :], text)
        if minor >= _pow10(digits):
            raise AmountInvalidError(text=text)
        return major * _pow10(digits) + minor
    try:
        return number_from_words(words, text) * _pow10(digits)
    except AmountInvalidError:
        return spoken_price_minor(words, digits=digits, ceiling=ceiling, text=text)


# --- the gateway's smallest charge --------------------------------------------------------------

# Stripe's documented minimum charge per currency, in minor units ("Minimum and maximum charge
# amounts", https://docs.stripe.com/currencies). An amount below it is refused before a summary is
# shown: card networks would decline it, after the user had confirmed it.
MINIMUM_CHARGE_MINOR: dict[str, int] = {
    "USD": 50, "EUR": 50, "GBP": 30, "AUD": 50, "BRL": 50, "CAD": 50, "CHF": 50, "INR": 50,
    "NZD": 50, "SGD": 50, "AED": 200, "BGN": 100, "CZK": 1500, "DKK": 250, "HKD": 400,
    "HUF": 17500, "JPY": 50, "MXN": 1000, "MYR": 200, "NOK": 300, "PLN": 200, "RON": 200,
    "SEK": 300, "THB": 1000,
}  # fmt: skip


def minimum_charge(currency: str) -> Money | None:
    """The smallest amount the gateway charges in `currency`, or None when it documents none."""
    minor = MINIMUM_CHARGE_MINOR.get(currency)
    return None if minor is None else Money(minor, currency)
