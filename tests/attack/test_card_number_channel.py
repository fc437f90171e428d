"""Item 7: a card number reaches Rasa's tracker store through the paychat channel.

The channel runs `looks_like_card_number` on the raw message text only. Two ways past it:

- an intent payload whose entity values are JSON: Rasa unpacks `/intent{...}` with `json.loads`,
  so `\\u0034\\u0032…` in the raw text (no digit run at all) becomes "4000056655665556" in the
  parsed entities, the slots and the stored events. Rasa also strips the text before looking for
  the `/`, and the Telegram bot relays a text starting with a space or NBSP before the `/` (its
  command filter wants a bot_command entity at offset 0; checked against the fake Bot API — whether
  Telegram's servers keep such a leading NBSP was not checked), so the payload need not come from
  the console;
- the message metadata (`shown_text`, which the console's chat API takes from the caller and the
  channel passes into the user event) is not checked at all.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from rasa_client import CHANNEL_PATH, SECRET_HEADER

pytestmark = pytest.mark.e2e

CARD = "4000056655665556"  # Stripe's Visa debit test number (Luhn-valid)


def _post(stack, body):
    headers = {SECRET_HEADER: stack.rasa_secret}
    return httpx.post(stack.rasa_url + CHANNEL_PATH, json=body, headers=headers, timeout=120)


def _stored_events(stack, sender: str) -> str:
    tracker_db = Path(stack.process("rasa").spec.env["RASA_TRACKER_DB"])
    with sqlite3.connect(tracker_db) as db:
        return " ".join(str(row) for row in db.execute("SELECT * FROM events WHERE sender_id = ?", (sender,)))


def test_a_card_number_escaped_in_an_intent_payload_never_reaches_the_tracker_store(assistant_stack) -> None:
    sender = "console-1-attack_card_escape"
    escaped = "".join(f"\\u{ord(digit):04x}" for digit in CARD)
    message = ' /inform{"biller": "' + escaped + '"}'  # leading space: past Telegram's command filter
    assert CARD not in message

    response = _post(assistant_stack, {"sender": sender, "message": message})

    assert response.status_code == 200, response.text
    assert CARD not in response.text, "the decoded card number is in the turn (parse, slots or replies)"
    assert CARD not in _stored_events(assistant_stack, sender)


def test_a_card_number_in_the_metadata_never_reaches_the_tracker_store(assistant_stack) -> None:
    sender = "console-1-attack_card_metadata"
    body = {"sender": sender, "message": "hello", "metadata": {"shown_text": f"card {CARD}"}}

    response = _post(assistant_stack, body)

    assert response.status_code == 200, response.text
    assert CARD not in _stored_events(assistant_stack, sender)
