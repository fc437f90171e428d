"""Attack on the tracker store's save retries (rasa_project/channels/tracker_store.py) together with
Rasa's own per-conversation lock (rasa.core.lock_store, what Agent.handle_message holds for a turn).

Rasa's ticket lock lives DEFAULT_LOCK_LIFETIME (60 s) from when the turn arrived; a save that meets
a locked SQLite file retries for SAVE_RETRY_WINDOW_SECONDS (60 s) from when the turn's processing
ended. So a turn whose save retries its window outlives its own lock: the sender's next turn (the
user's "Try again" after 30 s of no answer) is let in while the first one is still saving, reads the
tracker without the first turn's events, and the two saves of one conversation race. Everything is
real and unpatched: the paychat store from endpoints.yml on a SQLite file, Rasa's InMemoryLockStore
with its default lifetime, another connection holding the write lock (a long retention delete).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.rasa_script import require_rasa_env, run_in_rasa_env

SCRIPT = r"""
import asyncio, json, sqlite3, sys, time
from rasa.core.lock_store import InMemoryLockStore, LOCK_LIFETIME
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
import channels.tracker_store as paychat_store

tracker_db, sender = sys.argv[1], sys.argv[2]
domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)
locks = InMemoryLockStore()
PROCESSING = 3.0  # the turn's prediction and actions (a payment turn calls Stripe) before its save

def stored():
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as db:
        query = "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id"
        return [json.loads(data)["text"] for (data,) in db.execute(query, (sender,))]

async def turn(text, started, log):
    # What Agent.handle_message does: the sender's lock around retrieve, processing, save.
    async with locks.lock(sender):
        log.append((text, "in", round(time.monotonic() - started, 1)))
        tracker = await store.retrieve(sender)
        tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
        tracker.update(ActionExecuted("utter_greet"))
        await asyncio.sleep(PROCESSING)
        await store.save(tracker)
        log.append((text, "saved", round(time.monotonic() - started, 1)))

async def main():
    first = DialogueStateTracker(sender, domain.slots)
    first.update(UserUttered("hello", {"name": "greet", "confidence": 1.0}))
    await store.save(first)
    holder = sqlite3.connect(tracker_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a long retention delete: the write lock for 61.5 s
    started = time.monotonic()
    log = []

    async def retry_later():
        await asyncio.sleep(30)  # the bot's Rasa timeout: "no answer", the user taps Try again
        await turn("pay my phone bill (again)", started, log)

    async def release():
        await asyncio.sleep(LOCK_LIFETIME + 1.5)
        holder.execute("COMMIT")

    await asyncio.gather(turn("pay my phone bill", started, log), retry_later(), release())
    print(json.dumps({"stored": stored(), "log": log,
                      "lock": LOCK_LIFETIME, "window": paychat_store.SAVE_RETRY_WINDOW_SECONDS}), flush=True)

asyncio.run(main())
"""


def test_two_turns_of_one_conversation_are_both_stored_when_the_store_was_locked(tmp_path: Path) -> None:
    require_rasa_env()
    tracker_db = tmp_path / "rasa-tracker.db"
    done = run_in_rasa_env(SCRIPT, str(tracker_db), "tg-716010", tracker_db=tracker_db)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Both turns ran (each was answered); both are stored, in the order they ran.
    assert result["stored"] == ["hello", "pay my phone bill", "pay my phone bill (again)"], result
