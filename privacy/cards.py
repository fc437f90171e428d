"""The one card-number detector of the project: bot, console, logs, transcripts and the Rasa channel.

No card number may pass through chat, the Rasa server, transcripts or logs (DESIGN.md, safety
rules). A card number is 13 to 19 digits passing the Luhn check, written together or in groups
with anything between the groups that is neither a letter nor a digit: spaces of every kind,
newlines, tabs, dots, dashes (with or without spaces), slashes, underscores, commas. People often
type more after it ("4242 4242 4242 4242 12/27 123"), so every run of whole digit groups inside a
longer number is checked too; a single unbroken run of more than 19 digits is not a card. Erring
towards "looks like a card" is deliberate: a wrongly refused message costs a retype, a leaked card
number costs far more.

Standard library only and Python 3.10 compatible: the Rasa environment imports it too.
"""

from __future__ import annotations

import re

MIN_DIGITS = 13
MAX_DIGITS = 19
CARD_PLACEHOLDER = "[card number removed]"

# Digit groups joined by separators: any run of characters that are neither letters nor digits.
_DIGIT_RUN = re.compile(r"\d+(?:[\W_]+\d+)*")
_GROUP = re.compile(r"\d+")


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


def _run_holds_card(run: str) -> bool:
    """True when some sequence of whole, consecutive digit groups of `run` is a card number."""
    groups = _GROUP.findall(run)
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                return True
    return False


def looks_like_card_number(text: str) -> bool:
    """True when the text contains something that looks like a payment card number."""
    return any(_run_holds_card(run.group()) for run in _DIGIT_RUN.finditer(text))


def redact_card_numbers(text: str) -> str:
    """The text with every digit run that holds a card number (expiry and CVC typed with it
    included) replaced by `CARD_PLACEHOLDER`; the rest of the text is kept."""

    def replace(run: re.Match[str]) -> str:
        return CARD_PLACEHOLDER if _run_holds_card(run.group()) else run.group()

    return _DIGIT_RUN.sub(replace, text)
