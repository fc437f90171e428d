"""Database work of one console chat turn, counted (issue 12): the test user is resolved by key, not
by listing every test user, and the transcript is written in a fixed, small number of statements
whatever the conversation's length. Counts, not timings (speed is measured in bench/)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from console import chat
from console.services import ConsoleServices
from db.models import ConversationTurn, User
from observability.statements import count_statements, counting
from privacy.codes import CODE_SLOT
from tests.console.conftest import PASSWORD, Seed, channel_body, login

BUDGET_PLAIN_CONSOLE_TURN = 11


def _services(session_factory: sessionmaker[Session]) -> ConsoleServices:
    return ConsoleServices(session_factory=session_factory, assistant=None)  # type: ignore[arg-type]


def _statements(session_factory: sessionmaker[Session], work: Any) -> tuple[Any, int]:
    engine = session_factory.kw["bind"]
    count_statements(engine)
    with counting() as tally:
        result = work()
    return result, tally.statements


@pytest.fixture
def many_test_users(session_factory: sessionmaker[Session], seed: Seed) -> Seed:
    with session_factory.begin() as session:
        session.add_all([User(name=f"Load Test {n}", is_test=True) for n in range(40)])
    return seed


def test_the_test_user_is_resolved_by_key_in_one_query(
    session_factory: sessionmaker[Session], many_test_users: Seed
) -> None:
    services = _services(session_factory)
    chosen, statements = _statements(
        session_factory, lambda: chat.resolve_test_user(services, many_test_users.other_test_id)
    )
    assert chosen.id == many_test_users.other_test_id and chosen.name == "Casey Test"
    alex, default_statements = _statements(session_factory, lambda: chat.resolve_test_user(services, None))
    assert alex.id == many_test_users.alex_id
    # SQLite opens each transaction with BEGIN IMMEDIATE (db/engine.py): 1 + the lookup itself.
    assert statements <= 2 and default_statements <= 2


def test_a_customer_or_a_missing_user_is_refused(session_factory: sessionmaker[Session], seed: Seed) -> None:
    services = _services(session_factory)
    for user_id in (seed.customer_id, 999_999):
        with pytest.raises(chat.TestUserError):
            chat.resolve_test_user(services, user_id)


def test_without_alex_the_first_test_user_by_name_stands_in(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    with session_factory.begin() as session:
        session.get(User, seed.alex_id).is_test = False  # type: ignore[union-attr]
    assert chat.resolve_test_user(_services(session_factory), None).id == seed.other_test_id


def _record(session_factory: sessionmaker[Session], sender: str, user_id: int, body: dict[str, Any]) -> Any:
    with session_factory.begin() as session:
        return transcripts.record_turn(
            session,
            sender_id=sender,
            channel="console",
            user_id=user_id,
            is_test=True,
            user_text="hi",
            turn=body,
        )


def test_a_plain_turn_is_recorded_in_the_same_few_statements_however_long_the_conversation(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    sender = f"console-{seed.alex_id}-db-work"
    _record(session_factory, sender, seed.alex_id, channel_body())
    counts = []
    for _ in range(5):
        view, statements = _statements(
            session_factory, lambda: _record(session_factory, sender, seed.alex_id, channel_body())
        )
        counts.append(statements)
    assert view.seq == 6
    # BEGIN IMMEDIATE, the conversation (locked) with its last turn, the last seq read after the lock
    # (fix12r: two turns racing on PostgreSQL both read one seq without it), the turn's insert,
    # last_message_at. Before issue 12's phase 3: 6 + BEGIN.
    assert set(counts) == {5}, counts


def test_the_last_turn_read_with_the_conversation_still_masks_an_answered_code_prompt(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    sender = f"console-{seed.alex_id}-code"
    asking = channel_body("Type the code", slots={"requested_slot": CODE_SLOT})
    _record(session_factory, sender, seed.alex_id, asking)
    with session_factory.begin() as session:
        view = transcripts.record_turn(
            session,
            sender_id=sender,
            channel="console",
            user_id=seed.alex_id,
            is_test=True,
            user_text="the code is 482913",
            turn=channel_body("Thanks"),
        )
    assert "482913" not in view.user_text
    with session_factory() as session:
        stored = session.scalars(select(ConversationTurn.user_text).order_by(ConversationTurn.id)).all()
    assert stored[-1] == view.user_text and "482913" not in stored[-1]


def _request_statements(session_factory: sessionmaker[Session], send: Any) -> tuple[Any, int]:
    """Every statement the engine runs while `send()` is served (the TestClient serves one request at
    a time, so nothing else runs meanwhile)."""
    engine = session_factory.kw["bind"]
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = send()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return response, len(seen)


@pytest.mark.parametrize("auth", ["cookie", "basic"])
def test_a_plain_console_chat_turn_stays_within_its_statement_budget(
    client: TestClient, session_factory: sessionmaker[Session], seed: Seed, auth: str
) -> None:
    """The whole request: who is asking, the test user, the transcript, the user's pending codes."""
    if auth == "cookie":
        headers = {"X-CSRF-Token": login(client, "tester")}
    else:
        headers = {"Authorization": "Basic " + base64.b64encode(f"tester:{PASSWORD}".encode()).decode()}
        assert (
            client.post("/api/chat", json={"session": "warm", "text": "hi"}, headers=headers).status_code
            == 200
        )
    body = {"session": f"budget-{auth}", "text": "hi", "user_id": seed.other_test_id}
    assert client.post("/api/chat", json=body, headers=headers).status_code == 200  # the conversation exists
    counts = []
    for _ in range(3):
        response, statements = _request_statements(
            session_factory, lambda: client.post("/api/chat", json=body, headers=headers)
        )
        assert response.status_code == 200, response.text
        counts.append(statements)
    assert response.json()["seq"] == 4
    # BEGIN IMMEDIATE opens every SQLite transaction (db/engine.py). Before perf13: staff (2), test
    # user (2), transcript (5), pending codes (2) = 11.
    assert max(counts) <= BUDGET_PLAIN_CONSOLE_TURN, counts
