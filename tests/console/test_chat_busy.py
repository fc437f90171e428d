"""POST /api/chat when the Rasa client's queue is full (rasa_client.admission, issue 12): a 503
that says the message was not processed and when to send it again; nothing is recorded.

The queue itself (refusing unsent beyond RASA_MAX_WAITING) is tested in tests/rasa_client; here a
client whose queue is always full stands in for it, to check the console's answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from console.app import create_app
from console.services import ConsoleServices
from db.models import Conversation
from rasa_client import AssistantBusyError, AssistantNoAnswerError, AssistantTurn
from settings import Settings
from tests.console.conftest import Seed, login


class FullQueue:
    """An assistant client whose admission queue is full: every message is refused unsent."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        """Refuse, as RasaClient does beyond RASA_MAX_WAITING."""
        raise AssistantBusyError("16 calls to Rasa in flight and 1000 waiting; not sent")

    async def aclose(self) -> None:
        """Nothing to release."""


class NoAnswer(FullQueue):
    """An assistant client that sent the message but got no answer in time (it may have acted)."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        """Time out after sending, as RasaClient does on a read timeout."""
        raise AssistantNoAnswerError("read timeout")


@pytest.fixture
def busy_client(
    console_settings: Settings, session_factory: sessionmaker[Session], seed: Seed
) -> Iterator[TestClient]:
    """A TestClient on the console app whose assistant is always busy."""
    services = ConsoleServices(session_factory=session_factory, assistant=FullQueue())
    with TestClient(create_app(console_settings, services), follow_redirects=False) as test_client:
        yield test_client


def test_a_full_queue_is_a_503_saying_not_processed_with_retry_after(
    busy_client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers = {"X-CSRF-Token": login(busy_client, "tester")}
    response = busy_client.post("/api/chat", json={"session": "s1", "text": "hi"}, headers=headers)
    assert response.status_code == 503
    assert "busy" in response.json()["detail"] and "not processed" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Not-Processed"] == "1"  # the page gives back the text and buttons
    with session_factory() as session:
        assert session.scalars(select(Conversation)).all() == []


def test_no_answer_in_time_is_not_marked_not_processed(
    console_settings: Settings, session_factory: sessionmaker[Session], seed: Seed
) -> None:
    """It may have acted (a confirmed payment): the page must not offer the same tap again."""
    services = ConsoleServices(session_factory=session_factory, assistant=NoAnswer())
    with TestClient(create_app(console_settings, services), follow_redirects=False) as client:
        headers = {"X-CSRF-Token": login(client, "tester")}
        response = client.post("/api/chat", json={"session": "s1", "text": "hi"}, headers=headers)
    assert response.status_code == 503
    assert "may have acted" in response.json()["detail"]
    assert "X-Not-Processed" not in response.headers
