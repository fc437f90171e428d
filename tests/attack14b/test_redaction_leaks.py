"""attack14b: personal data that still slips past privacy.redact (the one masking before views/exports)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from db.models import ConversationTurn
from privacy.redact import redact
from transcripts.views import turn_view

# (message, the personal fragment that must not survive redaction)
LEAKS = [
    # IBAN with a space between country code and check digits: neither IBAN, phone (>15 digits)
    # nor card (no Luhn run) catches it.
    ("iban_space_after_country", "my iban: DE 89 3704 0044 0532 0130 00 thanks", "3704 0044"),
    # IBAN grouped in threes (as some banks print it)
    ("iban_groups_of_three", "iban DE89 370 400 440 532 013 000", "370 400 440"),
    # IBAN groups separated by two spaces (copy-paste from a PDF)
    ("iban_double_spaces", "iban DE89  3704  0044  0532  0130  00", "3704  0044"),
    # two phone numbers joined by " / ": one run of >15 digits, so the phone rule skips both
    ("two_phones_slash", "tel 0171 2345679 / 030 1234567", "2345679"),
    # a phone glued to a label or an extension
    ("phone_glued_prefix", "mob07700900123", "07700900123"),
    ("phone_glued_ext", "call 555-123-4567ext 12", "123-4567"),
    # e-mail obfuscations people use to dodge spam filters
    ("email_bracket_dot", "write to anna.weber@gmail[.]com", "anna.weber"),
    ("email_spaced_dot", "write to anna.weber @ gmail . com", "anna.weber"),
    # names in ordinary sentence shapes around a payments chat
    ("name_full_name_is", "my full name is Anna Weber", "weber"),
    ("name_first_name_is", "my first name is anna", "anna"),
    ("name_account_holder", "Account holder: Anna Weber", "weber"),
    ("name_payee", "pay 50 EUR to Anna Weber for the rent", "weber"),
    ("name_here", "Anna Weber here, I need to pay my phone bill", "weber"),
]


@pytest.mark.parametrize(
    ("message", "fragment"), [(m, f) for _, m, f in LEAKS], ids=[name for name, _, _ in LEAKS]
)
def test_personal_data_is_masked(message: str, fragment: str) -> None:
    assert fragment.lower() not in redact(message).lower()


def _row(**fields: object) -> ConversationTurn:
    base: dict[str, object] = {
        "id": 1,
        "conversation_id": 1,
        "seq": 1,
        "user_text": "",
        "replies": [],
        "intent": "pay_bill",
        "confidence": 0.9,
        "ranking": [],
        "entities": [],
        "slots": {},
        "events": [],
        "payment_id": None,
        "payment_status": None,
        "is_fallback": False,
        "created_at": datetime.now(UTC),
    }
    base.update(fields)
    return ConversationTurn(**base)


def test_a_name_masked_in_the_text_is_masked_in_entities_slots_and_events() -> None:
    text = "my name is Anna Weber, pay the phone bill"
    entity = {"entity": "biller", "value": "Anna Weber", "start": 11, "end": 21}
    row = _row(
        user_text=text,
        entities=[entity],
        slots={"biller": "Anna Weber"},
        events=[{"event": "slot", "name": "biller", "value": "Anna Weber"}],
    )
    view = turn_view(row, None)
    assert "Weber" not in view.user_text  # the text itself is masked ...
    shown = repr((view.entities, view.slots, view.events))
    assert "Weber" not in shown  # ... but the same name stays in the structured data
