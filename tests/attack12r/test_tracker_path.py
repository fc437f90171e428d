"""attack12r: the tracker store file on a path with odd characters. Rasa (paychat's store, as
endpoints.yml configures it, in the Rasa env) writes the file it is given; /forget and retention
(transcripts/forgetting.py, in the app env) must empty that same file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.helpers.rasa_script import require_rasa_env, run_in_rasa_env
from transcripts.forgetting import forget_tracker

SCRIPT = r"""
import asyncio, sys
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)
tracker = DialogueStateTracker(sys.argv[1], domain.slots)
tracker.update(UserUttered("I am Anna Weber", {"name": "greet", "confidence": 1.0}))
asyncio.run(store.save(tracker))
print(type(getattr(store, "_tracker_store", store)).__name__)
"""
SENDER = "tg-424242"


def _rasa_saves(tracker_db: Path) -> None:
    done = run_in_rasa_env(SCRIPT, SENDER, tracker_db=tracker_db)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "PaychatSQLTrackerStore"


def _events(tracker_db: Path) -> int:
    """The sender's events in exactly this file (an SQLite URI with the path percent-encoded)."""
    with sqlite3.connect(f"file:{quote(tracker_db.as_posix())}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (SENDER,)).fetchone()[0])


@pytest.mark.parametrize(
    "folder",
    ["var dir ü #1 100%", "var?dir"],
)
def test_forget_empties_the_file_rasa_writes(tmp_path: Path, folder: str) -> None:
    require_rasa_env()
    tracker_db = tmp_path / folder / "rasa-tracker.db"
    tracker_db.parent.mkdir()
    _rasa_saves(tracker_db)
    assert _events(tracker_db) == 1

    deleted = forget_tracker(tracker_db, [SENDER])

    assert (deleted, _events(tracker_db)) == (1, 0)
