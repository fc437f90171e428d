"""Build the spaCy pipeline that Rasa's SpacyNLP loads (runs in the Rasa env, spaCy 3.4).

spaCy's trained models cannot be downloaded on these machines, so the pipeline is a blank English
tokenizer plus an `entity_ruler` whose token patterns mark money spans as `amount` and date spans
as `date`, exactly as written: turning them into minor units or calendar days is the job of
`payments/` (`payments.money.parse_amount`, `payments.dates.parse_pay_date`), which reads every
span shape listed here (tests/payments/test_span_rules.py parses each rule's examples).

Every rule is a `Rule` with the spans it is meant to mark (`examples`): the tests check that the
built pipeline marks each example and that the core normalises it.

What counts as an amount: a number with a currency symbol, code or word before or after it
("$20", "950€", "96.50 USD", "52 bucks", "3000 yen"), "k" shorthand ("1.5k"), a sign ("-20",
"minus 20", refused later as not positive), number words with a currency ("forty dollars"), a share of the
bill ("half", "all of it"), and a bare number ("make it 40"). A bare number is NOT an amount when
it counts something ("2 bills", "last 5 payments"), is a percentage ("15%"), names something
("customer number 55102", "card ending 4242"), or is a year or a time: `BLOCK` rules mark those
spans with a label Rasa ignores (SpacyEntityExtractor keeps only `amount` and `date`), and the
ruler keeps the longest match, so they win over the one-token bare number.

What counts as a date: relative days ("tomorrow", "the day after tomorrow", "tonight"), weekday
names with or without next/this ("friday", "next monday"), weeks and months ("next week",
"end of the month", "the first of next month"), days of a month ("the 3rd", "3rd of may",
"Dec 3", "20 june", "12/15", "2026-12-03"), and offsets ("in two weeks", "3 days ago"). The
span starts at the date itself, not at "on"/"by" — except a dotted "01.06", which is only a
date after a preposition ("on 01.06."; "12.50" alone is money).

Usage: `.venvs/rasa/bin/python scripts/build_spacy_pipeline.py [--force] [--out DIR]`.
Rebuilding is skipped when the saved pipeline is newer than this script and payments/currency_markers.py.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script in the Rasa env: the currency vocabulary is the core's
    sys.path.insert(0, str(ROOT))

from payments.currency_markers import (  # noqa: E402
    SIGN_CHARS,
    SUBUNIT_WORDS,
    WORD_LIKE_CODES,
    iso_codes,
    span_markers,
)

DEFAULT_OUT = ROOT / "rasa_project" / "spacy_pipeline"

Pattern = list[dict[str, Any]]
AMOUNT, DATE, BLOCK = "amount", "date", "not_an_entity"


@dataclass(frozen=True)
class Rule:
    """One entity-ruler pattern, the label it gives, and spans it is meant to mark."""

    name: str
    label: str
    pattern: Pattern
    examples: tuple[str, ...]
    # Weak rules run in a second ruler that never overrides a span the first one marked.
    weak: bool = False


# --- vocabularies -----------------------------------------------------------------------------------

# Words that make the number after them negative ("minus 20").
SIGN_WORDS = ["minus", "negative"]
# A sign: every dash and minus sign Unicode has, and "+" (the core refuses each, never drops it).
SIGN = "[" + re.escape(SIGN_CHARS) + "]"
# Numbers as people type them: 45, 45.20, 45,20, 1,200, 1.200,50, 45,- (exactly 45), with an optional sign.
NUMBER = rf"^{SIGN}?(\d{{1,3}}([.,]\d{{3}})+|\d{{1,7}})([.,]\d{{1,2}}|[.,]-)?$"
# A bare number (no currency) is money only up to five digits and without a leading zero: longer
# ones and "0042" are account, customer, phone or reference numbers, not a bill anyone pays in chat.
BARE_NUMBER = rf"^(?!{SIGN}?0\d){SIGN}?(\d{{1,3}}([.,]\d{{3}})+|\d{{1,5}})([.,]\d{{1,2}}|[.,]-)?$"
# "k" shorthand for thousands: 1.5k, 2k, 1,5k.
NUMBER_K = rf"^{SIGN}?\d{{1,4}}([.,]\d{{1,2}})?[kK]$"
# Exponent notation ("1e3", "2.5E2"): never an amount a person means, so the core refuses the span.
NUMBER_EXP = rf"^{SIGN}?\d+([.,]\d+)?e{SIGN}?\d+$"
# Digits that are no well-formed number ("12.345.67", "1,2,3"): still the amount the user wrote,
# marked so the core refuses it rather than the draft defaulting to the whole bill.
NUMBER_MALFORMED = rf"^{SIGN}?\d[\d.,'\u2019]*[.,'\u2019][\d.,'\u2019]*\d$"
CURRENCY_SYMBOLS = ["€", "$", "£", "¥", "₹", "us$", "ca$", "au$", "a$", "c$", "fr."]
# babel's CLDR data: one-token currency words (names, name words, ISO codes, sub-units), symbols
# of every locale, and multi-word names ("swiss francs"); see payments/currency_markers.py.
BABEL_WORDS, BABEL_SYMBOLS, BABEL_NAMES = span_markers()
ISO_CODES = iso_codes()
# ISO codes that are English words count only in capitals after a number ("20 TRY", not "try 20").
WORD_LIKE_CODES_UPPER = sorted(code.upper() for code in WORD_LIKE_CODES)
CURRENCY_CODES = ["eur", "usd", "gbp", "chf", "jpy", "cad", "aud", "pln", "sek", "nok", "dkk", "czk"]
# "20e" is how some people type 20 euros on a phone.
CURRENCY_WORDS = [
    *CURRENCY_CODES,
    "euro",
    "euros",
    "dollar",
    "dollars",
    "bucks",
    "buck",
    "pound",
    "pounds",
    "quid",
    "yen",
    "kr",
    "kronor",
    "kroner",
    "francs",
    "franken",
    "cents",
    "cent",
]
# A number glued to its currency as one token: "45.20eur", "EUR45", "2k$", "40€" when not split.
GLUED_MONEY = (
    r"^(([€$£¥]|us\$|eur|usd|gbp)[-\u2212]?\d[\d.,]*k?"
    r"|[-\u2212]?\d[\d.,]*k?([€$£¥e]|eur|euro|euros|usd|bucks|gbp|chf|yen|kr))$"
)
NUMBER_WORDS_LEAD = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "a",
]
NUMBER_WORDS = [*NUMBER_WORDS_LEAD, "thousand", "and", "-"]
# Spoken money without a currency (issue 11, dictation): a unit or teen word before a scale or a
# tens word ("twelve hundred", "a hundred and twenty", "six forty" = 6.40, "nine ninety five").
SPOKEN_LEAD = ["a", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
               "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
               "nineteen"]  # fmt: skip
TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
UNIT_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine"]
# Two-letter currency abbreviations written before a number without their dot ("Rs 1,450", "Fr 39").
LETTER_SYMBOLS_BEFORE = ["rs", "fr", "sfr", "kr"]
# Without a currency, number words are an amount only when they start with a tens or teens word
# ("fifty", "twenty five", "a hundred"): "one" and "two" are too often "that one", "two bills".
NUMBER_WORDS_ALONE_LEAD = [w for w in NUMBER_WORDS_LEAD if w.endswith(("ty", "teen")) or w == "eleven"]
# Share-of-the-bill phrases: payments/ decides what "half" or "the full amount" means. "The rest" or
# "what I owe" are left unmarked on purpose: without an amount the draft pays what is owed. So is
# "everything": it names every open bill far more often than the whole of one ("pay everything
# that's due", "clear everything i owe"), and the whole of one is what a draft pays anyway.
SHARE_PHRASES = [
    "half",
    "the full balance",
    "full balance",
    "the whole balance",
    "the entire balance",
    "the entire amount",
    "half of it",
    "the full amount",
    "full amount",
    "the whole amount",
    "whole amount",
    "the whole thing",
    "the whole bill",
    "the total",
    "all of it",
    "it all",
    "in full",
]
# Words that end a business name ("NYE Events Ltd"): the capitalised words before them are a biller.
COMPANY_WORDS = [
    "ltd", "limited", "llc", "inc", "plc", "gmbh", "club", "events", "design", "designs", "services",
    "group", "studio", "studios", "dental", "cafe", "bar", "farm", "hotel", "school", "society", "trust",
    "garage", "salon", "gym", "co", "company", "partners", "associates", "agency", "solutions",
]  # fmt: skip
COUNTED_NOUNS = [
    "grandkids",
    "grandchildren",
    "kids",
    "children",
    "bill",
    "bills",
    "payment",
    "payments",
    "transaction",
    "transactions",
    "invoice",
    "invoices",
    "time",
    "times",
    "item",
    "items",
    "account",
    "accounts",
    "card",
    "cards",
    "people",
    "person",
    "hours",
    "hour",
    "minutes",
    "minute",
    "mins",
    "days",
    "day",
    "weeks",
    "week",
    "months",
    "month",
    "years",
    "year",
    "am",
    "pm",
    "digits",
    "messages",
    "bots",
    # Things a bill counts (issue 11, dev5: "£60 for 3 visits", "the MOT and 2 tyres").
    "visits",
    "visit",
    "tyres",
    "tires",
    "sessions",
    "lessons",
    "classes",
    "tickets",
    "kids",
    "children",
    "nights",
    "rooms",
    "cars",
    "phones",
    "lines",
    "users",
    "members",
    "bins",
    "meters",
    "properties",
    "flats",
    "parcels",
    "packages",
    "pets",
    "dogs",
    "cats",
    "hrs",
    "hr",
    "taps",
    "radiators",
    "windows",
    "doors",
    "boxes",
    "bags",
    "loads",
    "trips",
    "appointments",
    "treatments",
    "tanks",
    "panels",
]
# Words between a number and what it counts ("3 open bills", "5 most recent payments").
COUNT_ADJECTIVES = [
    "open", "unpaid", "outstanding", "pending", "due", "overdue", "scheduled", "recent", "latest", "last",
    "previous", "past", "more", "other", "separate", "different", "upcoming", "old", "new", "monthly",
    "failed",
]  # fmt: skip
NAMING_WORDS = [
    "number",
    "nr",
    "nr.",
    "#",
    "ref",
    "reference",
    "account",
    "acct",
    "customer",
    "invoice",
    "id",
    "order",
    "contract",
    "policy",
    "meter",
    "ending",
    "pin",
    "code",
    "last",
    "first",
    "top",
    "past",
    "previous",
    "recent",
    "at",
    "page",
    "option",
    "step",
    "version",
    "room",
    "flat",
    "apartment",
    "apt",
    "unit",
    "since",
    "during",
    "year",
    "acc",
    "client",
    "postcode",
    "zip",
    "tel",
]
YEAR = r"^(19|20)\d\d$"

WEEKDAYS = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "thu",
    "thur",
    "thurs",
    "fri",
    "wed",
    "weds",
]
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    # spaCy keeps the dot of these abbreviations in the token ("due 14 Dec.").
    "jan.",
    "feb.",
    "mar.",
    "apr.",
    "jun.",
    "jul.",
    "aug.",
    "sep.",
    "sept.",
    "oct.",
    "nov.",
    "dec.",
]
# A month is a date on its own only by its full name ("in march"); "may" is also a verb and
# abbreviations are also words, so those count only next to a day number.
MONTHS_ALONE = [m for m in MONTHS[:12] if m != "may"]
RELATIVE_DAYS = [
    "today",
    "tonight",
    "tomorrow",
    "tmrw",
    "tmr",
    "tmw",
    "tomorow",
    "tommorow",
    "tommorrow",
    "2day",
    "2moro",
    "2morrow",
    "yesterday",
    # Chat spellings of tomorrow and tonight (UK "tmoz", "tomoz"; Australian "tomo").
    "tmoz",
    "tomoz",
    "tmoro",
    "tmrow",
    "2mrw",
    "2moz",
    "tomo",
    "tonite",
    "2nite",
    "2night",
]
TIMES_OF_DAY = ["morning", "afternoon", "evening", "night", "noon", "am", "pm", "arvo"]
# Fixed-date holidays people pay around (payments.dates.HOLIDAYS reads them).
HOLIDAY_WORDS = ["christmas", "xmas", "boxing"]
# Weekday abbreviations that are also English words: a day only after a word of time ("on sat").
WEEKDAY_WORDS_WITH_QUALIFIER = ["sat", "sun"]
ORDINAL = "^([1-9\uff11-\uff19]|[12\uff11\uff12]\\d|[3\uff13][01\uff10\uff11])(st|nd|rd|th)$"
ORDINAL_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "thirtieth",
    "last",
]
# Days said aloud past the twentieth: "twenty eighth", "thirty first" (two tokens, or one with a hyphen).
UNIT_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
# Ordinals that are days with only "the" before them: past the tenth. "The first", "the fifth", "the
# last" count things too ("the first payment failed"): they are days only after "on" or with a month.
DAY_ORDINAL_WORDS = ORDINAL_WORDS[ORDINAL_WORDS.index("eleventh") : ORDINAL_WORDS.index("last")]
# Full-width digits ("\uff11\uff13 dec", typed on a CJK keyboard) are days as ASCII ones are; the readers
# normalise them (NFKC) before reading the day.
DAY_NUMBER = (
    "^([1-9\uff11-\uff19]|[0\uff10][1-9\uff11-\uff19]|[12\uff11\uff12]\\d|[3\uff13][01\uff10\uff11])$"
)
SLASH_DATE = r"^(?!24/7$)\d{1,2}/\d{1,2}(/(\d{2}|\d{4}))?$"  # "24/7" is round the clock
DOTTED_DATE_FULL = r"^\d{1,2}\.\d{1,2}\.(\d{2}|\d{4})$"
MONTH_NUMBER = r"^(0?[1-9]|1[0-2])$"
YEAR_DIGITS = r"^(\d{2}|\d{4})$"
DOTTED_DATE_SHORT = r"^(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.?$"
COUNTS = ["a", "an", "one", "two", "three", "four", "five", "six", "seven", "ten", "couple", "few"]
UNITS = ["day", "days", "week", "weeks", "month", "months", "wk", "wks", "fortnight"]
# Words after which a short dotted "15.12." is a day, not money (day-first writers: "pay rent the 1.2.").
PREPOSITIONS = ["on", "by", "before", "until", "till", "from", "am", "the", "at", "for", "due", "date"]


# --- token helpers --------------------------------------------------------------------------------


def _in(words: list[str], op: str | None = None) -> dict[str, Any]:
    token: dict[str, Any] = {"LOWER": {"IN": words}}
    if op:
        token["OP"] = op
    return token


def _re(pattern: str, op: str | None = None) -> dict[str, Any]:
    token: dict[str, Any] = {"LOWER": {"REGEX": pattern}}
    if op:
        token["OP"] = op
    return token


def _word(word: str, op: str | None = None) -> dict[str, Any]:
    token: dict[str, Any] = {"LOWER": word}
    if op:
        token["OP"] = op
    return token


def _phrase(text: str) -> Pattern:
    return [_word(word) for word in text.split()]


_NUM = _re(NUMBER)
_NUM_K = _re(NUMBER_K)
_ANY_NUM = _re(f"^(?:{NUMBER[1:-1]}|{NUMBER_K[1:-1]})$")  # either form, one token
_SYMBOL = _in(CURRENCY_SYMBOLS)
_SIGN = {"ORTH": {"IN": list(SIGN_CHARS)}}
# One-token markers after a number: every currency word, code, sub-unit word and symbol.
_MARKERS_AFTER = sorted({*CURRENCY_WORDS, *CURRENCY_SYMBOLS, *BABEL_WORDS, *BABEL_SYMBOLS} - {"fr."})
# Before a number only markers that are not English words: symbols with a non-letter, codes.
_MARKERS_BEFORE = sorted(
    {m for m in {*CURRENCY_SYMBOLS, *BABEL_SYMBOLS} if not (m.isascii() and m.isalpha()) or len(m) >= 3}
    | {w for w in BABEL_WORDS if len(w) == 3 and w.upper() in ISO_CODES}
    | set(CURRENCY_CODES)
)
# Symbols written with a final dot ("Fr.", "kr.", "Rs.") are two tokens.
_DOTTED = sorted({m[:-1] for m in {*CURRENCY_SYMBOLS, *BABEL_SYMBOLS} if m.endswith(".") and len(m) > 1})
_MARK = _in(_MARKERS_AFTER)
_SUBUNIT = _in(list(SUBUNIT_WORDS))
_DOT = {"ORTH": "."}
_THE = _word("the", "?")
_MONTH = _in(MONTHS)
_ORDINAL = _re(ORDINAL)


def amount_rules() -> list[Rule]:
    """Money as written in chat."""
    rules = [
        Rule("symbol before", AMOUNT, [_SYMBOL, _ANY_NUM], ("$20", "€ 45.20", "£64", "$1,200", "€1.5k")),
        Rule("symbol after", AMOUNT, [_ANY_NUM, _SYMBOL], ("950€", "87,40 €", "3000 ¥")),
        Rule(
            "currency word after",
            AMOUNT,
            [_ANY_NUM, _in(CURRENCY_WORDS)],
            ("52 bucks", "96.50 USD", "3000 yen"),
        ),
        Rule(
            "currency code before",
            AMOUNT,
            [_in(CURRENCY_CODES), _ANY_NUM],
            ("USD 96.50", "EUR 45", "eur 1.5k"),
        ),
        Rule(
            "k written apart",
            AMOUNT,
            [_NUM, _in(["k"]), _in(CURRENCY_WORDS + CURRENCY_SYMBOLS, "?")],
            ("1.5 K", "2 k eur"),
        ),
        Rule("glued", AMOUNT, [_re(GLUED_MONEY)], ("45.20eur", "EUR45", "40euros", "2k$", "20e")),
        Rule(
            "number words with a currency",
            AMOUNT,
            [_in(NUMBER_WORDS_LEAD), _in(NUMBER_WORDS, "*"), _in(CURRENCY_WORDS)],
            ("forty dollars", "a hundred euros", "twenty-five dollars", "one hundred and twenty euros"),
        ),
        Rule(
            "number words alone",
            AMOUNT,
            [_in(NUMBER_WORDS_ALONE_LEAD), _in(NUMBER_WORDS, "*")],
            ("fifty", "twenty five", "sixty-five"),
            weak=True,
        ),
        # A bare number is an amount too ("make it 40", "pay 20 on the gas bill"), unless a date or
        # money rule took it already, or a longer BLOCK rule says what else it is.
        Rule(
            "spoken number led by a unit",
            AMOUNT,
            [_in(SPOKEN_LEAD), _in(["hundred", "thousand", *TENS_WORDS]), _in(NUMBER_WORDS, "*")],
            ("a hundred and twenty", "twelve hundred", "six forty", "nine ninety five", "one hundred twenty"),
            weak=True,
        ),
        Rule(
            "number words with a currency and cents",
            AMOUNT,
            [
                _in(NUMBER_WORDS_LEAD),
                _in(NUMBER_WORDS, "*"),
                _in(CURRENCY_WORDS),
                _word("and", "?"),
                _in(NUMBER_WORDS_LEAD),
                _in(NUMBER_WORDS, "*"),
                _SUBUNIT,
            ],
            ("ninety two dollars and forty cents", "five euros fifty cents", "forty euros and five cents"),
        ),
        Rule(
            "number words with a currency, then the cents",
            AMOUNT,
            [
                _in(NUMBER_WORDS_LEAD),
                _in(NUMBER_WORDS, "*"),
                _in(CURRENCY_WORDS),
                _in(TENS_WORDS),
                _in(UNIT_WORDS, "?"),
            ],
            ("sixty seven pounds fifty", "forty two dollars ninety nine"),
        ),
        Rule(
            "two-letter symbol before",
            AMOUNT,
            [_in(LETTER_SYMBOLS_BEFORE), _ANY_NUM],
            ("Rs 1,450", "Fr 39", "kr 450", "SFr 20"),
        ),
        Rule(
            "bare number",
            AMOUNT,
            [_re(BARE_NUMBER)],
            ("40", "39.99", "61,20", "1,200", "-20", "54,-"),
            weak=True,
        ),
        Rule("bare k", AMOUNT, [_NUM_K], ("1.5k", "2k", "1,5k")),
        # A sign in words keeps the span whole, so the core refuses it as not positive (the bare
        # number alone would pay 20).
        Rule(
            "sign in words",
            AMOUNT,
            [_in(SIGN_WORDS), _ANY_NUM, _in(CURRENCY_WORDS + CURRENCY_SYMBOLS, "?")],
            ("minus 20", "negative 5 euros", "minus 1.5k"),
        ),
    ]
    rules += currency_marker_rules()
    rules += [Rule(f"share: {p}", AMOUNT, _phrase(p), (p,)) for p in SHARE_PHRASES]
    rules += slang_amount_rules()
    return rules


# Money slang for banknotes and thousands (payments.number_words.money_slang reads them).
NOTE_SLANG = ["fiver", "tenner"]


def slang_amount_rules() -> list[Rule]:
    """Issue 11: amounts in words people say ("a fiver", "two grand", "ninety nine pence",
    "87 pounds 40")."""
    return [
        Rule("banknote slang", AMOUNT, [_in(["a", "one"], "?"), _in(NOTE_SLANG)], ("a fiver", "tenner")),
        Rule(
            "grand",
            AMOUNT,
            [_in(["a", *NUMBER_WORDS_LEAD]), _in(NUMBER_WORDS, "*"), _word("grand")],
            ("a grand", "two grand", "twenty five grand"),
        ),
        Rule(
            "grand in digits", AMOUNT, [_re(r"^\d{1,3}([.,]\d)?$"), _word("grand")], ("2 grand", "1.5 grand")
        ),
        Rule(
            "grand in digits after a symbol",
            AMOUNT,
            [_SYMBOL, _re(r"^\d{1,3}([.,]\d)?$"), _word("grand")],
            ("\u00a31.5 grand", "$2 grand"),
        ),
        Rule(
            "number words with a sub-unit",
            AMOUNT,
            [_in(NUMBER_WORDS_LEAD), _in(NUMBER_WORDS, "*"), _SUBUNIT],
            ("ninety nine pence", "fifty cents", "twenty-five cents"),
        ),
        Rule(
            "currency word, then the cents",
            AMOUNT,
            [
                _NUM,
                _in(["pounds", "pound", "dollars", "dollar", "euros", "euro", "bucks", "quid"]),
                _re(r"^\d\d$"),
            ],
            ("87 pounds 40", "12 dollars 99"),
        ),
    ]


def currency_marker_rules() -> list[Rule]:
    """Everything that changes what an amount means stays inside its span: a sign written as any
    dash, a currency babel knows (symbol, code or name, before or after), a sub-unit word, exponent
    notation. The core then refuses what it cannot pay as written instead of reading a bare number."""
    any_num = _re(f"^(?:{NUMBER[1:-1]}|{NUMBER_K[1:-1]}|{NUMBER_EXP[1:-1]})$")
    mark_after = _in(_MARKERS_AFTER, "?")
    rules = [
        Rule(
            "currency marker after",
            AMOUNT,
            [any_num, _MARK],
            ("20 rupees", "20 zł", "20 ₺", "20 R$", "500 RUB", "20 rubles", "20 pesos", "20 kr"),
        ),
        Rule(
            "code in capitals after",
            AMOUNT,
            [any_num, {"TEXT": {"IN": WORD_LIKE_CODES_UPPER}}],
            ("20 TRY",),
        ),
        Rule("dotted symbol after", AMOUNT, [any_num, _in(_DOTTED), _DOT], ("20 Fr.", "20 kr.", "500 Rs.")),
        Rule(
            "currency marker before",
            AMOUNT,
            [_in(_MARKERS_BEFORE), any_num],
            ("₽20", "RUB 500", "R$ 20", "zł 20"),
        ),
        Rule("dotted symbol before", AMOUNT, [_in(_DOTTED), _DOT, any_num], ("Fr. 20", "Rs. 500")),
        Rule(
            "sub-unit",
            AMOUNT,
            [any_num, mark_after, _SUBUNIT],
            ("20 euro cents", "50 cents", "30 pence", "20 dollar cents"),
        ),
        Rule(
            "sign",
            AMOUNT,
            [_SIGN, _in(_MARKERS_BEFORE, "?"), any_num, mark_after],
            ("\u201320", "- 20", "-€5", "\u2014 5 euros", "\u221220", "+20", "\u2013€5"),
        ),
        Rule("sign after a marker", AMOUNT, [_in(_MARKERS_BEFORE), _SIGN, any_num], ("€ -5", "EUR \u2013 5")),
        Rule("exponent", AMOUNT, [_re(NUMBER_EXP), mark_after], ("1e3", "2.5E2", "1e3 euros")),
        Rule("malformed number", AMOUNT, [_re(NUMBER_MALFORMED)], ("12.345.67", "1,2,3"), weak=True),
    ]
    # Names whose words are all letters: "bosnia-herzegovina convertible mark" tokenizes apart (its
    # last word alone is a marker when it is not an English word).
    for name in (n for n in BABEL_NAMES if all(word.isalpha() for word in n.split())):
        rules.append(Rule(f"name: {name}", AMOUNT, [any_num, *map(_word, name.split())], (f"20 {name}",)))
    return rules


# Words that call a request off: "the whole thing" or "it all" after them is the request, not money.
CALL_OFF_WORDS = ["forget", "cancel", "scrap", "scratch", "drop", "abort", "stop", "skip", "nvm"]


def block_rules() -> list[Rule]:
    """Numbers that are not money: counts, names and numbers of things, years, times; and the
    share phrases when they name a request called off ("forget the whole thing")."""
    return [
        # A number joined to a word or number by a hyphen is part of a code ("88214-003", "INV-2024-001"),
        # not a negative amount; a sign after a space still is ("pay -20").
        Rule(
            "hyphenated code",
            BLOCK,
            [
                {"TEXT": {"REGEX": r"\w$"}, "SPACY": False},
                {"ORTH": {"IN": ["-", "\u2013"]}, "SPACY": False},
                _re(r"^\d+$"),
            ],
            ("88214-003", "INV-2024-001"),
        ),
        Rule(
            "hyphenated code, three groups",
            BLOCK,
            [
                {"TEXT": {"REGEX": r"\w$"}, "SPACY": False},
                {"ORTH": {"IN": ["-", "\u2013"]}, "SPACY": False},
                {"TEXT": {"REGEX": r"^(?!\d{1,2}$)\w+$"}, "SPACY": False},  # not an ISO date's month
                {"ORTH": {"IN": ["-", "\u2013"]}, "SPACY": False},
                _re(r"^\d+$"),
            ],
            ("6629-112-04",),
        ),
        Rule(
            "hyphenated code, one token",
            BLOCK,
            [{"TEXT": {"REGEX": r"\w$"}, "SPACY": False}, _re(r"^[-\u2013]\d+$")],
            ("88214-003", "INV-2024-001"),
        ),
        # "the 3rd time they've emailed me": an ordinal counting, not a day.
        Rule(
            "ordinal count",
            BLOCK,
            [
                _THE,
                _ORDINAL,
                _in(["time", "times", "attempt", "try", "reminder", "email", "letter", "notice", "call"]),
            ],
            ("the 3rd time", "2nd reminder"),
        ),
        Rule(
            "called off",
            BLOCK,
            [
                _in(CALL_OFF_WORDS),
                _in(["the", "about"], "?"),
                _in(["whole", "it", "all"]),
                _in(["thing", "all", "of"]),
                _word("it", "?"),
            ],
            ("forget the whole thing", "cancel it all", "scrap the whole thing", "forget about it all"),
        ),
        Rule("counted", BLOCK, [_NUM, _in(COUNTED_NOUNS)], ("2 bills", "5 payments", "3 times"), weak=True),
        Rule(
            "counted, described",
            BLOCK,
            [_NUM, _word("most", "?"), _in(COUNT_ADJECTIVES), _in(COUNTED_NOUNS)],
            ("3 open bills", "5 most recent payments", "2 unpaid invoices"),
            weak=True,
        ),
        Rule(
            "some of them",
            BLOCK,
            [
                _NUM,
                _in(["of", "out"]),
                _word("of", "?"),
                _in(["them", "these", "those", "my", *map(str, range(2, 10))]),
            ],
            ("2 of them", "3 out of 4", "1 of my"),
            weak=True,
        ),
        Rule("percentage", BLOCK, [_NUM, _in(["%", "percent", "pct"])], ("15%", "50 percent"), weak=True),
        Rule(
            "named number",
            BLOCK,
            [_in(NAMING_WORDS), _NUM],
            ("number 55102", "last 5", "#12", "at 5"),
            weak=True,
        ),
        Rule("number abbreviated", BLOCK, [_word("no"), _DOT, _NUM], ("no. 88213",), weak=True),
        # Account, phone and reference numbers written in groups ("1200 4471 09", "07700 900461").
        Rule(
            "digit groups", BLOCK, [_NUM, _NUM, _re(NUMBER, "*")], ("1200 4471 09", "5531 0098 2"), weak=True
        ),
        Rule(
            "named digit groups",
            BLOCK,
            [_in(NAMING_WORDS), _NUM, _NUM, _re(NUMBER, "*")],
            ("ref 5531 0098 2", "account 1200 4471 09"),
            weak=True,
        ),
        Rule(
            "percentage of",
            BLOCK,
            [_NUM, _in(["%", "percent", "pct"]), _word("of"), _SYMBOL, _NUM],
            ("15% of $240",),
            weak=True,
        ),
        Rule(
            "percentage of a number",
            BLOCK,
            [_NUM, _in(["%", "percent", "pct"]), _word("of"), _NUM],
            ("15% of 240",),
            weak=True,
        ),
        Rule("ending in", BLOCK, [_word("ending"), _word("in"), _NUM], ("ending in 4242",), weak=True),
        # A year after "in" is a period ("what did i pay in 2025": a date, date_rules); after "of" a
        # year is part of a longer date or a name, never money.
        Rule("year", BLOCK, [_word("of"), _re(YEAR)], ("of 2025",), weak=True),
        Rule("clock time", BLOCK, [_re(r"^\d{1,2}:\d\d$")], ("10:30",), weak=True),
        *more_block_rules(),
    ]


# Verbs after which "2" is "to" ("i need 2 pay virgin").
TO_VERBS = ["pay", "do", "see", "check", "get", "make", "cancel", "know", "be", "go", "sort", "set"]


def more_block_rules() -> list[Rule]:
    """Issue 11: more numbers that are not money, and dates that are not a day to pay on."""
    return [
        Rule(
            "named number, then is",
            BLOCK,
            [_in(NAMING_WORDS), _in(["number", "no", "nr", "num"], "?"), _in(["is", "was", ":", "="]), _NUM],
            ("reference number is 88102", "ref is 5566", "account: 1200"),
            weak=True,
        ),
        Rule(
            "age",
            BLOCK,
            [_in(["i", "im"]), _in(["am", "'m", "\u2019m"], "?"), _NUM, _word("and", "?")],
            ("I am 84",),
            weak=True,
        ),
        Rule("aged", BLOCK, [_in(["aged", "age"]), _NUM], ("aged 84",), weak=True),
        Rule("two for to", BLOCK, [_word("2"), _in(TO_VERBS)], ("2 pay",), weak=True),
        Rule(
            "all of a count",
            BLOCK,
            [_in(["all", "both", "those", "these"]), _re(r"^[2-9]$")],
            ("all 3",),
            weak=True,
        ),
        Rule(
            "asking the total",
            BLOCK,
            [
                _in(["what", "whats", "how"]),
                _in(["'s", "\u2019s", "is", "was", "much"], "?"),
                _word("is", "?"),
                _word("the"),
                _word("total"),
            ],
            ("what's the total", "how much is the total"),
        ),
        Rule(
            "signing off for the day",
            BLOCK,
            [_in(["all", "it", "that", "enough"]), _word("for"), _in(["today", "tonight", "now"])],
            ("all for today", "it for today"),
        ),
        # A capitalised name ending in a company word is a biller, not a date ("NYE Events Ltd", "Boxing
        # Day Club", "the Wed Design invoice"; spaCy splits "Wed" into "We" "d"), nor "Tomo" a tomorrow.
        Rule(
            "a business name",
            BLOCK,
            [
                {"TEXT": {"REGEX": r"^[A-Z]"}},
                {"TEXT": {"REGEX": r"^([A-Z]|d$|'s$)"}, "OP": "*"},
                {"TEXT": {"REGEX": r"^[A-Z]"}, "LOWER": {"IN": COMPANY_WORDS}},
            ],
            ("NYE Events Ltd", "Boxing Day Club", "Wed Design"),
        ),
        Rule("a name like tomo", BLOCK, [{"ORTH": {"IN": ["Tomo", "Tomoz"]}}], ("Tomo",)),
        # "12 Grand Ave", "2 Grand Parade Dental": an address, not thousands.
        Rule(
            "grand in an address",
            BLOCK,
            [_NUM, _word("grand"), {"TEXT": {"REGEX": r"^[A-Z]"}}],
            ("12 Grand Ave", "2 Grand Parade"),
        ),
        # "christmas 2027", "new year's eve 2027": the year belongs to the holiday, not an amount. The
        # readers take no year with a holiday, so the whole is not a date either: the user is asked.
        Rule(
            "a holiday with a year",
            BLOCK,
            [
                _in(["on", "by", "before", "till", "until", "for", "at"], "?"),
                _in(["christmas", "xmas", "x-mas", "boxing", "new", "nye", "nyd", "hogmanay"]),
                _in(["year", "years", "yr", "yrs"], "?"),
                _in(["'s", "\u2019s", "s"], "?"),
                _in(["eve", "day"], "?"),
                _re(r"^(19|20)\d\d$"),
            ],
            ("christmas 2027", "on new year's eve 2027"),
        ),
        # A date with an offset the rules cannot read ("the day before christmas", "a week on the 20th",
        # "2 weeks on friday"): marked whole as not a date, so no day is drafted and the user is asked,
        # rather than the bare holiday or day being marked and the offset lost (attack23).
        Rule(
            "offset before or after a holiday",
            BLOCK,
            [
                _in(COUNTS + [str(n) for n in range(1, 32)] + ["the", "that"], "?"),
                _in([*UNITS, "fortnights", *WEEKDAYS]),
                _in(["before", "after"]),
                _in(["christmas", "xmas", "x-mas", "boxing", "new", "nye", "nyd", "hogmanay"]),
                _in(["year", "years", "yr", "yrs"], "?"),
                _in(["'s", "\u2019s", "s"], "?"),
                _in(["eve", "day"], "?"),
            ],
            ("the day before christmas", "two days after boxing day", "the friday before christmas eve"),
        ),
        Rule(
            "weeks on from a holiday or a day of the month",
            BLOCK,
            [
                _in(COUNTS + [str(n) for n in range(1, 32)]),
                _in(["week", "weeks", "wk", "wks", "fortnight", "fortnights", "day", "days"]),
                _in(["on", "from", "after"]),
                _THE,
                {"LOWER": {"REGEX": f"{ORDINAL}|{DAY_NUMBER}|^(christmas|xmas|x-mas|boxing|nye|nyd)$"}},
                _in(["eve", "day", "of"], "?"),
                _in(MONTHS, "?"),
            ],
            ("a week on the 20th", "a week on christmas eve", "two weeks from the 5th of december"),
        ),
        Rule(
            "weeks on from a weekday",
            BLOCK,
            [
                _in([c for c in COUNTS if c not in ("a", "an", "one")] + [str(n) for n in range(2, 32)]),
                _in(["weeks", "wks", "fortnights", "days"]),
                _in(["on", "from", "after"]),
                _in([*WEEKDAYS, "today", "tomorrow", "tmrw"]),
            ],
            ("2 weeks on friday", "two weeks from monday"),
        ),
        Rule(
            "see you",
            BLOCK,
            [
                _in(["see", "talk", "speak", "catch"]),
                _in(["you", "ya", "u"]),
                _in(["next", "this", "on"], "?"),
                _in(["month", "week", "tomorrow", "tmrw", "weekend", *WEEKDAYS]),
            ],
            ("see you next month", "talk to you tomorrow"),
        ),
    ]


def date_rules() -> list[Rule]:
    """Dates as written in chat (the span starts at the date, not at "on")."""
    ordinal_word = _in(ORDINAL_WORDS)
    day = {"TEXT": {"REGEX": DAY_NUMBER}}
    year = {"TEXT": {"REGEX": YEAR}, "OP": "?"}
    time_of_day = _in(TIMES_OF_DAY, "?")
    return [
        Rule(
            "relative day",
            DATE,
            [_in(RELATIVE_DAYS), time_of_day],
            ("tomorrow", "tmrw", "tonight", "tomorrow morning"),
        ),
        Rule(
            "day after tomorrow",
            DATE,
            [_THE, _word("day"), _word("after"), _in(["tomorrow", "tmrw", "tomorow"])],
            ("the day after tomorrow", "day after tomorrow"),
        ),
        Rule(
            "weekday",
            DATE,
            [_in(["next", "this", "coming", "last"], "?"), _in(WEEKDAYS), time_of_day],
            ("friday", "next monday", "this friday", "thurs", "friday evening"),
        ),
        Rule(
            "this coming weekday",
            DATE,
            [_word("this"), _word("coming"), _in(WEEKDAYS)],
            ("this coming friday",),
        ),
        Rule(
            "weekday next week",
            DATE,
            [_in(WEEKDAYS), _in(["next", "this"]), _word("week")],
            ("friday next week", "friday this week"),
        ),
        Rule(
            "week, month, year",
            DATE,
            [_in(["next", "this", "last"]), _in(["week", "wk", "month", "weekend", "year"])],
            ("next week", "this weekend", "next month", "last month", "this year", "next wk"),
        ),
        Rule("the weekend", DATE, [_word("the"), _word("weekend")], ("the weekend",)),
        Rule(
            "end of a period",
            DATE,
            [_THE, _word("end"), _word("of"), _in(["the", "this", "next"], "?"), _in(["month", "week"])],
            (
                "end of the month",
                "the end of the month",
                "end of month",
                "end of next month",
                "end of the week",
            ),
        ),
        Rule(
            "start of next month",
            DATE,
            [_THE, _in(["start", "beginning"]), _word("of"), _in(["next", "the"]), _word("month")],
            ("the start of next month", "beginning of next month"),
        ),
        Rule(
            "day of next month",
            DATE,
            [
                _THE,
                _re(f"^(?:{ORDINAL[1:-1]}|{'|'.join(ORDINAL_WORDS)})$"),
                _word("of"),
                _in(["next", "the", "this"]),
                _word("month"),
            ],
            (
                "the first of next month",
                "the 1st of next month",
                "the 5th of the month",
                "first of the month",
            ),
        ),
        Rule("ordinal", DATE, [_THE, _ORDINAL], ("the 3rd", "the 15th", "1st")),
        # A day written without its ordinal ending, after a preposition of time ("by the 3", "on the 15").
        Rule(
            "day number after a preposition",
            DATE,
            [_in(["on", "by", "before", "until", "till", "due"]), _word("the"), day],
            ("on the 15", "by the 3", "before the 28"),
        ),
        Rule("end of month shorthand", DATE, [_in(["eom", "eow"])], ("EOM", "eow")),
        Rule(
            "spoken day",
            DATE,
            [_word("the"), _in(["twenty", "thirty"]), _in(UNIT_ORDINALS)],
            ("the twenty eighth", "the thirty first", "the twenty second"),
        ),
        Rule(
            "spoken day past the tenth",
            DATE,
            [_word("the"), _in(DAY_ORDINAL_WORDS)],
            ("the eleventh", "the fifteenth"),
        ),
        Rule(
            "spoken day, hyphenated",
            DATE,
            [_THE, _in(["twenty", "thirty"]), {"ORTH": "-"}, _in(UNIT_ORDINALS)],
            ("the twenty-eighth", "thirty-first"),
        ),
        Rule(
            "spoken day of a month",
            DATE,
            [
                _THE,
                _in(["twenty", "thirty"], "?"),
                _in(ORDINAL_WORDS + UNIT_ORDINALS),
                _word("of"),
                _MONTH,
                year,
            ],
            ("the twenty eighth of december", "twenty first of march", "the eleventh of june 2027"),
        ),
        Rule(
            "month, spoken day",
            DATE,
            [_MONTH, _THE, _in(["twenty", "thirty"], "?"), _in(ORDINAL_WORDS + UNIT_ORDINALS), year],
            ("december twenty eighth", "march the first", "june thirtieth"),
        ),
        Rule(
            "ordinal of a month",
            DATE,
            [_THE, _ORDINAL, _word("of", "?"), _MONTH, year],
            ("3rd of may", "the 5th of december", "1st june"),
        ),
        Rule(
            "ordinal word of a month",
            DATE,
            [_THE, ordinal_word, _word("of"), _MONTH],
            ("the first of march", "the last of may"),
        ),
        Rule(
            "on the ordinal word",
            DATE,
            [_word("on"), _word("the"), ordinal_word],
            ("on the first", "on the last"),
        ),
        Rule("month ordinal", DATE, [_MONTH, _THE, _ORDINAL, year], ("may 3rd", "december the 5th")),
        Rule(
            "month day",
            DATE,
            [_MONTH, day, {"TEXT": ",", "OP": "?"}, year],
            ("Dec 3", "march 1", "june 20 2027"),
        ),
        Rule("day month", DATE, [day, _MONTH, year], ("20 june", "3 dec")),
        Rule("month alone", DATE, [_in(MONTHS_ALONE)], ("march", "December")),
        Rule("slash date", DATE, [{"TEXT": {"REGEX": SLASH_DATE}}], ("12/15", "15/12/2026")),
        Rule(
            "dotted date with year",
            DATE,
            [{"TEXT": {"REGEX": DOTTED_DATE_FULL}}],
            ("15.12.2026", "30.11.2026"),
        ),
        Rule(
            "dotted date after a preposition",
            DATE,
            [_in(PREPOSITIONS), {"TEXT": {"REGEX": DOTTED_DATE_SHORT}}, {"TEXT": ".", "OP": "?"}],
            ("on 01.06.", "by 15.12", "the 1.2.", "for 15.12.", "date 30.11."),
        ),
        # spaCy splits "15-12-2026" at each hyphen.
        Rule(
            "dashed date",
            DATE,
            [
                day,
                {"ORTH": "-"},
                {"TEXT": {"REGEX": MONTH_NUMBER}},
                {"ORTH": "-"},
                {"TEXT": {"REGEX": YEAR_DIGITS}},
            ],
            ("15-12-2026", "03-12-26"),
        ),
        Rule(
            "ISO date",
            DATE,
            [
                {"TEXT": {"REGEX": r"^\d{4}$"}},
                {"TEXT": "-"},
                {"TEXT": {"REGEX": r"^\d{1,2}$"}},
                {"TEXT": "-"},
                {"TEXT": {"REGEX": r"^\d{1,2}$"}},
            ],
            ("2026-12-03",),
        ),
        Rule(
            "in a while",
            DATE,
            [
                _word("in"),
                _in(["a"], "?"),
                _in(COUNTS + [str(n) for n in range(1, 32)]),
                _word("of", "?"),
                _in(UNITS),
            ],
            ("in two weeks", "in 3 days", "in a week", "in a couple of days", "in a fortnight"),
        ),
        Rule(
            "a while from now",
            DATE,
            [_in(COUNTS + [str(n) for n in range(1, 32)]), _in(UNITS), _word("from"), _in(["today", "now"])],
            ("a week from today", "two weeks from now", "10 days from now"),
        ),
        *more_date_rules(),
        Rule(
            "a while ago",
            DATE,
            [_in(COUNTS + [str(n) for n in range(1, 32)]), _in(UNITS), _word("ago")],
            ("3 days ago", "two weeks ago"),
        ),
    ]


def more_date_rules() -> list[Rule]:
    """Issue 11: holidays, "Wednesday week", "a week on Friday", "the Monday after next", parts of
    today, years as periods, "within 10 days", "Friday the 13th" (payments.dates reads each)."""
    base_day = _in([*WEEKDAYS, "today", "tomorrow", "tmrw", "tmoz", "tomoz"])
    counts = _in(COUNTS + [str(n) for n in range(1, 32)])
    return [
        Rule(
            "holiday",
            DATE,
            [_in(["christmas", "xmas", "x-mas", "boxing"]), _in(["eve", "day"])],
            ("Christmas Eve", "christmas day", "Boxing Day", "xmas eve"),
        ),
        Rule(
            "christmas after a preposition",
            DATE,
            [
                _in(["on", "by", "before", "till", "until", "for", "at"]),
                _in(["christmas", "xmas", "x-mas"]),
                _in(["eve", "day"], "?"),
            ],
            ("before christmas", "by xmas", "on Christmas Eve"),
        ),
        Rule(
            "new year",
            DATE,
            [
                _word("new"),
                _in(["year", "years", "yr", "yrs"]),
                _in(["'s", "\u2019s", "s"], "?"),
                _in(["eve", "day"]),
            ],
            ("New Year's Eve", "new years day", "new year's day"),
        ),
        Rule("new year shorthand", DATE, [_in(["nye", "nyd", "hogmanay"])], ("NYE", "hogmanay")),
        Rule(
            "weekday with a qualifier",
            DATE,
            [
                _in(["on", "by", "next", "this", "coming", "till", "until", "before"]),
                _in(WEEKDAY_WORDS_WITH_QUALIFIER),
            ],
            ("on sat", "next sun", "by sat"),
        ),
        # spaCy splits "wed" like "we'd" ("we", "d").
        Rule(
            "wed split by the tokenizer",
            DATE,
            [
                _in(["on", "by", "next", "this", "coming", "till", "until", "before"], "?"),
                _word("we"),
                _word("d"),
            ],
            ("on wed", "wed"),
        ),
        Rule(
            "a day, a week on",
            DATE,
            [base_day, _in(["week", "wk", "fortnight"])],
            ("Wednesday week", "tomorrow week", "friday fortnight"),
        ),
        Rule(
            "a week on a day",
            DATE,
            [_in(["a", "one"]), _in(["week", "wk", "fortnight"]), _in(["on", "from"], "?"), base_day],
            ("a week on Friday", "a week today", "a fortnight on monday", "a week tomorrow"),
        ),
        Rule(
            "the day after next",
            DATE,
            [_THE, _in(WEEKDAYS), _word("after"), _word("next")],
            ("the Monday after next", "friday after next"),
        ),
        Rule(
            "the week after next",
            DATE,
            [_THE, _word("week"), _word("after"), _word("next")],
            ("the week after next",),
        ),
        Rule(
            "part of today",
            DATE,
            [_word("this"), _in(["morning", "afternoon", "evening", "arvo"])],
            ("this morning", "this arvo"),
        ),
        Rule("last night", DATE, [_word("last"), _word("night")], ("last night",)),
        Rule(
            "year as a period",
            DATE,
            [_in(["in", "during", "since", "for", "from", "throughout"]), _re(YEAR)],
            ("in 2027", "during 2027"),
        ),
        Rule(
            "within a while",
            DATE,
            [_in(["in", "within", "over", "during"], "?"), _THE, _word("next"), counts, _in(UNITS)],
            ("in the next 10 days", "within the next two weeks", "over the next 3 days", "next 10 days"),
        ),
        Rule(
            "within",
            DATE,
            [_word("within"), _in(["a"], "?"), counts, _in(UNITS)],
            ("within 10 days", "within a week"),
        ),
        Rule(
            "weekday and a day of the month",
            DATE,
            [_in(WEEKDAYS), {"ORTH": ",", "OP": "?"}, _THE, _ORDINAL, _word("of", "?"), _in(MONTHS, "?")],
            ("Friday the 27th", "saturday 5th", "Tuesday, 1st December"),
        ),
        Rule(
            "weekday, day and month",
            DATE,
            [_in(WEEKDAYS), {"ORTH": ",", "OP": "?"}, {"TEXT": {"REGEX": DAY_NUMBER}}, _MONTH],
            ("Friday 18 December", "fri 4 dec"),
        ),
    ]


def all_rules() -> list[Rule]:
    """Every rule the ruler gets, amounts first."""
    return amount_rules() + block_rules() + date_rules()


def build(out: Path) -> None:
    """Create the blank English pipeline with the money/date entity ruler and save it to `out`."""
    import spacy  # imported here: the Rasa env has spaCy, the app env's linters need not load it
    from spacy.util import compile_prefix_regex, compile_suffix_regex

    nlp = spacy.blank("en")
    # "30€." and "40$!" stay one token in spaCy's defaults: split punctuation after a currency
    # symbol so the symbol, and then the number, come apart.
    suffixes = [r"(?<=[€$£¥₹])[.,!?;:)]", *nlp.Defaults.suffixes]
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    # A sign before a currency symbol is its own token ("-€5" → "-", "€", "5"), so the sign rule
    # keeps it in the span; before a digit it stays glued ("-20", matched by NUMBER).
    currency_signs = "".join(chr(c) for c in range(0x10000) if unicodedata.category(chr(c)) == "Sc")
    prefixes = [f"{SIGN}(?=[{re.escape(currency_signs)}])", *nlp.Defaults.prefixes]
    nlp.tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    for name, weak in (("entity_ruler", False), ("bare_number_ruler", True)):
        ruler = nlp.add_pipe("entity_ruler", name=name, config={"overwrite_ents": not weak})
        ruler.add_patterns(
            [{"label": r.label, "pattern": r.pattern, "id": r.name} for r in all_rules() if r.weak == weak]
        )
    nlp.meta["name"] = "paychat_rules"
    nlp.meta["description"] = "Blank English tokenizer + entity_ruler marking amount and date spans"
    out.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)


def is_fresh(out: Path) -> bool:
    """True when the saved pipeline is newer than this script and its currency vocabulary."""
    meta = out / "meta.json"
    sources = (Path(__file__), ROOT / "payments" / "currency_markers.py")
    return meta.exists() and all(meta.stat().st_mtime >= source.stat().st_mtime for source in sources)


def main(argv: list[str] | None = None) -> int:
    """Build the pipeline unless it is up to date."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    if not args.force and is_fresh(args.out):
        print(f"spaCy pipeline up to date: {args.out}")
        return 0
    build(args.out)
    print(f"spaCy pipeline written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
