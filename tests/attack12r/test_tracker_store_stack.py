"""attack12r: paychat's tracker store (WAL, synchronous=NORMAL, one kept connection) under the real
Rasa server with the trained model, the action server and the demo database (the session's stack).

Erasure (/forget, retention) deletes events from another process while Rasa keeps its connection open.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from privacy.cards import looks_like_card_number
from rasa_client import AssistantTurn, ConversationUnreadableError
from tests.helpers.stack import AssistantStack
from transcripts.forgetting import forget_tracker, tracker_events

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _tracker_db(stack: AssistantStack) -> Path:
    return Path(stack.env["PAYCHAT_VAR_DIR"]) / "rasa-tracker.db"


def _send(stack: AssistantStack, sender: str, text: str) -> AssistantTurn:
    async def run() -> AssistantTurn:
        client = stack.rasa_client()
        try:
            return await client.send(sender, text)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _events_of(stack: AssistantStack, sender: str) -> list[tuple[Any, ...]]:
    """A sender's stored events (id, type, timestamp, start of data): the evidence in a failure."""
    with sqlite3.connect(f"file:{_tracker_db(stack)}?mode=ro", uri=True) as db:
        query = (
            "SELECT id, type_name, timestamp, substr(data, 1, 90) FROM events WHERE sender_id = ? ORDER BY id"
        )
        return [tuple(row) for row in db.execute(query, (sender,))]


def _user_texts(tracker_db: Path) -> dict[str, list[str]]:
    """Every sender's user messages in Rasa's tracker store, in order (read-only connection)."""
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id"
        ).fetchall()
    texts: dict[str, list[str]] = {}
    for sender, data in rows:
        texts.setdefault(sender, []).append(json.loads(data).get("text"))
    return texts


def test_a_forgotten_users_words_leave_the_tracker_files(assistant_stack: AssistantStack) -> None:
    stack = assistant_stack
    sender = f"tg-{uuid.uuid4().int % 10**9 + 10**9}"
    secret = f"Anna Weber {uuid.uuid4().hex[:12]}"
    _send(stack, sender, f"hi, I am {secret}")
    tracker_db = _tracker_db(stack)
    assert tracker_events(tracker_db, sender) > 0

    # What bot/rights.py does for /forget, from this (another) process while Rasa runs.
    assert forget_tracker(tracker_db, [sender]) > 0
    assert tracker_events(tracker_db, sender) == 0

    files = sorted(p for p in tracker_db.parent.glob(tracker_db.name + "*") if p.is_file())
    holding = [p.name for p in files if secret.encode() in p.read_bytes()]
    assert holding == [], f"the forgotten words are still on disk in {holding}"


def test_concurrent_turns_of_many_conversations_keep_their_own_events(
    assistant_stack: AssistantStack,
) -> None:
    """Probe that held: 24 conversations x 3 turns at once on the one kept connection.

    Once flaky (a turn came back with events []): a hex run id of digits only ("12345678", one run
    in 40) made "hello console-9001-12345678 1" a 13-digit Luhn-valid number, which the channel
    refuses as a card number (no events) before Rasa sees it. The run id is letters now."""
    stack = assistant_stack
    run_id = uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    senders = [f"console-9{n:03d}-{run_id}" for n in range(24)]
    assert not any(looks_like_card_number(f"hello {s} {n}") for s in senders for n in range(3))

    async def conversation(client: object, sender: str) -> list[AssistantTurn]:
        turns = []
        for n in range(3):
            turns.append(await client.send(sender, f"hello {sender} {n}"))  # type: ignore[attr-defined]
        return turns

    async def run() -> list[list[AssistantTurn]]:
        client = stack.rasa_client(timeout_seconds=120)
        try:
            return await asyncio.gather(*(conversation(client, s) for s in senders))
        finally:
            await client.aclose()

    results = asyncio.run(run())
    for sender, turns in zip(senders, results, strict=True):
        for n, turn in enumerate(turns):
            texts = [e.get("text") for e in turn.events if e.get("event") == "user"]
            assert texts == [f"hello {sender} {n}"], (sender, n, turn.events)
    stored = _user_texts(_tracker_db(stack))
    for sender in senders:
        # A message the NLU doubts gets Rasa's two-stage fallback, whose affirmation rewinds and logs
        # the next message twice: compare first appearances; no other sender's text may be there.
        texts = list(dict.fromkeys(stored.get(sender, [])))
        assert texts == [f"hello {sender} {n}" for n in range(3)], _events_of(stack, sender)
    log = (Path(stack.env["PAYCHAT_VAR_DIR"]) / "log").glob("*")
    assert not any("database is locked" in p.read_text(errors="replace") for p in log if p.is_file())


def test_a_turn_in_flight_does_not_bring_back_forgotten_events(assistant_stack: AssistantStack) -> None:
    stack = assistant_stack
    sender = f"tg-{uuid.uuid4().int % 10**9 + 10**9}"
    secret = f"Anna Weber {uuid.uuid4().hex[:12]}"
    _send(stack, sender, f"hi, I am {secret}")
    tracker_db = _tracker_db(stack)

    action_server = stack.process("action-server").popen.pid
    os.kill(action_server, signal.SIGSTOP)  # the next turn's custom action waits: the turn is in flight
    try:

        async def in_flight() -> AssistantTurn:
            client = stack.rasa_client(timeout_seconds=120)
            try:
                task = asyncio.create_task(client.send(sender, "what bills do I have"))
                await asyncio.sleep(3)  # Rasa has read the tracker and is calling the action server
                assert not task.done()
                forgotten = await asyncio.to_thread(forget_tracker, tracker_db, [sender])
                assert forgotten > 0 and tracker_events(tracker_db, sender) == 0
                os.kill(action_server, signal.SIGCONT)
                return await task
            finally:
                await client.aclose()

        asyncio.run(in_flight())
    finally:
        os.kill(action_server, signal.SIGCONT)
    remaining = _user_texts(tracker_db).get(sender, [])
    assert not any(secret in (text or "") for text in remaining), remaining


def _users_of(turn: AssistantTurn) -> list[str]:
    return [str(e.get("text")) for e in turn.events if e.get("event") == "user"]


def test_one_senders_messages_at_once_each_get_their_own_turns_events(
    assistant_stack: AssistantStack,
) -> None:
    """Probe that held: the lock store serialises one sender's turns; each answer shows its own."""
    stack = assistant_stack
    sender = f"console-9999-same_{uuid.uuid4().hex[:8]}"

    async def run() -> list[AssistantTurn]:
        client = stack.rasa_client(timeout_seconds=120)
        try:
            return await asyncio.gather(*(client.send(sender, f"hello number {n}") for n in range(6)))
        finally:
            await client.aclose()

    turns = asyncio.run(run())
    assert [_users_of(turn) for turn in turns] == [[f"hello number {n}"] for n in range(6)]
    assert all(turn.events[0].get("event") == "user" for turn in turns)


def test_a_restarted_conversation_shows_only_each_turns_events(assistant_stack: AssistantStack) -> None:
    """Probe that held: /restart (what a test user's reset sends) and the turn after it."""
    stack = assistant_stack
    sender = f"console-9999-restart_{uuid.uuid4().hex[:8]}"
    first = _send(stack, sender, "hello there")
    restart = _send(stack, sender, "/restart")
    after = _send(stack, sender, "hello again")
    assert _users_of(first) == ["hello there"]
    assert _users_of(restart) == ["/restart"] and restart.events[0].get("event") == "user"
    assert _users_of(after) == ["hello again"] and after.events[0].get("event") == "user"
    assert not any(e.get("event") == "restart" for e in after.events)


def test_after_forget_the_next_turn_starts_from_nothing(assistant_stack: AssistantStack) -> None:
    """Probe that held: Rasa, holding its kept connection, reads no forgotten event afterwards."""
    stack = assistant_stack
    sender = f"tg-{uuid.uuid4().int % 10**9 + 10**9}"
    secret = f"Anna Weber {uuid.uuid4().hex[:12]}"
    _send(stack, sender, f"hi, I am {secret}")
    _send(stack, sender, "what bills do I have")
    tracker_db = _tracker_db(stack)
    assert forget_tracker(tracker_db, [sender]) > 0
    turn = _send(stack, sender, "hello")
    assert _users_of(turn) == ["hello"]
    assert _user_texts(tracker_db).get(sender) == ["hello"]
    assert secret not in json.dumps(turn.slots)


def test_a_turn_answered_is_a_turn_stored_even_when_the_store_was_busy(
    assistant_stack: AssistantStack,
) -> None:
    stack = assistant_stack
    sender = f"console-9999-busy_{uuid.uuid4().hex[:8]}"
    tracker_db = _tracker_db(stack)
    _send(stack, sender, "hello first")

    async def run() -> AssistantTurn:
        client = stack.rasa_client(timeout_seconds=120)
        holder = sqlite3.connect(tracker_db, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # what a retention DELETE of many rows holds
            task = asyncio.create_task(client.send(sender, "hello second"))
            await asyncio.sleep(35)  # longer than the store's busy_timeout (30 s)
            holder.execute("COMMIT")
            return await task
        finally:
            holder.close()
            await client.aclose()

    answered = asyncio.run(run())
    assert _users_of(answered) == ["hello second"] and answered.replies
    assert _user_texts(tracker_db).get(sender) == ["hello first", "hello second"]


def test_a_conversation_the_store_cannot_read_is_refused_not_started_afresh(
    assistant_stack: AssistantStack,
) -> None:
    """Rasa's FailSafeTrackerStore answers "no tracker" when the store fails to read: the turn went on
    from an empty conversation (or came back with empty details). Now: 503 conversation_unreadable."""
    stack = assistant_stack
    sender = f"console-9999-unread_{uuid.uuid4().hex[:8]}"
    tracker_db = _tracker_db(stack)
    _send(stack, sender, "hello first")
    other = sqlite3.connect(tracker_db, timeout=30, isolation_level=None)
    try:
        other.execute("ALTER TABLE events RENAME TO events_away")  # every read of the store fails
        try:
            with pytest.raises(ConversationUnreadableError):
                _send(stack, sender, "hello second")
        finally:
            other.execute("ALTER TABLE events_away RENAME TO events")
    finally:
        other.close()
    after = _send(stack, sender, "hello third")
    assert _users_of(after) == ["hello third"] and after.replies
    assert list(dict.fromkeys(_user_texts(tracker_db).get(sender, []))) == ["hello first", "hello third"]
