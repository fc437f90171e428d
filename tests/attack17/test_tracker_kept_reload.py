"""Attack 17 (no hole found): a kept tracker (db2d2e2) is not served after a model reload, nor
after another process stored a turn of the same conversation.

Rasa's Agent.load_model sets `tracker_store.domain` to the new model's domain (through
FailSafeTrackerStore / AwaitableTrackerStore); the kept tracker remembers the domain it was built
with, so the next retrieve reads the store. A second Rasa process on the same file saving a turn
moves the sender's newest event id, so the first process reads the store too.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.rasa_script import require_rasa_env, run_in_rasa_env

SCRIPT = r"""
import asyncio, json, sys
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

domain = Domain.load("domain.yml")
endpoint = AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store
store = TrackerStore.create(endpoint, domain)
other = TrackerStore.create(endpoint, domain)  # a second Rasa process on the same file

def texts(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []

async def talk(where, sender, word):
    tracker = await where.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
    tracker.update(UserUttered(word, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    await where.save(tracker)
    return tracker

async def main():
    facts = {}
    saved = await talk(store, "console-17-reload", "hello 0")
    facts["kept_before_reload"] = (await store.retrieve("console-17-reload")) is saved
    store.domain = Domain.load("domain.yml")  # what Agent.load_model does with the new model
    facts["kept_after_reload"] = (await store.retrieve("console-17-reload")) is saved
    saved = await talk(store, "console-17-two", "from a")
    await talk(other, "console-17-two", "from b")
    again = await store.retrieve("console-17-two")
    facts["kept_after_other_process"] = again is saved
    facts["texts_after_other_process"] = texts(again)
    print(json.dumps(facts), flush=True)

asyncio.run(main())
"""


def test_a_kept_tracker_is_not_served_after_a_reload_or_another_processs_turn(tmp_path: Path) -> None:
    require_rasa_env()
    tracker_db = tmp_path / "rasa-tracker.db"
    done = run_in_rasa_env(SCRIPT, str(tracker_db), tracker_db=tracker_db)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "kept_before_reload": True,
        "kept_after_reload": False,
        "kept_after_other_process": False,
        "texts_after_other_process": ["from a", "from b"],
    }
