"""Out-of-range numbers, control characters and values the database refuses get a clear 4xx, never
a 500, on SQLite and PostgreSQL alike; a refused chat message never reaches the assistant."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import ConversationTurn
from tests.console.conftest import PASSWORD, FakeChannel, Seed, login

BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
HUGE = "99999999999999999999"
MAX_ID = 2**31 - 1  # ids are INTEGER columns (db/models.py)


def _turns(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(ConversationTurn)) or 0


@BACKENDS
def test_ids_beyond_bigint_are_422_and_the_largest_is_a_404(client: TestClient, seed: Seed) -> None:
    login(client, "viewer")
    for path in (f"/api/transcripts/{HUGE}", f"/api/transcripts/{MAX_ID + 1}", "/api/transcripts/0"):
        response = client.get(path)
        assert response.status_code == 422, path
        assert "conversation_id" in response.json()["detail"]
    assert client.get(f"/api/transcripts/{MAX_ID}").status_code == 404
    page = client.get(f"/transcripts/{HUGE}")
    assert page.status_code == 422
    assert "conversation_id" in page.text and "<html" in page.text.lower()
    assert client.get(f"/transcripts/{MAX_ID}").status_code == 404


@BACKENDS
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"user_id": HUGE}, "user_id"),
        ({"user_id": str(MAX_ID + 1)}, "user_id"),
        ({"offset": str(10**6 + 1)}, "offset"),
        ({"offset": HUGE}, "offset"),
        ({"limit": "501"}, "limit"),
        ({"limit": HUGE}, "limit"),
        ({"threshold": "nan"}, "threshold"),
    ],
)
def test_api_list_refuses_out_of_range_numbers(
    client: TestClient, seed: Seed, params: dict[str, str], field: str
) -> None:
    login(client, "viewer")
    response = client.get("/api/transcripts", params=params)
    assert response.status_code == 422
    assert field in response.json()["detail"]


@BACKENDS
def test_api_list_accepts_the_bounds(client: TestClient, seed: Seed) -> None:
    login(client, "viewer")
    for params in ({"user_id": str(MAX_ID)}, {"offset": str(10**6)}, {"limit": "500"}, {"to": "9999-12-31"}):
        response = client.get("/api/transcripts", params=params)
        assert response.status_code == 200, (params, response.text)
        assert response.json() == []


@BACKENDS
def test_transcripts_page_ignores_or_clamps_junk_filters(client: TestClient, seed: Seed) -> None:
    login(client, "viewer")
    for params in (
        {"user_id": HUGE},
        {"user_id": "9" * 500},
        {"user_id": "²"},
        {"to": "9999-12-31"},
        {"threshold": "nan", "low_confidence": "1"},
        {"threshold": "inf", "low_confidence": "1"},
    ):
        response = client.get("/transcripts", params=params)
        assert response.status_code == 200, params


@BACKENDS
@pytest.mark.parametrize("text", ["a\x00b", "\x00", "esc \x1b[31m", "bell\x07", "\x7f\x1f", "lone \ud800"])
def test_chat_refuses_control_characters_before_asking_the_assistant(
    client: TestClient,
    seed: Seed,
    fake_channel: FakeChannel,
    session_factory: sessionmaker[Session],
    text: str,
) -> None:
    csrf = login(client, "tester")
    # Escaped JSON: a lone surrogate cannot be encoded as UTF-8, yet JSON can carry it.
    body = json.dumps({"session": "s1", "text": text}, ensure_ascii=True)
    response = client.post(
        "/api/chat", content=body, headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "text" in response.json()["detail"]
    assert fake_channel.received == []
    assert _turns(session_factory) == 0


@BACKENDS
def test_chat_keeps_tabs_and_newlines(
    client: TestClient, seed: Seed, fake_channel: FakeChannel, session_factory: sessionmaker[Session]
) -> None:
    csrf = login(client, "tester")
    response = client.post(
        "/api/chat", json={"session": "s1", "text": "pay\tmy\nbill\r\n"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200, response.text
    assert fake_channel.received[0]["message"] == "pay\tmy\nbill\r\n"
    assert _turns(session_factory) == 1


@BACKENDS
def test_a_value_the_database_refuses_is_a_400(
    client: TestClient, seed: Seed, console_database_url: str
) -> None:
    # PostgreSQL refuses NUL in text parameters (a DataError); SQLite stores and compares it.
    expected = 400 if console_database_url.startswith("postgresql") else 200
    login(client, "viewer")
    api = client.get("/api/transcripts", params={"intent": "pay\x00bill"})
    assert api.status_code == expected
    page = client.get("/transcripts", params={"intent": "pay\x00bill"})
    assert page.status_code == expected
    if expected == 400:
        assert "cannot store" in api.json()["detail"]
        assert "cannot store" in page.text
    login_answer = client.post("/api/login", json={"username": "view\x00er", "password": PASSWORD})
    assert login_answer.status_code == (400 if expected == 400 else 401)


@pytest.mark.parametrize("text", [" ", "\n\n", "\t \u3000", "\u00a0"])
def test_a_blank_chat_message_is_a_422_and_never_reaches_the_assistant(
    client: TestClient, seed: Seed, fake_channel: FakeChannel, text: str
) -> None:
    # The channel refuses a blank message with a 400, which the console answered with a 500.
    response = client.post("/api/chat", json={"session": "s1", "text": text}, auth=("tester", PASSWORD))
    assert response.status_code == 422
    assert "blank" in response.json()["detail"]
    assert fake_channel.received == []
