"""Attack on the tracker store's busy saves (af7b470) under the real Rasa server with the trained
model and the action server (the session's stack, tests/helpers/stack.py).

A save that meets the SQLite write lock (a long retention delete in another process) is retried for
up to 60 s (asyncio sleeps) before the turn's answer goes back, but the edges wait
RASA_TIMEOUT_SECONDS (30 s) for it. A store locked for ~40 s then:

- loses the turn: the edge gives up at 30 s and closes the connection, Sanic cancels the request's
  task, and the cancellation lands in the save's asyncio.sleep: the turn ran (its actions were
  called) but is neither stored nor kept for the next turn (CancelledError is not OperationalError);
- answers no user: "I couldn't answer that in time, so I can't tell whether I did it" (bot) / 504
  (console) for a turn that was processed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from rasa_client import AssistantNoAnswerError, AssistantTurn, RasaClient
from settings import Settings
from tests.attack12r.test_tracker_store_stack import _send, _tracker_db, _user_texts, _users_of
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
LOCKED_SECONDS = (
    40  # a retention delete of many rows: longer than the edges wait, shorter than the save retries
)


def _locked_turn(stack: AssistantStack, sender: str) -> AssistantTurn | AssistantNoAnswerError:
    """Send "hello second" as the edges do (their timeout) while another connection holds the write
    lock for LOCKED_SECONDS; the turn, or the edge's no-answer error."""
    timeout = Settings(_env_file=None).rasa_timeout_seconds  # what the bot and the console wait

    async def run() -> AssistantTurn | AssistantNoAnswerError:
        client = RasaClient(stack.rasa_url, stack.rasa_secret, timeout)
        holder = sqlite3.connect(_tracker_db(stack), timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # what a retention DELETE of many rows holds
            task = asyncio.create_task(client.send(sender, "hello second"))
            await asyncio.sleep(LOCKED_SECONDS)
            holder.execute("COMMIT")
            try:
                return await task
            except AssistantNoAnswerError as error:
                return error
        finally:
            holder.close()
            await client.aclose()

    return asyncio.run(run())


def test_a_turn_processed_while_the_store_is_locked_is_never_lost(assistant_stack: AssistantStack) -> None:
    stack = assistant_stack
    sender = f"console-9999-lost_{uuid.uuid4().hex[:8]}"
    tracker_db: Path = _tracker_db(stack)
    _send(stack, sender, "hello first")
    _locked_turn(stack, sender)
    _send(stack, sender, "hello third")  # the store is free again: the next turn stores what was kept
    assert _user_texts(tracker_db).get(sender) == ["hello first", "hello second", "hello third"]


def test_a_turn_processed_while_the_store_is_locked_is_answered_within_the_edges_timeout(
    assistant_stack: AssistantStack,
) -> None:
    sender = f"console-9999-late_{uuid.uuid4().hex[:8]}"
    _send(assistant_stack, sender, "hello first")
    answered = _locked_turn(assistant_stack, sender)
    assert isinstance(answered, AssistantTurn), answered
    assert _users_of(answered) == ["hello second"]
