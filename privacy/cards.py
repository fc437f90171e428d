"""The one card-number detector of the project: bot, console, logs, transcripts and the Rasa channel.

No card number may pass through chat, the Rasa server, transcripts or logs (DESIGN.md, safety
rules). A card number is 13 to 19 digits passing the Luhn check, written together or in groups
with anything between the groups that is neither a letter nor a digit: spaces of every kind,
newlines, tabs, dots, dashes (with or without spaces), slashes, underscores, commas. People often
type more after it ("4242 4242 4242 4242 12/27 123"), so every run of whole digit groups inside a
longer number is checked too. They also glue the expiry or CVC straight onto it
("4242424242424242123"): so a digit sequence may also be a card number followed by up to
`MAX_GLUED_DIGITS` more digits, when its 13-19 digit prefix passes Luhn AND starts in a card
issuer range (`CARD_IIN_RANGES`); the issuer check keeps long order and reference numbers from
being refused one time in two. A single unbroken run of more than 19 digits that does not start
with such a card number is not a card. Erring
towards "looks like a card" is deliberate: a wrongly refused message costs a retype, a leaked card
number costs far more.

Standard library only and Python 3.10 compatible: the Rasa environment imports it too.
"""

from __future__ import annotations

import json
import re
from typing import Any

MIN_DIGITS = 13
MAX_DIGITS = 19
CARD_PLACEHOLDER = "[card number removed]"
# An expiry (MMYY) and/or a CVC (3-4 digits) glued onto a card number: 3 to 8 more digits, onto
# a card number of at least 14 digits (13-digit cards are long retired), so that a mistyped
# 16-digit card number ("4242 4242 4242 4243") does not read as a shorter card with a CVC.
MIN_GLUED_DIGITS = 3
MAX_GLUED_DIGITS = 8
MIN_GLUED_CARD_DIGITS = 14
# Issuer identification number ranges of the card schemes (first digits, inclusive ranges of
# prefixes of equal length): Visa, Mastercard (51-55 and 2221-2720), American Express, Diners
# Club, Discover, JCB, UnionPay, Maestro. Used only for the glued form above.
CARD_IIN_RANGES: tuple[tuple[str, str], ...] = (
    ("4", "4"),
    ("51", "55"),
    ("2221", "2720"),
    ("34", "34"),
    ("37", "37"),
    ("300", "305"),
    ("36", "36"),
    ("38", "39"),
    ("6011", "6011"),
    ("644", "649"),
    ("65", "65"),
    ("3528", "3589"),
    ("62", "62"),
    ("50", "50"),
    ("56", "69"),
)

# Digit groups joined by separators: any run of characters that are neither letters nor digits.
_DIGIT_RUN = re.compile(r"\d+(?:[\W_]+\d+)*")
_GROUP = re.compile(r"\d+")
# JSON's \uXXXX escapes: Rasa `json.loads` an intent payload's entities, so "\u0034\u0032…" in
# the raw text is "42…" in the parsed message, the slots and the stored events.
_JSON_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_JSON_DECODER = json.JSONDecoder()


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)  # \d also matches non-ASCII decimal digits
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def in_card_range(digits: str) -> bool:
    """True when the digit string starts with the issuer prefix of a card scheme."""
    return any(low <= digits[: len(low)] <= high for low, high in CARD_IIN_RANGES)


def _glued_card_prefix(digits: str) -> bool:
    """True when `digits` is a card number in an issuer range followed by the digits typed onto it."""
    longest = min(MAX_DIGITS, len(digits) - MIN_GLUED_DIGITS)
    for length in range(max(MIN_GLUED_CARD_DIGITS, len(digits) - MAX_GLUED_DIGITS), longest + 1):
        prefix = digits[:length]
        if in_card_range(prefix) and luhn_valid(prefix):
            return True
    return False


def _run_holds_card(run: str) -> bool:
    """True when some sequence of whole, consecutive digit groups of `run` is a card number, or a
    card number with digits glued onto its end (`_glued_card_prefix`)."""
    groups = _GROUP.findall(run)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > MAX_DIGITS + MAX_GLUED_DIGITS:
                break
            if MIN_DIGITS <= len(digits) <= MAX_DIGITS and luhn_valid(digits):
                return True
            if _glued_card_prefix(digits):
                return True
    return False


def looks_like_card_number(text: str) -> bool:
    """True when the text contains something that looks like a payment card number."""
    return any(_run_holds_card(run.group()) for run in _DIGIT_RUN.finditer(text))


def redact_card_numbers(text: str, removed: list[str] | None = None) -> str:
    """The text with every digit run that holds a card number (expiry and CVC typed with it
    included) replaced by `CARD_PLACEHOLDER`; the rest of the text is kept. Each run replaced
    is appended to `removed` when given."""

    def replace(run: re.Match[str]) -> str:
        if not _run_holds_card(run.group()):
            return run.group()
        if removed is not None:
            removed.append(run.group())
        return CARD_PLACEHOLDER

    return _DIGIT_RUN.sub(replace, text)


def _decoded_views(text: str) -> list[str]:
    """`text` as Rasa may come to see it: JSON escapes decoded, and every string (or number) of
    each JSON value embedded in it (an `/intent{...}` payload, wherever it starts)."""
    views = [_JSON_UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)]
    for start, char in enumerate(text):
        if char not in "{[":
            continue
        try:
            value, _end = _JSON_DECODER.raw_decode(text, start)
        except ValueError:
            continue
        views.extend(_strings_of(value))
    return views


def _strings_of(value: Any) -> list[str]:
    """Every string, number and key inside a JSON-like value, recursively."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [str(value)]
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_strings_of(key))
            found.extend(_strings_of(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(_strings_of(item))
    return found


# Metadata the front ends write themselves, never typed by anyone: the tap evidence (Telegram's
# callback query id, a numeric string of up to 19 digits that passes Luhn one time in ten, and
# the time the bot received the tap). Checking it would refuse honest Confirm taps.
FRONT_END_EVIDENCE = frozenset({"tap"})


def message_holds_card_number(text: str, metadata: Any = None) -> bool:
    """True when a chat message handed to Rasa would carry a card number anywhere: its text as
    typed, its text after the decoding Rasa applies (leading whitespace of any kind stripped,
    an intent payload's JSON entities decoded), or any string or number in its metadata (apart
    from the front ends' own tap evidence, `FRONT_END_EVIDENCE`)."""
    if looks_like_card_number(text):
        return True
    if any(looks_like_card_number(view) for view in _decoded_views(text.strip())):
        return True
    if isinstance(metadata, dict):
        metadata = {key: value for key, value in metadata.items() if key not in FRONT_END_EVIDENCE}
    return any(looks_like_card_number(item) for item in _strings_of(metadata))
