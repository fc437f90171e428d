"""attack14: personal data that slips past privacy.redact (the one masking before any view/export)."""

from __future__ import annotations

import pytest

from privacy.redact import redact

# (message, the personal fragment that must not survive redaction)
LEAKS = [
    ("mail me at jürgen@müller.de", "müller.de"),
    ("mail: josé.garcía@correo.es", "josé"),
    ("write to anna.weber\uff20gmail.com", "anna.weber"),
    ("write to anna.weber(at)gmail.com", "anna.weber"),
    ("write to anna(at)gmail(dot)com", "anna"),
    ("mail anna dot weber at gmail dot com", "anna"),
    ("iban DE89_3704_0044_0532_0130_00", "3704"),
    ("iban DE89.3704.0044.0532.0130.00", "3704"),
    ("my name is anna weber", "weber"),
    ("Name: anna weber", "weber"),
    ("my name is Anna-Lena Weber-Schmidt", "Weber"),
    ("this is anna weber", "weber"),
]


@pytest.mark.parametrize(("message", "fragment"), LEAKS, ids=[f"leak{i}" for i in range(len(LEAKS))])
@pytest.mark.xfail(
    strict=True,
    reason="attack14: redaction leaks unicode/obfuscated e-mails, IBANs with _ or . separators, "
    "and surnames after a lowercase or hyphenated first name",
)
def test_personal_data_is_masked(message: str, fragment: str) -> None:
    assert fragment.lower() not in redact(message).lower()
