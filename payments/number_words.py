"""English number words, and the shapes speech gives money and days in (issue 11, dictation).

A speech recogniser writes what was said: "a hundred and twenty", "twelve hundred", "ninety two
dollars and forty cents", "forty two fifty" (a price: 42.50, or 4,250), "the twenty eighth".
`number_from_words` reads a whole number strictly (refusing what no one says); `spoken_price_minor`
reads the two-number price shape, choosing a reading only when the bill leaves one; the other
helpers rewrite spoken shapes into the ones payments.money and payments.dates already read.
Where words become digits, text2num's `alpha2digit` does it (it groups "forty two fifty" as
"42 50" and writes "twenty eighth" as "28th"); the readings and refusals are ours.
"""

from __future__ import annotations

import re

from text_to_num import alpha2digit

from payments.errors import AmountAmbiguousError, AmountInvalidError

UNITS = {
    "zero": 0, "one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
NUMBER_WORDS = set(UNITS) | set(TENS) | set(SCALES) | {"and"}

_TENS_PATTERN = "|".join(TENS)
_UNITS_PATTERN = "|".join(w for w in UNITS if UNITS[w] and w != "a" and UNITS[w] < 10)
_BELOW_TWENTY = "|".join(w for w in UNITS if UNITS[w] and w != "a")
# "sixty seven pounds fifty", "five euros fifty cents", "forty dollars and five cents": whole units
# in words, the currency word, then the cents in words (a cents word needed below twenty).
CENTS_AFTER_CURRENCY = re.compile(
    rf"^(?P<major>[a-z]+(?:[\s-]+[a-z]+)*?)\s+(?P<currency>[a-z]+)\s+(?:and\s+)?"
    rf"(?P<minor>(?:{_TENS_PATTERN})(?:[\s-]+(?:{_UNITS_PATTERN}))?|(?:{_BELOW_TWENTY})(?=\s+cents?$))"
    rf"(?:\s+(?:cents?|pence))?$"
)


def number_from_words(words: list[str], text: str) -> int:
    """English number words as an int, refusing what no one says: "zero hundred" (a spoken zero
    before a scale), "hundred hundred", "thousand thousand" and "thousand million" (a scale word
    repeated, or a larger one after a smaller one)."""
    if not words or any(w not in NUMBER_WORDS for w in words) or words[-1] == "and" or words[0] == "and":
        raise AmountInvalidError(text=text)
    if "zero" in words and len(words) > 1:
        raise AmountInvalidError(text=text)
    total = current = 0
    last_kind = ""
    previous = ""
    big_scales: list[int] = []
    for word in words:
        if word == "and":
            continue
        if word in UNITS:
            if last_kind in ("unit", "teen"):
                raise AmountInvalidError(text=text)
            current += UNITS[word]
            last_kind = "unit"
        elif word in TENS:
            if last_kind in ("unit", "tens"):
                raise AmountInvalidError(text=text)
            current += TENS[word]
            last_kind = "tens"
        else:
            scale = SCALES[word]
            if last_kind == "scale" and not (previous == "hundred" and scale > 100):
                raise AmountInvalidError(text=text)  # "hundred hundred", "a million thousand"
            if scale == 100:
                if current >= 100:
                    raise AmountInvalidError(text=text)  # "two hundred five hundred"
                current = (current or 1) * 100
            else:
                if big_scales and scale >= big_scales[-1]:
                    raise AmountInvalidError(text=text)  # "thousand thousand", "thousand million"
                big_scales.append(scale)
                total += (current or 1) * scale
                current = 0
            last_kind = "scale"
        previous = word
    return total + current


def _price_split(words: list[str]) -> tuple[int, int] | None:
    """(42, 50) for "forty two fifty": two numbers said one after the other, the first from 1 to
    99, the second from 10 to 99 ("six forty", "nine ninety five", "twelve fifteen"); else None."""
    if "and" in words or "a" in words:
        return None
    groups = str(alpha2digit(" ".join(words), "en")).split()
    if len(groups) != 2 or not all(group.isdigit() for group in groups):
        return None
    major, minor = int(groups[0]), int(groups[1])
    return (major, minor) if 1 <= major <= 99 and 10 <= minor <= 99 else None


def spoken_price_minor(words: list[str], *, digits: int, ceiling: int | None, text: str) -> int:
    """Minor units for a spoken price: "forty two fifty" is 42.50 or 4,250.

    With cents (`digits` 2) both readings exist; the one that does not exceed `ceiling` (what is
    owed) is taken when only one does, otherwise the amount is ambiguous and refused, never guessed.
    """
    split = _price_split(words)
    if split is None:
        raise AmountInvalidError(text=text)
    major, minor = split
    hundreds = (major * 100 + minor) * int(10**digits)
    if digits != 2:
        return hundreds
    cents = major * 100 + minor
    fitting = [reading for reading in (cents, hundreds) if ceiling is not None and reading <= ceiling]
    if len(fitting) != 1:
        raise AmountAmbiguousError(text=text)
    return fitting[0]


def cents_after_currency(raw: str, currency_words: set[str]) -> str:
    """ "sixty seven pounds fifty" and "five euros fifty cents" → "... and fifty cents" (the shape
    the reader of whole units and cents in words takes); any other text unchanged."""
    match = CENTS_AFTER_CURRENCY.match(raw)
    if match is None or match["currency"] not in currency_words:
        return raw
    if not all(word in NUMBER_WORDS for word in re.split(r"[\s-]+", match["major"])):
        return raw
    return f"{match['major']} {match['currency']} and {match['minor']} cents"


# Issue 11: banknote slang ("a fiver", "a tenner": in the bill's currency, like "bucks"), thousands
# ("two grand", "1.5 grand") and cents in digits after a currency word ("87 pounds 40").
NOTES = {"fiver": 5, "tenner": 10}
WORD_SEPARATORS = r"[\s-]+"
NOTE_SLANG = re.compile(r"^(?:(?:a|one)\s+)?(fiver|tenner)$")
GRAND = re.compile(r"^(?P<symbol>[$\u00a3\u20ac]?)(?P<number>.+?)\s+grand$")  # "\u00a31.5 grand" too
DIGITS_AFTER_CURRENCY = re.compile(r"^(\d{1,7})\s+(pounds?|dollars?|euros?|bucks|quid)\s+(\d\d)$")
DIGITS_AFTER_CURRENCY_OTHER = re.compile(r"^\d[\d.,]*\s+(?:pounds?|dollars?|euros?|bucks|quid)\s+\d+$")


def money_slang(raw: str, text: str) -> str:
    """Rewrite money slang into a shape payments.money reads: "a fiver" → "5", "two grand" → "2k",
    "87 pounds 40" → "87.40 pounds"; any other text unchanged."""
    if match := NOTE_SLANG.match(raw):
        return str(NOTES[match.group(1)])
    if match := GRAND.match(raw):
        number = match["number"]
        if re.fullmatch(r"\d{1,3}(?:[.,]\d)?", number):
            return f"{match['symbol']}{number}k"
        return f"{number_from_words(re.split(WORD_SEPARATORS, number), text)}k"
    if match := DIGITS_AFTER_CURRENCY.match(raw):
        return f"{match[1]}.{match[3]} {match[2]}"
    if DIGITS_AFTER_CURRENCY_OTHER.match(raw):
        # "87 pounds 400" or "87 quid 4": not pence (two digits), and not 87,400 once the word is cut.
        raise AmountInvalidError(text=text)
    return raw


def ordinals_as_digits(text: str) -> str:
    """ "the twenty eighth" → "the 28th", "march the first" → "march the 1st", "in two weeks" →
    "in 2 weeks" (text2num; threshold 0: every number word, however small, becomes digits)."""
    return str(alpha2digit(text, "en", 0))
