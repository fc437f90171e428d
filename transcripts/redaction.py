"""The one place transcripts are redacted for review, search and export.

Card numbers are already removed before a turn is stored (privacy.cards); this redacts again when
text is read for staff, so older rows and anything the detectors learn later are covered too:
card numbers, IBANs, e-mail addresses, phone numbers and person names (privacy.redact). Every
search and export goes through `redact_for_review`.
"""

from __future__ import annotations

from privacy.redact import redact


def redact_for_review(text: str) -> str:
    """`text` as staff may see, search and export it."""
    return redact(text)
