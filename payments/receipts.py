"""Short payment references a person can read out, write down and give to support.

A receipt carries `PAY-` and the payment's id in Crockford base32 (no I, L, O or U, so nothing is
misread), padded to five symbols, with Crockford's check symbol (the id modulo 37) at the end: a
mistyped reference is refused rather than taken for another payment. It is derived, not stored,
so staff can turn a reference back into the payment id (`payment_id_for_reference`).
"""

from __future__ import annotations

import re

SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_SYMBOLS = SYMBOLS + "*~$=U"
PREFIX = "PAY-"
WIDTH = 5
REFERENCE = re.compile(r"(?:PAY-?)?([0-9A-Z]{5,13})([0-9A-Z*~$=])", re.IGNORECASE)
# Crockford: the letters people mistake for digits are read as those digits.
READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def receipt_reference(payment_id: int) -> str:
    """The short reference of a payment: "PAY-0001FA" for payment 47."""
    if payment_id < 0:
        raise ValueError("payment ids are not negative")
    digits = ""
    value = payment_id
    while value:
        value, rest = divmod(value, 32)
        digits = SYMBOLS[rest] + digits
    return PREFIX + digits.rjust(WIDTH, "0") + CHECK_SYMBOLS[payment_id % 37]


def payment_id_for_reference(text: str) -> int | None:
    """The payment id a reference stands for, or None when it is not one (or its check fails)."""
    match = REFERENCE.fullmatch(text.strip().replace(" ", "").upper().translate(READ_AS))
    if match is None:
        return None
    body, check = match.groups()
    if any(symbol not in SYMBOLS for symbol in body):
        return None
    payment_id = 0
    for symbol in body:
        payment_id = payment_id * 32 + SYMBOLS.index(symbol)
    return payment_id if CHECK_SYMBOLS[payment_id % 37] == check else None
