"""Signed links to the sandbox's 3-D Secure "bank challenge" page served by the console.

localstripe has no hosted challenge page, so the console plays the bank. The link carries an HMAC
of the PaymentIntent id made with a server key: only whoever received the link (the paying user)
can open the page or answer the challenge, and the id alone is not enough.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

CHALLENGE_PATH = "/sandbox/3ds"
# Domain separation: the same key could sign other things one day without their signatures mixing.
_PURPOSE = b"paychat-sandbox-3ds-challenge:"


def challenge_signature(key: bytes, payment_intent_id: str) -> str:
    """The hex HMAC-SHA256 of a PaymentIntent id for its challenge link."""
    return hmac.new(key, _PURPOSE + payment_intent_id.encode(), hashlib.sha256).hexdigest()


def challenge_signature_valid(key: bytes, payment_intent_id: str, signature: str) -> bool:
    """True when `signature` is the link signature of this PaymentIntent (constant-time compare)."""
    if not signature or not key:
        return False
    return hmac.compare_digest(challenge_signature(key, payment_intent_id), signature)


def challenge_url(public_url: str, key: bytes, payment_intent_id: str) -> str:
    """The absolute link to the console's challenge page for a PaymentIntent."""
    base = public_url.rstrip("/")
    sig = challenge_signature(key, payment_intent_id)
    return f"{base}{CHALLENGE_PATH}/{quote(payment_intent_id, safe='')}?sig={sig}"
