"""Transcript search (free text over the redacted messages, Telegram id) and the CSV/JSON exports,
on SQLite and PostgreSQL, through the page and the API."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from db.models import ConversationTurn
from tests.console.conftest import Seed, channel_body, login

BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
CARD = "4242 4242 4242 4242"


def _record(session: Session, sender: str, user_id: int, is_test: bool, text: str, reply: str) -> int:
    channel = "telegram" if sender.startswith("tg-") else "console"
    turn = transcripts.record_turn(
        session, sender_id=sender, channel=channel, user_id=user_id, is_test=is_test, user_text=text,
        turn=channel_body(reply, buttons=[{"title": "Confirm", "payload": "/affirm"}]),
    )  # fmt: skip
    return turn.conversation_id


@pytest.fixture
def conversations(session_factory: sessionmaker[Session], seed: Seed) -> dict[str, int]:
    """Three conversations: Alex pays electricity, Casey asks about water, a Telegram customer greets."""
    with session_factory.begin() as session:
        alex, casey = f"console-{seed.alex_id}-a", f"console-{seed.other_test_id}-c"
        ids = {
            "alex": _record(
                session, alex, seed.alex_id, True, "pay my ELECTRICITY bill", "Pay Stadtwerke 84,20 €?"
            ),
            "casey": _record(
                session,
                casey,
                seed.other_test_id,
                True,
                "what about water",
                "You owe Berliner Wasserbetriebe 32,50 €.",
            ),
            "telegram": _record(
                session, "tg-555", seed.customer_id, False, '=HYPERLINK("x") hello', "Hello!"
            ),
        }
        # A row stored before card numbers were scrubbed (or by a detector that missed one): the
        # search and the export redact it when they read it.
        session.execute(
            update(ConversationTurn)
            .where(ConversationTurn.conversation_id == ids["casey"])
            .values(user_text=f"what about water, card {CARD}")
        )
    return ids


@BACKENDS
def test_free_text_search_finds_words_in_user_and_assistant_messages_case_insensitively(
    client: TestClient, conversations: dict[str, int]
) -> None:
    login(client, "viewer")

    def found(**params: str) -> set[int]:
        response = client.get("/api/transcripts", params=params)
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()}

    assert found(q="electricity") == {conversations["alex"]}
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in "ELECTRICITY")  # NFKC-folded like the text
    assert found(q=fullwidth) == {conversations["alex"]}
    assert found(q="wasserbetriebe") == {conversations["casey"]}  # in the assistant's reply
    assert found(q="confirm") == set(conversations.values())  # a button title
    assert found(q="nothing like this") == set()
    assert found(q="water", kind="live") == set()  # combined with the other filters
    page = client.get("/transcripts", params={"q": "Electricity"})
    assert page.status_code == 200
    assert f'href="/transcripts/{conversations["alex"]}"' in page.text
    assert f'href="/transcripts/{conversations["casey"]}"' not in page.text


@BACKENDS
def test_search_runs_over_redacted_text_so_a_card_number_is_never_found(
    client: TestClient, conversations: dict[str, int]
) -> None:
    login(client, "viewer")
    assert client.get("/api/transcripts", params={"q": CARD}).json() == []
    assert client.get("/api/transcripts", params={"q": "4242"}).json() == []
    hits = client.get("/api/transcripts", params={"q": "card number removed"}).json()
    assert [c["id"] for c in hits] == [conversations["casey"]]


@BACKENDS
def test_lookup_by_telegram_id(client: TestClient, conversations: dict[str, int]) -> None:
    login(client, "viewer")
    assert [c["id"] for c in client.get("/api/transcripts", params={"telegram_id": 555}).json()] == [
        conversations["telegram"]
    ]
    assert client.get("/api/transcripts", params={"telegram_id": 556}).json() == []
    page = client.get("/transcripts", params={"telegram_id": "555"})
    assert f'href="/transcripts/{conversations["telegram"]}"' in page.text
    assert f'href="/transcripts/{conversations["alex"]}"' not in page.text


@BACKENDS
def test_exports_hold_the_filtered_turns_redacted_as_csv_and_json(
    client: TestClient, conversations: dict[str, int], seed: Seed
) -> None:
    login(client, "viewer")
    response = client.get("/api/transcripts.csv", params={"kind": "test"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {int(r["conversation_id"]) for r in rows} == {conversations["alex"], conversations["casey"]}
    casey = next(r for r in rows if int(r["conversation_id"]) == conversations["casey"])
    assert casey["user_text"] == "what about water, card [card number removed]"
    assert "32,50 €" in casey["assistant_text"] and "[Confirm]" in casey["assistant_text"]
    assert CARD not in response.text

    as_json = client.get("/api/transcripts.json", params={"telegram_id": "555"})
    assert as_json.status_code == 200
    (row,) = as_json.json()
    assert row["telegram_user_id"] == 555 and row["sender_id"] == "tg-555" and row["is_test"] is False
    assert row["user_text"].startswith("=HYPERLINK")  # JSON keeps the text as it is ...
    csv_row = next(
        csv.DictReader(io.StringIO(client.get("/api/transcripts.csv", params={"telegram_id": "555"}).text))
    )
    assert csv_row["user_text"].startswith("'=HYPERLINK")  # ... a spreadsheet must not run it
    searched = client.get("/api/transcripts.json", params={"q": "electricity"}).json()
    assert [(r["conversation_id"], r["seq"]) for r in searched] == [(conversations["alex"], 1)]
    page = client.get("/transcripts", params={"q": "water", "kind": "test"})
    assert 'href="/api/transcripts.csv?q=water&amp;kind=test"' in page.text
