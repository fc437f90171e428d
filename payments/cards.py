"""Recognising a payment card number typed into chat, so the edges can refuse it.

No card number may pass through chat, the Rasa server, transcripts or logs (DESIGN.md, safety
rules). A card number is 13 to 19 digits passing the Luhn check, written together or in groups
separated by spaces or dashes. People often type more after it ("4242 4242 4242 4242 12/27 123"),
so every run of whole digit groups inside a longer number is checked too; a single unbroken run of
more than 19 digits is not a card. Erring towards "looks like a card" is deliberate: a wrongly
deleted message costs a retype, a leaked card number costs far more.
"""

from __future__ import annotations

import re

MIN_DIGITS = 13
MAX_DIGITS = 19

# Digit groups joined by one or two separators (space, no-break space, thin space, dash or dashes).
_DIGIT_RUN = re.compile(r"\d+(?:[ \u00a0\u2009\u202f\-\u2010-\u2015]{1,2}\d+)*")
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


def looks_like_card_number(text: str) -> bool:
    """True when the text contains something that looks like a payment card number."""
    for run in _DIGIT_RUN.finditer(text):
        groups = _GROUP.findall(run.group())
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                    return True
    return False


CARD_PLACEHOLDER = "[card number removed]"


def redact_card_numbers(text: str) -> str:
    """The text with every digit run that holds a card number replaced by a placeholder."""

    def replace(run: re.Match[str]) -> str:
        return CARD_PLACEHOLDER if looks_like_card_number(run.group()) else run.group()

    return _DIGIT_RUN.sub(replace, text)
