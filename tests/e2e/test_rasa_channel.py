"""The Rasa server's only door checks the shared secret and refuses bad input with a 4xx."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from rasa_client import CHANNEL_PATH, SECRET_HEADER, AssistantUnavailableError, RasaClient

pytestmark = pytest.mark.e2e


def _post(stack, body, secret):
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return httpx.post(stack.rasa_url + CHANNEL_PATH, json=body, headers=headers, timeout=60)


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
def test_channel_refuses_requests_without_the_secret(assistant_stack, secret) -> None:
    response = _post(assistant_stack, {"sender": "tg-100001", "message": "hi"}, secret)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"sender": "tg-100001"},
        {"sender": "", "message": "hi"},
        {"sender": "tg-100001", "message": "x" * 5000},
    ],
)
def test_channel_refuses_malformed_messages(assistant_stack, body) -> None:
    response = _post(assistant_stack, body, assistant_stack.rasa_secret)
    assert response.status_code == 400
    assert "error" in response.json()


def test_rest_channel_is_not_open(assistant_stack) -> None:
    response = httpx.post(
        assistant_stack.rasa_url + "/webhooks/rest/webhook", json={"sender": "x", "message": "hi"}, timeout=30
    )
    assert response.status_code == 404


def test_http_api_is_not_enabled(assistant_stack) -> None:
    response = httpx.post(assistant_stack.rasa_url + "/model/parse", json={"text": "hi"}, timeout=30)
    assert response.status_code == 404


async def test_client_turn_carries_parse_and_slots(assistant_stack) -> None:
    client = assistant_stack.rasa_client()
    try:
        turn = await client.send("console-1-channel_check", "hello")
    finally:
        await client.aclose()
    assert turn.replies and turn.replies[0].text
    assert turn.parse["intent"]["name"] == "greet"
    assert turn.parse["ranking"][0]["name"] == "greet"
    assert any(event["event"] == "user" for event in turn.events)


async def test_client_reports_an_unreachable_server() -> None:
    from scripts.procs import free_port

    client = RasaClient(f"http://127.0.0.1:{free_port()}", "secret", timeout_seconds=2)
    try:
        with pytest.raises(AssistantUnavailableError):
            await client.send("tg-1", "hello")
    finally:
        await client.aclose()


async def test_action_server_down_is_reported_not_silent(assistant_stack) -> None:
    """Rasa itself would carry on without the actions; the channel must answer 503 instead."""
    action_server = assistant_stack.process("action-server")
    assistant_stack.supervisor.stop(action_server)
    client = assistant_stack.rasa_client()
    try:
        with pytest.raises(AssistantUnavailableError):
            await client.send("console-1-actions_down", "what do I owe?")
    finally:
        assistant_stack.supervisor.start(action_server.spec)
    try:
        turn = await client.send("console-1-actions_down", "what do I owe?")
    finally:
        await client.aclose()
    assert turn.parse["intent"]["name"] == "check_bills"
    assert turn.replies and all(reply.text for reply in turn.replies)


# Stripe's Visa debit test number, which nothing else in the stack uses, split three ways.
@pytest.mark.parametrize(
    "card", ["4000\n0566\n5566\n5556", "4000 - 0566 - 5566 - 5556", "4000/0566/5566/5556"]
)
def test_channel_refuses_a_card_number_before_anything_reaches_the_tracker_store(
    assistant_stack, card: str
) -> None:
    sender = "console-1-card_guard"
    body = {"sender": sender, "message": f"my card {card}"}
    response = _post(assistant_stack, body, assistant_stack.rasa_secret)
    assert response.status_code == 200
    turn = response.json()
    assert turn["replies"][0]["custom"] == {"card_number_refused": True}
    assert "card number" in turn["replies"][0]["text"] and turn["events"] == []
    tracker_db = Path(assistant_stack.process("rasa").spec.env["RASA_TRACKER_DB"])
    with sqlite3.connect(tracker_db) as db:
        stored = list(db.execute("SELECT * FROM events WHERE sender_id = ?", (sender,)))
        everything = " ".join(str(row) for row in db.execute("SELECT * FROM events"))
    assert stored == []
    assert "my card" not in everything  # no other sender's events carry the refused message either
