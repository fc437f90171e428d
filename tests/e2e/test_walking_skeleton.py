"""The walking skeleton: a bill paid end to end by chat, through the console's JSON API.

The console (tests/helpers/stack.py `console_api`) runs as a process, as `make run` starts it.

Real console process, real Rasa server with the trained model, real action server, real Stripe
sandbox driven by the `stripe` SDK, and the database the demo data was loaded into.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.e2e


def _payment_rows(database_url: str) -> list[dict]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, status, payment_intent_id, amount_minor, currency FROM payments ORDER BY id")
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def test_pay_the_electricity_bill_by_chat(assistant_stack, console_api) -> None:
    before = _payment_rows(assistant_stack.database_url)

    summary = console_api.chat("skeleton_1", "pay my electricity bill")
    with_buttons = [r for r in summary["replies"] if r["buttons"]]
    assert len(with_buttons) == 1, summary["replies"]
    reply = with_buttons[0]
    assert "Stadtwerke" in reply["text"]
    assert "84.20" in reply["text"] or "84,20" in reply["text"]
    assert "4242" in reply["text"]
    titles = {b["title"]: b["payload"] for b in reply["buttons"]}
    assert {"Confirm", "Cancel"} <= set(titles)
    assert summary["parse"]["intent"]["name"] == "pay_bill"
    # Nothing is charged before the confirmation.
    assert [p for p in _payment_rows(assistant_stack.database_url) if p["status"] == "succeeded"] == [
        p for p in before if p["status"] == "succeeded"
    ]

    receipt = console_api.chat("skeleton_1", titles["Confirm"])
    receipt_text = " ".join(r["text"] or "" for r in receipt["replies"])
    assert "Stadtwerke" in receipt_text
    assert "84.20" in receipt_text or "84,20" in receipt_text

    new = [p for p in _payment_rows(assistant_stack.database_url) if p not in before]
    succeeded = [p for p in new if p["status"] == "succeeded"]
    assert len(succeeded) == 1, new
    payment = succeeded[0]
    assert payment["amount_minor"] == 8420 and payment["currency"] == "EUR"
    assert payment["payment_intent_id"].startswith("pi_")

    # The sandbox holds the same PaymentIntent, succeeded, for the same amount.
    intent = httpx.get(
        f"{assistant_stack.stripe_api_base}/v1/payment_intents/{payment['payment_intent_id']}",
        headers={"Authorization": "Bearer sk_test_paychat_sandbox"},
        timeout=10,
    ).json()
    assert intent["status"] == "succeeded"
    assert intent["amount"] == 8420 and intent["currency"] == "eur"

    # Tapping Confirm again charges nothing more.
    console_api.chat("skeleton_1", titles["Confirm"])
    again = [p for p in _payment_rows(assistant_stack.database_url) if p["status"] == "succeeded"]
    assert len(again) == len([p for p in before if p["status"] == "succeeded"]) + 1


def test_a_rasa_restart_mid_conversation_loses_nothing(assistant_stack, console_api) -> None:
    summary = console_api.chat("restart_1", "pay 3 euros of my phone bill")
    [reply] = [r for r in summary["replies"] if r["buttons"]]
    assert "Vodafone" in reply["text"] and "3.00" in reply["text"]
    payment_id = int(summary["slots"]["pending_payment_id"])

    assistant_stack.restart("rasa")  # the conversation is in the SQLite tracker store, not in RAM

    receipt = console_api.chat("restart_1", "/affirm")
    assert "Done" in " ".join(r["text"] or "" for r in receipt["replies"])
    [row] = [p for p in _payment_rows(assistant_stack.database_url) if p["id"] == payment_id]
    assert row["status"] == "succeeded" and row["amount_minor"] == 300
