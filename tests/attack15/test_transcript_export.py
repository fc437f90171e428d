"""attack15: transcript lookup and export with a Telegram id or user id that is not one, and CSV
cells a spreadsheet still runs as formulas.

An unreadable `telegram_id` (a pasted " 555", "555abc", "0") or `user_id` is silently dropped by the
page and by both exports, so "export this customer's transcripts" exports everyone's (the JSON list
API refuses the same value with 422). The CSV defusing looks only at the first character, so a user's
message starting with a space, a no-break space or a newline before "=" reaches the file as is
(LibreOffice with "trim spaces", Google Sheets' import trim the space and run the formula).
"""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from tests.console.conftest import Seed, channel_body, login


def _record(session: Session, sender: str, user_id: int, is_test: bool, text: str) -> None:
    transcripts.record_turn(
        session,
        sender_id=sender,
        channel="telegram" if sender.startswith("tg-") else "console",
        user_id=user_id,
        is_test=is_test,
        user_text=text,
        turn=channel_body("Hello!"),
    )


@pytest.fixture
def two_customers(session_factory: sessionmaker[Session], seed: Seed) -> None:
    """The Telegram customer 555 and the test user Alex, one conversation each."""
    with session_factory.begin() as session:
        _record(session, "tg-555", seed.customer_id, False, "hello from 555")
        _record(session, f"console-{seed.alex_id}-a", seed.alex_id, True, "hello from alex")


@pytest.mark.parametrize(
    "params",
    [
        {"telegram_id": " 555"},
        {"telegram_id": "555abc"},
        {"telegram_id": "0"},
        {"telegram_id": "-555"},
        {"user_id": "1e3"},
    ],
)
@pytest.mark.parametrize("path", ["/api/transcripts.csv", "/api/transcripts.json"])
def test_an_unreadable_id_never_exports_other_customers(
    client: TestClient, two_customers: None, params: dict[str, str], path: str
) -> None:
    login(client, "viewer")
    response = client.get(path, params=params)
    assert response.status_code == 422 or "hello from alex" not in response.text, response.text


@pytest.mark.parametrize("prefix", [" ", "\u00a0", "\n"])
def test_no_csv_cell_starts_a_formula_after_leading_whitespace(
    client: TestClient, session_factory: sessionmaker[Session], seed: Seed, prefix: str
) -> None:
    with session_factory.begin() as session:
        _record(session, "tg-555", seed.customer_id, False, prefix + '=HYPERLINK("http://evil.test","x")')
    login(client, "viewer")
    rows = list(csv.DictReader(io.StringIO(client.get("/api/transcripts.csv").text)))
    cell = rows[0]["user_text"]
    assert not cell.lstrip().startswith(("=", "+", "-", "@")), repr(cell)


@pytest.mark.parametrize("params", [{"telegram_id": "555abc"}, {"user_id": "1e3"}])
def test_the_transcripts_page_shows_nobody_for_an_unreadable_id(
    client: TestClient, two_customers: None, params: dict[str, str]
) -> None:
    login(client, "viewer")
    response = client.get("/transcripts", params=params)
    assert 'id="filter-error"' in response.text and "must be a positive whole number" in response.text
    assert "hello from" not in response.text
