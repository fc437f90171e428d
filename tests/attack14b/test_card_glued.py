"""attack14b: a card number typed glued to its CVC or expiry ("4242424242424242123") is one digit run
that fails Luhn as a whole, and the detector checks only whole groups: it is neither refused nor
masked, so it is stored in the transcript and shown/exported to staff as typed."""

from __future__ import annotations

import pytest

from privacy.cards import looks_like_card_number
from privacy.redact import redact

GLUED = [
    "card 4242424242424242123",  # PAN + CVC, 19 digits
    "card 42424242424242421227",  # PAN + expiry MMYY
    "5555555555554444 123",  # Mastercard test PAN + CVC after a space is caught; glued below is not
]


@pytest.mark.parametrize("message", GLUED[:2], ids=["pan_cvc", "pan_expiry"])
def test_a_card_number_glued_to_cvc_or_expiry_is_caught(message: str) -> None:
    assert looks_like_card_number(message)
    assert "4242424242424242" not in redact(message)


def test_the_same_number_with_a_space_is_caught() -> None:
    # Control: the detector works when the groups are separate, so the hole is only the glued form.
    assert looks_like_card_number(GLUED[2])
    assert "5555555555554444" not in redact(GLUED[2])
