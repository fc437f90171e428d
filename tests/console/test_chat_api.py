"""POST /api/chat against a fake paychat channel: validation, errors, sender ids, recording."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Conversation, ConversationTurn
from payments.users import user_id_for_sender
from tests.console.conftest import FakeChannel, Seed, channel_body, login


@pytest.fixture
def tester(client: TestClient, seed: Seed) -> dict[str, str]:
    """Log the client in as a tester; the headers for JSON POSTs."""
    return {"X-CSRF-Token": login(client, "tester")}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"session": "s1", "text": ""}, "text"),
        ({"session": "s1", "text": "x" * 4097}, "text"),
        ({"session": "bad session!", "text": "hi"}, "session"),
        ({"session": "s" * 65, "text": "hi"}, "session"),
        ({"session": "", "text": "hi"}, "session"),
        ({"text": "hi"}, "session"),
        ({"session": "s1"}, "text"),
        ({"session": "s1", "text": "hi", "user_id": "abc"}, "user_id"),
        ({"session": "s1", "text": "hi", "user_id": 0}, "user_id"),
        ({"session": "s1", "text": "hi", "extra": 1}, "extra"),
        ({"session": ["s1"], "text": "hi"}, "session"),
    ],
)
def test_bad_input_gets_a_422_naming_the_field(
    client: TestClient, tester: dict[str, str], fake_channel: FakeChannel, body: object, fragment: str
) -> None:
    response = client.post("/api/chat", json=body, headers=tester)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]
    assert fake_channel.received == []


def test_malformed_json_and_wrong_content_type_are_4xx(client: TestClient, tester: dict[str, str]) -> None:
    broken = client.post(
        "/api/chat", content=b"{not json", headers={**tester, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    form = client.post("/api/chat", data={"session": "s1", "text": "hi"}, headers=tester)
    assert 400 <= form.status_code < 500


def test_a_card_number_is_refused_and_never_sent_or_recorded(
    client: TestClient,
    tester: dict[str, str],
    fake_channel: FakeChannel,
    session_factory: sessionmaker[Session],
) -> None:
    response = client.post(
        "/api/chat", json={"session": "s1", "text": "my card 4242 4242 4242 4242"}, headers=tester
    )
    assert response.status_code == 422
    assert "card number" in response.json()["detail"]
    assert fake_channel.received == []
    with session_factory() as session:
        assert session.scalars(select(ConversationTurn)).all() == []


def test_only_test_users_can_be_impersonated(
    client: TestClient, tester: dict[str, str], seed: Seed, fake_channel: FakeChannel
) -> None:
    for user_id in (seed.customer_id, 9999):
        response = client.post(
            "/api/chat", json={"session": "s1", "text": "hi", "user_id": user_id}, headers=tester
        )
        assert response.status_code == 404
        assert "not a test user" in response.json()["detail"]
    assert fake_channel.received == []


def test_rasa_unreachable_is_a_503_with_a_clear_message(
    client: TestClient,
    tester: dict[str, str],
    fake_channel: FakeChannel,
    session_factory: sessionmaker[Session],
) -> None:
    fake_channel.status = 502
    response = client.post("/api/chat", json={"session": "s1", "text": "hi"}, headers=tester)
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
    with session_factory() as session:
        assert session.scalars(select(Conversation)).all() == []


def test_a_turn_uses_the_contract_sender_id_and_is_recorded_as_a_test(
    client: TestClient,
    tester: dict[str, str],
    seed: Seed,
    fake_channel: FakeChannel,
    session_factory: sessionmaker[Session],
) -> None:
    fake_channel.bodies.append(
        channel_body(
            "Pay Stadtwerke 84,20 € with Visa •••• 4242?",
            intent="pay_bill",
            confidence=0.91,
            buttons=[{"title": "Confirm", "payload": "/affirm"}, {"title": "Cancel", "payload": "/deny"}],
            entities=[{"entity": "biller", "value": "electricity"}],
            slots={"biller": "electricity", "pending_payment_id": None},
            events=[
                {"event": "user", "text": "pay my electricity bill"},
                {"event": "action", "name": "action_pay_bill"},
                {"event": "action", "name": "action_listen"},
            ],
        )
    )
    response = client.post(
        "/api/chat", json={"session": "abc_1", "text": "pay my electricity bill"}, headers=tester
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert fake_channel.received[0]["sender"] == f"console-{seed.alex_id}-abc_1"
    assert data["replies"] == [
        {
            "text": "Pay Stadtwerke 84,20 € with Visa •••• 4242?",
            "buttons": [{"title": "Confirm", "payload": "/affirm"}, {"title": "Cancel", "payload": "/deny"}],
        }
    ]
    assert data["parse"]["intent"] == {"name": "pay_bill", "confidence": 0.91}
    assert data["parse"]["ranking"][0]["name"] == "pay_bill"
    assert data["parse"]["entities"] == [{"entity": "biller", "value": "electricity"}]
    assert data["slots"]["biller"] == "electricity"
    assert data["actions"] == ["action_pay_bill"]
    assert data["payment"] is None
    assert data["user_id"] == seed.alex_id and data["seq"] == 1

    other = client.post(
        "/api/chat", json={"session": "abc_1", "text": "hello", "user_id": seed.other_test_id}, headers=tester
    )
    assert fake_channel.received[1]["sender"] == f"console-{seed.other_test_id}-abc_1"
    with session_factory() as session:
        conversation = session.get(Conversation, data["conversation_id"])
        assert conversation is not None
        assert (conversation.channel, conversation.is_test, conversation.user_id) == (
            "console",
            True,
            seed.alex_id,
        )
        turn = session.scalars(
            select(ConversationTurn).where(ConversationTurn.conversation_id == conversation.id)
        ).one()
        assert (turn.user_text, turn.intent, turn.confidence) == ("pay my electricity bill", "pay_bill", 0.91)
        assert other.json()["conversation_id"] != conversation.id


def test_the_chat_page_lists_only_test_users(client: TestClient, tester: dict[str, str], seed: Seed) -> None:
    page = client.get("/chat")
    assert page.status_code == 200
    assert "Alex Demo" in page.text and "Casey Test" in page.text
    assert "Real Customer" not in page.text
    assert f'value="{seed.alex_id}" selected' in page.text
    users = client.get("/api/test-users").json()
    assert {u["name"] for u in users} == {"Alex Demo", "Casey Test"}


def test_openapi_document_describes_the_chat_endpoint(client: TestClient, tester: dict[str, str]) -> None:
    document = client.get("/api/openapi.json").json()
    chat = document["paths"]["/api/chat"]["post"]
    assert "503" in chat["responses"]
    schema = document["components"]["schemas"]["ChatRequest"]["properties"]
    assert schema["text"]["maxLength"] == 4096
    assert schema["session"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"


def test_a_uuid_session_key_from_a_client_is_accepted_and_resolves_to_the_test_user(
    client: TestClient,
    tester: dict[str, str],
    seed: Seed,
    fake_channel: FakeChannel,
    session_factory: sessionmaker[Session],
) -> None:
    # Browsers and scripts make conversation keys with crypto.randomUUID() / uuid.uuid4(): hyphens.
    key = str(uuid.uuid4())
    response = client.post("/api/chat", json={"session": key, "text": "hi"}, headers=tester)
    assert response.status_code == 200, response.text
    sender = fake_channel.received[0]["sender"]
    assert sender == f"console-{seed.alex_id}-{key}"
    # The actions resolve the same sender id to the test user (one pattern for both sides).
    with session_factory() as session:
        assert user_id_for_sender(session, sender) == seed.alex_id
