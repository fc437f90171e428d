"""attack12r: transcripts.record_turn (conversation and last turn read in one query) under concurrent
turns of one conversation, on SQLite and on PostgreSQL (the two databases the core supports).

Two console tabs on one session key (or a retried request) reach record_turn together: Rasa's lock
store serialises the turns themselves, not their recording afterwards.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from db.models import ConversationTurn
from tests.console.conftest import Seed, channel_body
from transcripts.forgetting import forget_conversations

WRITERS = 6


def _record(session_factory: sessionmaker[Session], sender: str, user_id: int, text: str) -> Any:
    with session_factory.begin() as session:
        return transcripts.record_turn(
            session,
            sender_id=sender,
            channel="console",
            user_id=user_id,
            is_test=True,
            user_text=text,
            turn=channel_body(),
        )


def _race(session_factory: sessionmaker[Session], sender: str, user_id: int) -> list[BaseException]:
    barrier = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            _record(session_factory, sender, user_id, f"turn {n}")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def _stored(session_factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    with session_factory() as session:
        rows = session.execute(select(ConversationTurn.seq, ConversationTurn.user_text)).all()
    return sorted((seq, text) for seq, text in rows)


@pytest.mark.parametrize(
    "console_database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_concurrent_turns_of_one_conversation_are_all_recorded(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    sender = f"console-{seed.alex_id}-race"
    _record(session_factory, sender, seed.alex_id, "first")
    failures = _race(session_factory, sender, seed.alex_id)
    stored = _stored(session_factory)
    assert failures == [], [repr(f)[:200] for f in failures]
    assert [seq for seq, _ in stored] == list(range(1, WRITERS + 2))
    assert sorted(text for _, text in stored[1:]) == sorted(f"turn {n}" for n in range(WRITERS))


@pytest.mark.parametrize(
    "console_database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_first_turns_racing_share_one_conversation(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    sender = f"console-{seed.alex_id}-first-race"
    failures = _race(session_factory, sender, seed.alex_id)
    stored = _stored(session_factory)
    # Whatever the database does, no turn may be stored twice under one seq and none lost silently.
    assert len(stored) + len(failures) == WRITERS
    assert len({seq for seq, _ in stored}) == len(stored)
    assert failures == [], [repr(f)[:200] for f in failures]


@pytest.mark.parametrize(
    "console_database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_forgotten_conversation_starts_again_at_one(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    sender = f"console-{seed.alex_id}-forgotten"
    for n in range(3):
        _record(session_factory, sender, seed.alex_id, f"before {n}")
    with session_factory.begin() as session:
        assert forget_conversations(session, user_id=None, sender_ids=[sender]) == 3
    view = _record(session_factory, sender, seed.alex_id, "after")
    assert view.seq == 1
    assert _stored(session_factory) == [(1, "after")]
