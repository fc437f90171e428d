"""privacy.redact: every seeded secret is masked, ordinary chat is left alone."""

from __future__ import annotations

import pytest

from privacy.redact import NAME_PLACEHOLDER, redact, redact_value, removed_fragments
from tests.helpers.pii_corpus import corpus, leaks

CORPUS = corpus()


def test_the_corpus_is_big_and_varied() -> None:
    assert len(CORPUS) >= 100
    assert {item.kind for item in CORPUS} == {"card", "iban", "email", "phone", "name", "mixed"}


@pytest.mark.parametrize("item", CORPUS, ids=lambda item: item.text[:40])
def test_no_seeded_secret_survives(item) -> None:  # type: ignore[no-untyped-def]
    assert leaks(redact(item.text), item.secrets) == []


def test_the_scanner_sees_a_leak() -> None:
    item = CORPUS[0]
    assert leaks(item.text, item.secrets) == list(item.secrets)
    assert leaks("I am Anna", ["Anna"]) == ["Anna"]
    assert leaks("iban DE89370400440532013000", ["DE89 3704 0044 0532 0130 00"])


@pytest.mark.parametrize(
    "text",
    [
        "pay my electricity bill",
        "pay 45,20 € to Vodafone tomorrow",
        "pay $1,200.50 on 2026-12-01",
        "pay 40 of the phone bill on 12.05.2026",
        "no, the phone bill",
        "I'm late with the rent, can I pay half on friday?",
        "what do I owe Vodafone?",
        "schedule 1000 for the 1st",
        "I am not sure",
    ],
)
def test_ordinary_chat_is_kept(text: str) -> None:
    assert redact(text) == text


def test_names_keep_the_sentence_shape() -> None:
    assert redact("I am John Smith, pay my rent") == f"I am {NAME_PLACEHOLDER}, pay my rent"


def test_redact_value_walks_json() -> None:
    value = {"slots": {"email": "x.y+z@example.org"}, "events": [{"text": "call +44 20 7946 0958"}], "n": 3}
    assert redact_value(value) == {
        "slots": {"email": "[email]"},
        "events": [{"text": "call [phone]"}],
        "n": 3,
    }


def test_what_the_message_redaction_removed_is_masked_in_structured_data() -> None:
    removed = removed_fragments("my name is Anna Weber, pay the phone bill")
    assert ("Anna Weber", NAME_PLACEHOLDER) in removed
    value = {"biller": "Anna Weber", "surname": "weber", "other": "Vodafone", "event": "slot"}
    assert redact_value(value, removed) == {
        "biller": NAME_PLACEHOLDER,
        "surname": NAME_PLACEHOLDER,
        "other": "Vodafone",
        "event": "slot",
    }
    assert redact_value(value) == value  # without its sentence, no cue: nothing is recognised


def test_the_clean_memo_keeps_only_text_redaction_left_unchanged() -> None:
    from privacy import redact as module

    module._KNOWN_CLEAN.clear()
    for item in CORPUS:
        first = redact(item.text)
        assert redact(item.text) == first  # the same answer from the memo or without it
        assert item.text not in module._KNOWN_CLEAN or first == item.text
    assert all(redact(text) == text for text in module._KNOWN_CLEAN)
    assert not any(leaks(text, item.secrets) for item in CORPUS for text in module._KNOWN_CLEAN)
    assert redact("utter_greet") == "utter_greet" and "utter_greet" in module._KNOWN_CLEAN
