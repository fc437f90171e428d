"""A seeded corpus of chat messages holding known personal data, and a leak scanner.

Each message comes with the secrets it holds (card numbers, IBANs, e-mail addresses, phone
numbers, person names) in the many ways people type them. `leaks(text, secrets)` finds any secret,
or any part of one (a surname alone, the digits of an IBAN without its spaces), in a rendered page
or an exported file. Used by tests/privacy (the function), tests/console (pages, API) and
tests/tuning (exports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Seeded:
    """One message and the personal data written in it."""

    text: str
    secrets: tuple[str, ...]
    kind: str


CARDS = ["4242 4242 4242 4242", "4000-0566-5566-5556", "5555555555554444", "3782 822463 10005"]
IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "ES91-2100-0418-4502-0005-1332",
    "it60 x054 2811 1010 0000 0123 456",
]
EMAILS = [
    "anna.weber+bills@example.com",
    "j.smith@mail.example.co.uk",
    "Maria_Garcia99@posteo.de",
    "tom+paychat@gmail.com",
    "o.petrova@firma-beispiel.de",
    "LUCAS.MOREAU@EXAMPLE.FR",
]
PHONES = [
    "+44 20 7946 0958",
    "+1 (555) 123-4567",
    "0049 30 12345678",
    "+49 171 2345678",
    "0171 2345678",
    "(555) 987-6543",
    "+33 6 12 34 56 78",
    "555.234.7890",
    "+353871234567",
]
NAMES = [
    "Anna Weber",
    "John Smith",
    "Maria Garcia",
    "Olga Petrova",
    "Lucas Moreau",
    "Priya Natarajan",
    "Tomás O'Neill",
    "Kenji Watanabe",
    "Fatima Haddad",
    "Sven Lindqvist",
    "Chloe Dubois",
    "Mehmet Yilmaz",
]
FIRST_NAMES = ["Anna", "John", "Maria", "Olga", "Lucas", "Priya", "Kenji", "Fatima", "Sven", "Chloe"]

_CARD_TEMPLATES = [
    "my card is {} pls pay the rent",
    "use {} exp 12/27",
    "card number {}",
    "pay vodafone with {} now",
]
_IBAN_TEMPLATES = [
    "my iban is {}",
    "send the refund to {} please",
    "IBAN: {}",
    "can you pay from account {} instead",
    "pay the landlord, iban {} thanks",
    "transfer to {}",
]
_EMAIL_TEMPLATES = [
    "email me the receipt at {}",
    "my email is {}",
    "contact: {}",
    "send it to {} pls",
    "receipt to {}!",
    "is {} the address you have?",
]
_PHONE_TEMPLATES = [
    "call me on {}",
    "my number is {}",
    "phone: {}",
    "text {} when it is paid",
    "reach me at {} tomorrow",
    "my new mobile is {} please update",
]
_NAME_TEMPLATES = [
    "I am {}, pay my electricity bill",
    "hi, I'm {} and I need to pay the phone bill",
    "my name is {}",
    "My name's {} and my rent is due",
    "this is {} speaking, what do I owe?",
    "pay the rent please\nThanks,\n{}",
    "what did I pay last month?\nRegards\n{}",
    "Name: {}",
    "call me {}",
    "cheers, {}",
    "pay vodafone 40 - {}",
    "Kind regards, {}",
]
_FIRST_NAME_TEMPLATES = [
    "I'm {}",
    "hello I am {} and want to pay",
    "my name is {} lol",
    "thanks {}",
    "Best,\n{}",
]
_LOWERCASE_NAME_TEMPLATES = ["my name is {}", "call me {}", "my name's {} btw"]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def corpus() -> list[Seeded]:
    """Every seeded message (well over 100), each with the secrets written in it."""
    items: list[Seeded] = []
    for i, template in enumerate(_CARD_TEMPLATES * 2):
        card = CARDS[i % len(CARDS)]
        items.append(Seeded(template.format(card), (card,), "card"))
    for i, template in enumerate(_IBAN_TEMPLATES * 2):
        iban = IBANS[i % len(IBANS)]
        items.append(Seeded(template.format(iban), (iban,), "iban"))
    for i, template in enumerate(_EMAIL_TEMPLATES * 3):
        email = EMAILS[i % len(EMAILS)]
        items.append(Seeded(template.format(email), (email,), "email"))
    for i, template in enumerate(_PHONE_TEMPLATES * 3):
        phone = PHONES[i % len(PHONES)]
        items.append(Seeded(template.format(phone), (phone,), "phone"))
    for i, template in enumerate(_NAME_TEMPLATES * 3):
        name = NAMES[i % len(NAMES)]
        items.append(Seeded(template.format(name), (name, *name.split()), "name"))
    for i, template in enumerate(_FIRST_NAME_TEMPLATES * 2):
        name = FIRST_NAMES[i % len(FIRST_NAMES)]
        items.append(Seeded(template.format(name), (name,), "name"))
    for i, template in enumerate(_LOWERCASE_NAME_TEMPLATES):
        name = FIRST_NAMES[i].lower()
        items.append(Seeded(template.format(name), (name,), "name"))
    # Several kinds in one message.
    items += [
        Seeded(
            f"I am {NAMES[0]}, my iban is {IBANS[0]} and my email {EMAILS[0]}",
            (NAMES[0], *NAMES[0].split(), IBANS[0], EMAILS[0]),
            "mixed",
        ),
        Seeded(
            f"pay the phone bill and text {PHONES[0]}\n{NAMES[1]}",
            (PHONES[0], NAMES[1], *NAMES[1].split()),
            "mixed",
        ),
        Seeded(
            f"my name is {NAMES[2]}, card {CARDS[0]}, phone {PHONES[3]}",
            (NAMES[2], *NAMES[2].split(), CARDS[0], PHONES[3]),
            "mixed",
        ),
    ]
    return items


def leaks(rendered: str, secrets: tuple[str, ...] | list[str]) -> list[str]:
    """The secrets (or their digit strings, for numbers) that appear in `rendered`."""
    found = []
    lowered = rendered.lower()
    compact = re.sub(r"[\s\-./()]", "", lowered)
    joined_numbers = re.sub(r"(?<=\d)[\s\-./()+]+(?=\d)", "", rendered)
    for secret in secrets:
        digits = _digits(secret)
        if len(digits) >= 7:
            if digits in joined_numbers or secret.lower() in lowered:
                found.append(secret)
            continue
        if secret.lower().startswith(("de", "gb", "fr", "nl", "es", "it")) and len(secret) > 14:
            if re.sub(r"[\s\-]", "", secret.lower()) in compact:
                found.append(secret)
            continue
        if re.search(rf"(?<![\w]){re.escape(secret.lower())}(?![\w])", lowered):
            found.append(secret)
    return found
