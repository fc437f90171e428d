"""attack14: personal data that slips past privacy.redact (the one masking before any view/export)."""

from __future__ import annotations

import unicodedata

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
def test_personal_data_is_masked(message: str, fragment: str) -> None:
    assert fragment.lower() not in redact(message).lower()


def _fullwidth(text: str) -> str:
    """ASCII written with the full-width forms (U+FF01..U+FF5E)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


# Neighbours of the holes above: other unicode forms, spellings and separators of the same data.
NEIGHBOURS = [
    (f"write to {_fullwidth('anna.weber@gmail.com')}", "weber"),  # all full-width
    ("write to anna\u200b.weber@gmail.com", "weber"),  # a zero-width space inside
    ("write to anna.weber\u00ad@gmail.com", "weber"),  # a soft hyphen
    ("write to anna.weber [at] gmail [dot] com", "weber"),
    ("write to anna.weber{at}gmail{dot}com", "weber"),
    ("write to anna.weber AT gmail DOT com", "weber"),
    ("write to anna.weber at gmail.com", "weber"),
    ("mail: иван@почта.рф", "иван"),
    (f"iban {_fullwidth('DE89 3704 0044 0532 0130 00')}", "3704"),
    ("iban DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000", "3704"),
    ("iban DE89/3704/0044/0532/0130/00", "3704"),
    ("iban de89_3704_0044_0532_0130_00 please", "3704"),
    ("my name is anna weber, pay my rent", "weber"),
    ("my name is anna maria weber", "weber"),
    ("my name\u2019s anna weber", "weber"),
    ("I\u2019m Anna Weber", "weber"),
    ("I\u2019m O\u2019Brien", "brien"),
    ("my name is Anna\u2011Lena Weber\u2011Schmidt", "schmidt"),  # non-breaking hyphens
    ("name: anna-lena weber-schmidt", "schmidt"),
    ("this is anna-lena weber", "weber"),
]


@pytest.mark.parametrize(
    ("message", "fragment"), NEIGHBOURS, ids=[f"neighbour{i}" for i in range(len(NEIGHBOURS))]
)
def test_neighbouring_forms_are_masked(message: str, fragment: str) -> None:
    # Compared in NFKC, so a fragment left in another form (full-width) is still seen.
    assert fragment.lower() not in unicodedata.normalize("NFKC", redact(message)).lower()


ORDINARY = [
    "pay 40 at vodafone",
    "pay 40 at vodafone.com",
    "I paid at amazon.com yesterday",
    "I am at home.Then I pay",
    "meet me at 5",
    "pay rent at 12.05.2026",
    "this is taking forever",
    "this is too expensive",
    "this is the wrong amount",
    "this is vodafone bill",
    "this is getting silly",
    "i am really confused",
    "i am paying rent",
    "i am a bit confused",
    "i am done",
    "call me back tomorrow",
    "call me later",
    "my name is on the bill",
    "this is ridiculous",
    "this is urgent please",
    "pay 45,20 € to Vodafone",
    "hello bot, pay 40",
    "pay my gas bill \U0001f468\u200d\U0001f469\u200d\U0001f467",  # an emoji joined by ZWJ stays whole
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_chat_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_a_lowercase_name_followed_by_chat_masks_only_the_name() -> None:
    assert redact("my name is anna pay my bill") == "my name is [name] pay my bill"
    assert redact("my name is anna and i want to pay") == "my name is [name] and i want to pay"
    assert redact("my name is anna weber and i want to pay") == "my name is [name] and i want to pay"
    assert redact("my name is anna weber pay my bill") == "my name is [name] pay my bill"
    assert redact("call me anna maria please") == "call me [name] please"
    assert redact("I am Bill Gates") == "I am [name]"  # a capitalised chat word is still a name
