"""The walking skeleton: a bill paid end to end by chat, through the console's JSON API.

Real console process, real Rasa server with the trained model, real action server, real Stripe
sandbox driven by the `stripe` SDK, and the database the demo data was loaded into.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import create_engine, text

from scripts import procs

pytestmark = pytest.mark.e2e
PASSWORD = "walking-skeleton-pw-1"


@dataclass
class ConsoleAPI:
    """The console's JSON API as an API client (HTTP Basic) would use it."""

    base_url: str

    def chat(self, session: str, message: str) -> dict:
        response = httpx.post(
            f"{self.base_url}/api/chat",
            json={"session": session, "text": message},
            auth=("skeleton", PASSWORD),
            timeout=90,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def console_api(assistant_stack, tmp_path_factory) -> Iterator[ConsoleAPI]:
    """The console process (as `make run` starts it) bound to the test stack."""
    port = procs.free_port()
    env = dict(
        assistant_stack.env, CONSOLE_PORT=str(port), CONSOLE_SECRET_KEY="skeleton-test-cookie-key-0123"
    )
    subprocess.run(
        [
            str(procs.APP_PYTHON),
            "-m",
            "console.cli",
            "create-user",
            "skeleton",
            "--role",
            "tester",
            "--password",
            PASSWORD,
        ],
        env=env,
        cwd=procs.ROOT,
        check=True,
        capture_output=True,
    )
    supervisor = procs.Supervisor(tmp_path_factory.mktemp("console-log"), env)
    supervisor.start(procs.console_spec("127.0.0.1", port))
    try:
        yield ConsoleAPI(f"http://127.0.0.1:{port}")
    finally:
        supervisor.stop_all()


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
