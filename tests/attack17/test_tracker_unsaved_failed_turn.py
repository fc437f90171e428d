"""Attack 17: the tracker store hands out the very object it keeps for a failed save, so a later
turn that FAILS before saving leaves its events in it, and they are stored with the next turn.

rasa_project/channels/tracker_store.py (robust12, joined with the kept trackers in 15cf769):
a save that fails past SAVE_RETRY_WINDOW_SECONDS keeps the tracker in `_unsaved`; `retrieve`
(store still busy) returns `self._unsaved[sender_id]` itself. Rasa's turn appends to that object;
when the turn fails before its save (the user got a 503), the appended events stay in `_unsaved`
and the next `retrieve` stores them: a turn the user was told failed becomes history (its message,
the slots its actions set). The kept-tracker path (db2d2e2) guards exactly this with its length
check (tests/rasa/test_tracker_store.py "after_failed_turn"); the unsaved path does not.
Fixed: `retrieve` hands out a copy of the unsaved tracker.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.rasa_script import require_rasa_env, run_in_rasa_env

SCRIPT = r"""
import asyncio, json, sqlite3, sys
import channels.tracker_store as paychat_store
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

paychat_store.SAVE_RETRY_WINDOW_SECONDS = 0.5  # give up quickly
tracker_db, sender = sys.argv[1], sys.argv[2]
domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)

def texts(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []

def stored():
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as db:
        query = "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id"
        return [json.loads(data)["text"] for (data,) in db.execute(query, (sender,))]

def say(tracker, text):
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))

async def main():
    tracker = DialogueStateTracker(sender, domain.slots)
    say(tracker, "hello 0")
    await store.save(tracker)
    holder = sqlite3.connect(tracker_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a long retention delete holding the write lock
    say(tracker, "hello 1")
    await store.save(tracker)  # not stored: kept in memory for the next turn
    # The next turn: Rasa retrieves (the store still busy: the kept object itself) and appends
    # the user's message, then the turn fails before its save (the channel answers 503).
    failing = await store.retrieve(sender)
    say(failing, "failed turn")
    holder.execute("COMMIT")
    # The turn after: the store is free again.
    after = texts(await store.retrieve(sender))
    print(json.dumps({"after": after, "stored": stored()}), flush=True)

asyncio.run(main())
"""


def test_a_failed_turn_on_an_unsaved_tracker_is_not_stored(tmp_path: Path) -> None:
    require_rasa_env()
    tracker_db = tmp_path / "rasa-tracker.db"
    done = run_in_rasa_env(SCRIPT, str(tracker_db), "console-17-unsaved", tracker_db=tracker_db)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts == {"after": ["hello 0", "hello 1"], "stored": ["hello 0", "hello 1"]}
