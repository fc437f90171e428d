"""What marks a currency in chat, from babel's CLDR data: symbols, ISO codes and English names.

One vocabulary for both depths: the NLU's amount span rules (scripts/build_spacy_pipeline.py) keep
every marker listed here inside the amount span, and `payments.money.parse_amount` reads each one
as its currency, so an amount in roubles, Swiss francs or "euro cents" is never read as the bill's
currency. Standard library and babel only: the span builder imports this in the Rasa environment.
"""

from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale

# Every dash and minus sign Unicode has (phones autocorrect "-" to an en dash) and the plus sign.
DASH_CHARS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
SIGN_CHARS = DASH_CHARS + "+"
# ISO 4217 codes that are also English words ("pay it ALL", "top 5", "try 20"): a currency only
# when the rest of the amount says so, never on their own.
WORD_LIKE_CODES = frozenset(
    {
        "all", "arm", "bad", "ban", "bob", "cop", "cup", "esp", "gel", "mad", "mop", "nad", "pen",
        "php", "ron", "sit", "sos", "std", "sur", "top", "try", "ern", "lak",
    }
)  # fmt: skip
# Name words that are everyday English too ("mark", "real", "won", "unit"): read only inside a
# full currency name ("Brazilian real"), never alone.
WORD_LIKE_NAMES = frozenset(
    {"gold", "unit", "units", "value", "mark", "marks", "real", "reals", "won", "sol"}
)
# Symbols that are English words or common abbreviations: not a currency alone.
WORD_LIKE_SYMBOLS = frozenset({"up", "um", "da", "den", "le", "ar", "km", "ft", "db", "fb", "rm", "sr"})
# Sub-unit words: "50 cents", "20 euro cents", "30 pence", "20 eurocents", "20 centimes".
SUBUNIT_WORDS = (
    "cent", "cents", "ct", "cts", "penny", "pence", "pennies", "eurocent", "eurocents", "centime", "centimes",
)  # fmt: skip
# Codes of test, precious-metal and accounting units: no one pays a bill in them.
_ACCOUNTING = re.compile(r"^X(?!AF|OF|PF|CD|CG)")


@lru_cache(maxsize=1)
def iso_codes() -> frozenset[str]:
    """Every ISO 4217 code babel knows (upper case)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


@lru_cache(maxsize=1)
def babel_symbols() -> dict[str, tuple[str, ...]]:
    """Every currency symbol of every CLDR locale, lower-cased → the currencies it names.

    Symbols equal to their code, containing digits or whitespace, and single ASCII letters are
    left out ("k", "p" and "R" are parts of amounts or words).
    """
    from babel import localedata

    index: dict[str, set[str]] = {}
    for identifier in localedata.locale_identifiers():
        try:
            locale = Locale.parse(identifier)
        except (ValueError, LookupError):
            continue
        for code, symbol in locale.currency_symbols.items():
            key = symbol.lower().strip("\u200e\u200f\u200b")
            if not key or key == code.lower() or any(c.isdigit() or c.isspace() for c in key):
                continue
            if len(key) == 1 and key.isascii() and key.isalpha():
                continue
            index.setdefault(key, set()).add(code)
    return {key: tuple(sorted(codes)) for key, codes in index.items()}


@lru_cache(maxsize=1)
def babel_names() -> dict[str, tuple[str, ...]]:
    """English currency names, lower-cased, singular and plural ("swiss franc", "euros") → codes.

    Historical names (with years) and accounting units are left out; the last word of each name
    ("francs", "rupees") names the currency too, unless it is an everyday word (WORD_LIKE_NAMES).
    """
    english = Locale.parse("en")
    plurals = english._data["currency_names_plural"]
    index: dict[str, set[str]] = {}
    for code in iso_codes():
        name = english.currencies.get(code)
        if not name or _ACCOUNTING.match(code) or "(" in name or any(c.isdigit() for c in name):
            continue
        forms = {name.lower(), *(str(v).lower() for v in dict(plurals.get(code, {})).values())}
        for form in forms:
            index.setdefault(form, set()).add(code)
            last = form.split()[-1]
            if last not in WORD_LIKE_NAMES:
                index.setdefault(last, set()).add(code)
    return {key: tuple(sorted(codes)) for key, codes in index.items()}


def span_markers() -> tuple[list[str], list[str], list[str]]:
    """The markers the span rules keep inside an amount: (one-token words, symbols, multi-word names).

    Symbols here are the non-alphabetic ones plus alphabetic ones that are not English words;
    codes are lower-cased ISO codes that are not English words.
    """
    words = sorted(
        {name for name in babel_names() if " " not in name}
        | {code.lower() for code in iso_codes() if code.lower() not in WORD_LIKE_CODES}
        | set(SUBUNIT_WORDS)
    )
    symbols = sorted(s for s in babel_symbols() if s not in WORD_LIKE_SYMBOLS)
    names = sorted(name for name in babel_names() if " " in name)
    return words, symbols, names
