"""Issue 13 item 2: a one-time code typed in chat is never kept in a transcript."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from privacy.codes import mask_codes
from transcripts import record_turn


def _turn(text: str, events: list[dict[str, Any]], slots: dict[str, Any]) -> dict[str, Any]:
    return {
        "replies": [{"text": "Done ✅ Paid €600.00 to Hausverwaltung Berger."}],
        "parse": {"text": text, "intent": {"name": "inform", "confidence": 0.4}, "entities": []},
        "slots": slots,
        "events": events,
    }


def test_the_message_answering_a_code_prompt_is_masked_everywhere(db_session: Session) -> None:
    sender = "console-999999-codes_test"
    asked = _turn("Confirm", [], {"requested_slot": "step_up_code", "pending_payment_id": "600"})
    first = record_turn(
        db_session,
        sender_id=sender,
        channel="console",
        user_id=None,
        is_test=True,
        user_text="yes",
        turn=asked,
    )
    answered = _turn(
        "482 913",
        [{"event": "user", "text": "482 913"}, {"event": "slot", "name": "step_up_code", "value": "482 913"}],
        {"step_up_code": "done", "requested_slot": None},
    )
    second = record_turn(
        db_session, sender_id=sender, channel="console", user_id=None, is_test=True,
        user_text="482 913", turn=answered,
    )  # fmt: skip

    assert first.user_text == "yes"
    assert second.user_text == "••••••"
    # Everything the turn keeps from the chat (not its row id or timestamp, whose digits may be anything).
    kept = repr(
        (second.user_text, second.replies, second.entities, second.slots, second.events, second.ranking)
    )
    assert "482" not in kept and "913" not in kept


def test_other_turns_keep_their_numbers(db_session: Session) -> None:
    turn = _turn("pay 482913 to vodafone", [], {})
    kept = record_turn(
        db_session, sender_id="console-999998-codes_test", channel="console", user_id=None, is_test=True,
        user_text="pay 482913 to vodafone", turn=turn,
    )  # fmt: skip
    assert kept.user_text == "pay 482913 to vodafone"


def test_mask_codes_masks_six_digit_runs_only() -> None:
    assert mask_codes("code 482-913 ok") == "code •••••• ok"
    assert mask_codes("amount 600 and ref 1234567") == "amount 600 and ref 1234567"
