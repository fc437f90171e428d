"""Build the spaCy pipeline that Rasa's SpacyNLP loads (runs in the Rasa env, spaCy 3.4).

spaCy's trained models cannot be downloaded on these machines, so the pipeline is a blank English
tokenizer plus an `entity_ruler` whose token patterns mark money spans as `amount` ("€45.20",
"45,20 €", "$1,200", "fifty dollars", "half") and date spans as `date` ("tomorrow",
"next friday", "on the 1st", "Dec 3", "in 3 days"). The spans are kept exactly as written:
turning them into minor units or calendar days is the job of `payments/`.

Usage: `.venvs/rasa/bin/python scripts/build_spacy_pipeline.py [--force] [--out DIR]`.
Rebuilding is skipped when the saved pipeline is newer than this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "rasa_project" / "spacy_pipeline"

Pattern = list[dict[str, Any]]

# Numbers as people type them: 45, 45.20, 45,20, 1,200, 1.200,50, 1 200 is not supported.
NUMBER = r"^(\d{1,3}([.,]\d{3})+|\d+)([.,]\d{1,2})?$"
CURRENCY_SYMBOLS = ["€", "$", "£"]
CURRENCY_WORDS = [
    "eur",
    "euro",
    "euros",
    "eu",
    "usd",
    "dollar",
    "dollars",
    "bucks",
    "buck",
    "gbp",
    "pound",
    "pounds",
    "quid",
    "eur.",
    "cents",
    "cent",
]
# A number glued to its currency, as one token: "45.20eur", "€45", "45€" when not split.
GLUED_MONEY = r"^([€$£]\d[\d.,]*|\d[\d.,]*(€|\$|£|eur|euro|euros|usd|bucks|gbp))$"
NUMBER_WORDS = [
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
    "fourty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "a",
    "and",
    "-",
]
# Share-of-the-bill phrases: payments/ decides what "half" or "everything" means. "The rest" or
# "what I owe" are left unmarked on purpose: without an amount the draft pays what is owed.
SHARE_PHRASES = [
    "half",
    "half of it",
    "the full amount",
    "full amount",
    "the whole amount",
    "whole amount",
    "the whole thing",
    "the whole bill",
    "everything",
    "all of it",
    "it all",
    "in full",
    "the minimum",
]

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
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
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
]
# "may" is also a verb; it counts as a month only next to a day number (patterns below).
MONTHS_ALONE = [m for m in MONTHS if m != "may" and m != "mar"]
RELATIVE_DAYS = ["today", "tonight", "tomorrow", "tmrw", "tmr", "tomorow", "tommorow", "2day", "2moro"]
ORDINAL = r"^([1-9]|[12]\d|3[01])(st|nd|rd|th)$"
DAY_NUMBER = r"^([1-9]|[12]\d|3[01])$"
NUMERIC_DATE = r"^\d{1,4}[/.]\d{1,2}([/.]\d{2,4})?\.?$"
COUNT_WORDS = ["a", "an", "one", "two", "three", "four", "five", "six", "seven", "ten", "couple"]
UNITS = ["day", "days", "week", "weeks", "month", "months", "wk", "wks"]


def _lower_in(words: list[str], op: str | None = None) -> dict[str, Any]:
    token: dict[str, Any] = {"LOWER": {"IN": words}}
    if op:
        token["OP"] = op
    return token


def amount_patterns() -> list[Pattern]:
    """Token patterns for money as written in chat."""
    number = {"TEXT": {"REGEX": NUMBER}}
    patterns: list[Pattern] = [
        [{"TEXT": {"IN": CURRENCY_SYMBOLS}}, number],
        [number, {"TEXT": {"IN": CURRENCY_SYMBOLS}}],
        [number, _lower_in(CURRENCY_WORDS)],
        [_lower_in(["eur", "usd", "gbp"]), number],
        [{"LOWER": {"REGEX": GLUED_MONEY}}],
        [_lower_in(NUMBER_WORDS, "+"), _lower_in(CURRENCY_WORDS)],
        [number, {"TEXT": "%"}],
        [number, _lower_in(["percent", "pct"])],
        # A bare number is an amount too ("make it 40"); date patterns are longer and win.
        [number],
    ]
    for phrase in SHARE_PHRASES:
        patterns.append([{"LOWER": word} for word in phrase.split()])
    return patterns


def date_patterns() -> list[Pattern]:
    """Token patterns for dates as written in chat."""
    ordinal = {"LOWER": {"REGEX": ORDINAL}}
    day_number = {"TEXT": {"REGEX": DAY_NUMBER}}
    month = _lower_in(MONTHS)
    on = _lower_in(["on", "by", "before"], "?")
    the = {"LOWER": "the", "OP": "?"}
    return [
        [on, _lower_in(RELATIVE_DAYS)],
        [
            on,
            {"LOWER": "the", "OP": "?"},
            {"LOWER": "day"},
            {"LOWER": "after"},
            _lower_in(["tomorrow", "tmrw"]),
        ],
        [on, _lower_in(["next", "this", "coming"], "?"), _lower_in(WEEKDAYS)],
        [_lower_in(["next", "this"]), _lower_in(["week", "month", "weekend"])],
        [
            {"LOWER": "the", "OP": "?"},
            {"LOWER": "end"},
            {"LOWER": "of"},
            the,
            _lower_in(["month", "week", "next"]),
            {"LOWER": "month", "OP": "?"},
        ],
        [on, the, _lower_in(["start", "beginning"]), {"LOWER": "of"}, {"LOWER": "next"}, {"LOWER": "month"}],
        [on, the, {"LOWER": "first"}, {"LOWER": "of"}, {"LOWER": "next"}, {"LOWER": "month"}],
        [on, the, ordinal],
        [on, the, ordinal, {"LOWER": "of", "OP": "?"}, month],
        [on, the, _lower_in(["first", "last"]), {"LOWER": "of"}, month],
        [on, month, _lower_in(["the"], "?"), ordinal],
        [on, month, day_number],
        [on, day_number, month],
        [on, _lower_in(MONTHS_ALONE)],
        [on, {"TEXT": {"REGEX": NUMERIC_DATE}}],
        # ISO dates are split by the tokenizer: 2026 - 12 - 03.
        [
            {"TEXT": {"REGEX": r"^\d{4}$"}},
            {"TEXT": "-"},
            {"TEXT": {"REGEX": r"^\d{1,2}$"}},
            {"TEXT": "-"},
            {"TEXT": {"REGEX": r"^\d{1,2}$"}},
        ],
        [
            {"LOWER": "in"},
            _lower_in(COUNT_WORDS + [str(n) for n in range(1, 32)]),
            {"LOWER": "of", "OP": "?"},
            _lower_in(UNITS),
        ],
        [{"LOWER": "in"}, {"TEXT": {"REGEX": r"^\d{1,2}$"}}, _lower_in(UNITS)],
        [{"LOWER": {"IN": ["a", "one"]}}, {"LOWER": "week"}, {"LOWER": "from"}, _lower_in(["today", "now"])],
    ]


def build(out: Path) -> None:
    """Create the blank English pipeline with the money/date entity ruler and save it to `out`."""
    import spacy  # imported here: the Rasa env has spaCy, the app env's linters need not load it

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    ruler.add_patterns(
        [{"label": "amount", "pattern": p} for p in amount_patterns()]
        + [{"label": "date", "pattern": p} for p in date_patterns()]
    )
    nlp.meta["name"] = "paychat_rules"
    nlp.meta["description"] = "Blank English tokenizer + entity_ruler marking amount and date spans"
    out.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)


def is_fresh(out: Path) -> bool:
    """True when the saved pipeline is newer than this script (nothing to rebuild)."""
    meta = out / "meta.json"
    return meta.exists() and meta.stat().st_mtime >= Path(__file__).stat().st_mtime


def main(argv: list[str] | None = None) -> int:
    """Build the pipeline unless it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
