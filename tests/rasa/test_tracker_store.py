"""paychat's tracker store (rasa_project/channels/tracker_store.py) as endpoints.yml configures it,
in the Rasa env: really the WAL / synchronous=NORMAL SQLite store (not Rasa's silent in-memory
fallback for a class it cannot import), and a turn it saved survives the process being SIGKILLed."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from tests.helpers.rasa_script import require_rasa_env, run_in_rasa_env, run_tracker_script

SCRIPT = r"""
import asyncio, json, os, signal, sys
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

mode, sender = sys.argv[1], sys.argv[2]
domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)
inner = getattr(store, "_tracker_store", store)

async def main():
    if mode == "write":
        with inner.engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout")
            }
        tracker = DialogueStateTracker(sender, domain.slots)
        for n in range(3):
            tracker.update(UserUttered(f"hello {n}", {"name": "greet", "confidence": 1.0}))
            tracker.update(ActionExecuted("utter_greet"))
            await store.save(tracker)
        print(json.dumps({"class": type(inner).__name__, "pool": type(inner.engine.pool).__name__,
                          "pragmas": pragmas}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # a crash: no close, no checkpoint
    tracker = await store.retrieve(sender)
    texts = [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []
    print(json.dumps({"texts": texts}), flush=True)

asyncio.run(main())
"""


def _run(mode: str, tracker_db: Path) -> subprocess.CompletedProcess[str]:
    return run_in_rasa_env(SCRIPT, mode, "console-1-wal", tracker_db=tracker_db)


def test_endpoints_tracker_store_is_wal_and_a_saved_turn_survives_a_kill(tmp_path: Path) -> None:
    require_rasa_env()
    tracker_db = tmp_path / "rasa-tracker.db"
    written = _run("write", tracker_db)
    assert written.returncode == -signal.SIGKILL, written.stderr[-2000:]
    facts = json.loads(written.stdout.strip().splitlines()[-1])
    assert facts["class"] == "PaychatSQLTrackerStore"
    assert facts["pool"] == "QueuePool"
    # synchronous: 1 = NORMAL (2 = FULL, SQLite's default; an fsync per commit).
    # busy_timeout short: SQLite's busy wait runs on Rasa's event loop (issue 12 review).
    assert facts["pragmas"] == {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 250}
    # Not checkpointed: the turns are in the write-ahead log only, and the next reader replays it.
    assert tracker_db.exists() and Path(f"{tracker_db}-wal").exists()

    read = _run("read", tracker_db)
    assert read.returncode == 0, read.stderr[-2000:]
    assert json.loads(read.stdout.strip().splitlines()[-1]) == {"texts": ["hello 0", "hello 1", "hello 2"]}


BUSY_SCRIPT = r"""
import asyncio, json, sqlite3, sys
import channels.tracker_store as paychat_store
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

# The same store with a short retry window, so the save gives up quickly.
paychat_store.SAVE_RETRY_WINDOW_SECONDS = 0.5
tracker_db, sender = sys.argv[1], sys.argv[2]
domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)

def texts(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []

def stored():
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as db:
        query = "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id"
        rows = db.execute(query, (sender,))
        return [json.loads(data)["text"] for (data,) in rows]

async def main():
    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.update(UserUttered("hello 0", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    holder = sqlite3.connect(tracker_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a long retention delete holding the write lock
    tracker.update(UserUttered("hello 1", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)  # every attempt fails
    while_busy = texts(await store.retrieve(sender))
    holder.execute("COMMIT")
    after = texts(await store.retrieve(sender))
    print(json.dumps({"while_busy": while_busy, "after": after, "stored": stored()}), flush=True)

asyncio.run(main())
"""


def test_a_save_that_fails_on_a_busy_store_is_kept_and_stored_with_the_next_turn(tmp_path: Path) -> None:
    """Every save attempt meets the write lock: the turn is logged as not stored, the next turn of
    the conversation continues from it (not from the older stored tracker) and stores it once free."""
    require_rasa_env()
    tracker_db = tmp_path / "rasa-tracker.db"
    sender = "console-1-busy"
    done = run_in_rasa_env(BUSY_SCRIPT, str(tracker_db), sender, tracker_db=tracker_db)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "while_busy": ["hello 0", "hello 1"],
        "after": ["hello 0", "hello 1"],
        "stored": ["hello 0", "hello 1"],
    }
    assert f"tracker of conversation {sender} NOT STORED" in done.stderr


STALL_SCRIPT = r"""
import asyncio, json, sqlite3, sys, time
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

tracker_db, sender, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)

async def main():
    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.update(UserUttered("hello 0", {"name": "greet", "confidence": 1.0}))
    await store.save(tracker)
    # Another connection (retention deleting many rows) holds the write lock for `hold` seconds.
    holder = sqlite3.connect(tracker_db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    ticks = [started]

    async def ticker():  # any other conversation's work on Rasa's event loop
        while time.monotonic() - started < hold + 2:
            await asyncio.sleep(0.02)
            ticks.append(time.monotonic())

    async def release():
        await asyncio.sleep(hold)
        holder.execute("COMMIT")

    tracker.update(UserUttered("hello 1", {"name": "greet", "confidence": 1.0}))
    await asyncio.gather(store.save(tracker), ticker(), release())
    ticks.append(time.monotonic())
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as db:
        query = "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id"
        rows = db.execute(query, (sender,))
        stored = [json.loads(data)["text"] for (data,) in rows]
    stall = max(b - a for a, b in zip(ticks, ticks[1:]))
    print(json.dumps({"stall": round(stall, 3), "stored": stored}), flush=True)

asyncio.run(main())
"""


def test_a_write_lock_held_elsewhere_does_not_stall_rasas_event_loop(tmp_path: Path) -> None:
    """A long retention delete (another process holding the write lock) made the store's save wait in
    SQLite's busy handler (busy_timeout 30 s) on Rasa's event loop: every conversation stalled."""
    require_rasa_env()
    result = run_tracker_script(STALL_SCRIPT, "console-1-stall", "4", tracker_db=tmp_path / "rasa-tracker.db")
    assert result["stored"] == ["hello 0", "hello 1"]  # saved once the lock was released
    assert isinstance(result["stall"], float) and result["stall"] < 1.0, result


FORGOTTEN_SCRIPT = r"""
import asyncio, json, sqlite3, sys, time, types
import channels.tracker_store as paychat_store
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from transcripts_tombstone import forget

paychat_store.SAVE_RETRY_WINDOW_SECONDS = 0.3
tracker_db, sender = sys.argv[1], sys.argv[2]
domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)

def texts(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []

def stored(who):
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (who,))
        return [json.loads(data)["text"] for (data,) in rows]

async def kept_unsaved(who, holder):
    tracker = DialogueStateTracker(who, domain.slots)
    tracker.update(UserUttered(f"I am Anna Weber ({who})", {"name": "greet", "confidence": 1.0}))
    holder.execute("BEGIN IMMEDIATE")
    await store.save(tracker)  # fails: kept in memory
    holder.execute("COMMIT")

async def main():
    holder = sqlite3.connect(tracker_db, isolation_level=None)
    out = {}
    # 1. /forget while the tracker is kept, and the store still locked at the sender's next turn.
    await kept_unsaved(sender + "-a", holder)
    forget(holder, sender + "-a", time.time(), tombstone=True)
    holder.execute("BEGIN IMMEDIATE")
    out["locked_next_turn"] = texts(await store.retrieve(sender + "-a"))
    holder.execute("COMMIT")
    out["stored_a"] = stored(sender + "-a")
    # 2. /forget while the tracker is kept; its tombstone expired (24 h) before the sender wrote again.
    await kept_unsaved(sender + "-b", holder)
    forget(holder, sender + "-b", time.time(), tombstone=False)
    day_later = types.SimpleNamespace(time=lambda: time.time() + 25 * 3600, monotonic=time.monotonic)
    paychat_store.time = day_later
    out["day_later_turn"] = texts(await store.retrieve(sender + "-b"))
    out["stored_b"] = stored(sender + "-b")
    print(json.dumps(out), flush=True)

asyncio.run(main())
"""

TOMBSTONE_HELPER = r"""
import hashlib

def forget(connection, sender, now, tombstone):
    # What transcripts.forgetting.forget_tracker does (same table and key), in this process.
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("DELETE FROM events WHERE sender_id = ?", (sender,))
    if tombstone:
        key = hashlib.sha256(sender.encode()).hexdigest()
        connection.execute("INSERT INTO paychat_forgotten (sender_key, cutoff) VALUES (?, ?)", (key, now))
    connection.execute("COMMIT")
"""


def test_a_tracker_kept_after_a_failed_save_never_brings_back_a_forgotten_conversation(
    tmp_path: Path,
) -> None:
    """A tracker kept in memory after a failed save held the words of a user who then said /forget:
    the next turn continued from it (store still locked), or stored it back once the 24 h tombstone
    had expired. Now a kept tracker is checked against the tombstone and outlives none."""
    require_rasa_env()
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    (helpers / "transcripts_tombstone.py").write_text(TOMBSTONE_HELPER)
    script = f"import sys; sys.path.insert(0, {str(helpers)!r})\n" + FORGOTTEN_SCRIPT
    result = run_tracker_script(script, "tg-777", tracker_db=tmp_path / "rasa-tracker.db")
    assert result == {"locked_next_turn": [], "stored_a": [], "day_later_turn": [], "stored_b": []}


KEPT_SCRIPT = r"""
import asyncio, json, sqlite3, sys, time
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from channels.tracker_store import RETENTION_KEY, TOMBSTONE_TABLE, _sender_key

tracker_db = sys.argv[1]
domain = Domain.load("domain.yml")
store = TrackerStore.create(AvailableEndpoints.read_endpoints("endpoints.yml").tracker_store, domain)
inner = getattr(store, "_tracker_store", store)

def texts(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []

def other_process(*statements):
    # What transcripts.forgetting does from another process: its own connection to the file.
    with sqlite3.connect(tracker_db, isolation_level=None) as db:
        for sql, args in statements:
            db.execute(sql, args)

async def talk(sender, *words):
    tracker = await store.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
    for word in words:
        tracker.update(UserUttered(word, {"name": "greet", "confidence": 1.0}))
        tracker.update(ActionExecuted("utter_greet"))
        await store.save(tracker)
    return tracker

async def main():
    facts = {}
    saved = await talk("console-1-kept", "hello 0", "hello 1")
    again = await store.retrieve("console-1-kept")
    facts["kept"] = again is saved
    facts["kept_texts"] = texts(again)
    # A turn that failed before saving: the tracker gained an event the store does not hold.
    again.update(UserUttered("never stored", {"name": "greet", "confidence": 1.0}))
    facts["after_failed_turn"] = texts(await store.retrieve("console-1-kept"))
    # /forget from another process: the sender's events deleted, a tombstone recorded.
    await talk("console-2-forgotten", "secret 0", "secret 1")
    await store.retrieve("console-2-forgotten")
    other_process(
        ("DELETE FROM events WHERE sender_id = ?", ("console-2-forgotten",)),
        (f"INSERT INTO {TOMBSTONE_TABLE} (sender_key, cutoff) VALUES (?, ?)",
         (_sender_key("console-2-forgotten"), time.time())),
    )
    facts["after_forget"] = texts(await store.retrieve("console-2-forgotten"))
    # Retention from another process: every event older than the cutoff deleted, whoever sent it.
    await talk("console-3-retained", "old 0")
    cutoff = time.time()
    await talk("console-3-retained", "new 1")
    await store.retrieve("console-3-retained")
    other_process(
        ("DELETE FROM events WHERE timestamp < ?", (cutoff,)),
        (f"INSERT INTO {TOMBSTONE_TABLE} (sender_key, cutoff) VALUES (?, ?)", (RETENTION_KEY, cutoff)),
    )
    facts["after_retention"] = texts(await store.retrieve("console-3-retained"))
    print(json.dumps(facts), flush=True)

asyncio.run(main())
"""


def test_the_last_saved_tracker_is_kept_until_the_store_changes_under_it(tmp_path: Path) -> None:
    """`retrieve` hands back the tracker the last turn saved (no read and replay of the session)
    while the store is as that save left it; a failed turn, /forget or retention from another
    process makes it read the store again, so forgotten words never come back."""
    require_rasa_env()
    result = run_tracker_script(KEPT_SCRIPT, tracker_db=tmp_path / "rasa-tracker.db")
    assert result == {
        "kept": True,
        "kept_texts": ["hello 0", "hello 1"],
        "after_failed_turn": ["hello 0", "hello 1"],
        "after_forget": [],
        "after_retention": ["new 1"],
    }
