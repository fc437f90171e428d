"""paychat's tracker store: Rasa's SQL tracker store on a SQLite file, made cheap per turn.

Runs inside the Rasa environment (Python 3.10, SQLAlchemy 1.4); endpoints.yml names it by module
path (`channels.tracker_store.PaychatSQLTrackerStore`, rasa_project/ is on the Rasa process's
PYTHONPATH). Same tables, same rows, same queries as `rasa.core.tracker_store.SQLTrackerStore`;
what changes is how the SQLite file is opened:

- `journal_mode=WAL` and `synchronous=NORMAL`: a commit appends to the write-ahead log without an
  fsync (the log is synced at checkpoints). Rasa runs the store's SQL on its event loop, where the
  default rollback journal's fsync per turn was 16 % of the Rasa process under load
  (bench/results/profile.md). A committed turn survives the Rasa process being killed (the log is
  in the operating system's cache and is replayed by the next connection); only a power loss or an
  operating-system crash may lose the last turns, which restart as a new conversation. Readers no
  longer wait behind the writer, so `transcripts.forgetting` (another process deleting a sender's
  events) and Rasa do not block each other.
- One kept connection (a `QueuePool` of 1, overflow 4) instead of SQLAlchemy 1.4's `NullPool` for
  SQLite files, which opened and closed the file on every `retrieve` and `save`.
- `busy_timeout` 30 s, as `transcripts.forgetting` uses: a delete in progress makes a turn wait, not fail.
- `secure_delete=ON`: freed space is zeroed, so no page keeps a deleted event's words
  (`transcripts.forgetting` also checkpoints and truncates the write-ahead log after deleting).
- Tombstones: /forget and retention record in TOMBSTONE_TABLE (keyed by the sha256 of the sender id,
  or RETENTION_KEY for retention's cutoff) the Unix time before which events are gone. A turn in
  flight during the delete holds the tracker it read before; `save` drops its events older than the
  tombstone instead of writing the forgotten events back. Names shared with transcripts/forgetting.py.

- A save that fails on the database (OperationalError: the file locked past busy_timeout by a long
  retention delete) is retried SAVE_ATTEMPTS times with SAVE_RETRY_SECONDS between (the event loop
  is free meanwhile). The turn may have charged, so it is never dropped: when every attempt fails,
  an error names the conversation (sender id), the tracker is kept in memory, and the sender's next
  turn stores it first (or, still failing, continues from it) instead of reading the older one.

- The last saved tracker of each sender is kept in this process (`KEPT_TRACKERS`, least recently
  used dropped) and `retrieve` hands it back instead of reading and replaying every event of the
  session, when ONE indexed query (`_stamp`: the sender's newest event id and event count, and the
  forget/retention tombstone's cutoff) finds the store as this process left it after that save, and
  the tracker gained no event since (a turn that failed before saving). A delete by
  `transcripts.forgetting` (another process: /forget, retention) changes the count or the cutoff,
  so the next turn reads the store. Only a tracker equal to what `retrieve` would read is kept: none
  whose save dropped events older than a tombstone, none that started a new session this turn.

Other dialects (PostgreSQL, for several Rasa servers) pass through unchanged.
"""

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

# PRAGMAs run on every new SQLite connection; journal_mode=WAL is kept in the file itself.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA secure_delete=ON",
)
TOMBSTONE_TABLE = "paychat_forgotten"  # transcripts.forgetting.TOMBSTONE_TABLE
RETENTION_KEY = "*retention*"  # transcripts.forgetting.RETENTION_KEY
TOMBSTONE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TOMBSTONE_TABLE} (sender_key TEXT PRIMARY KEY, cutoff REAL NOT NULL)"
)
SAVE_ATTEMPTS = 4
SAVE_RETRY_SECONDS = 2.0
POOL_SIZE = 1
POOL_OVERFLOW = 4
KEPT_TRACKERS = 2000  # senders whose last saved tracker this process keeps (least recently used out)
# What `_stamp` reads: (newest event id, event count, tombstone cutoff) of one sender.
Stamp = tuple[Optional[int], int, Optional[float]]


log = logging.getLogger(__name__)


class PaychatSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose SQLite connections use WAL, synchronous=NORMAL and are kept open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Trackers whose save failed, by sender id: stored (or continued from) on the next turn.
        self._unsaved: dict[str, DialogueStateTracker] = {}
        # The last saved tracker per sender: (tracker, its event count then, the store's stamp then,
        # the domain it was built with: a model loaded since, with other slots, reads the store).
        self._kept: OrderedDict[str, tuple[DialogueStateTracker, int, Stamp, Any]] = OrderedDict()
        super().__init__(*args, **kwargs)  # builds the engine and creates the tables
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(
            url,
            poolclass=sa.pool.QueuePool,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            # Rasa uses the store from its event loop thread; a model load runs in a worker thread.
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        with self.engine.begin() as connection:
            connection.execute(sa.text(TOMBSTONE_DDL))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save, retried on a database error; never raises one (see the module docstring)."""
        self._unsaved.pop(tracker.sender_id, None)  # this tracker holds every event of an unsaved one
        self._kept.pop(tracker.sender_id, None)
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                await super().save(tracker)
                self._keep(tracker)
                return
            except sa.exc.OperationalError as error:
                log.warning("tracker of %s not saved (attempt %d): %s", tracker.sender_id, attempt, error)
                if attempt < SAVE_ATTEMPTS:
                    await asyncio.sleep(SAVE_RETRY_SECONDS)
        self._unsaved[tracker.sender_id] = tracker
        log.error(
            "tracker of conversation %s NOT STORED after %d attempts: kept in memory, stored with its "
            "next turn (lost if Rasa stops first)",
            tracker.sender_id,
            SAVE_ATTEMPTS,
        )

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The sender's tracker; an unsaved one is stored first, or continued from when it still fails."""
        unsaved = self._unsaved.get(sender_id)
        if unsaved is not None:
            await self.save(unsaved)
            if sender_id in self._unsaved:
                return self._unsaved[sender_id]  # save() drops it once stored
        kept = self._kept.pop(sender_id, None)
        if kept is not None:
            tracker, length, stamp, domain = kept
            if domain is self.domain and len(tracker.events) == length and self._stamp(sender_id) == stamp:
                self._kept[sender_id] = kept  # most recently used
                return tracker
        return await super().retrieve(sender_id)

    def _stamp(self, sender_id: str) -> Stamp:
        """The sender's newest event id and event count, and the tombstone cutoff (one query)."""
        table = self.SQLEvent.__tablename__
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.text(
                    f"SELECT (SELECT max(id) FROM {table} WHERE sender_id = :sender), "
                    f"(SELECT count(*) FROM {table} WHERE sender_id = :sender), "
                    f"(SELECT max(cutoff) FROM {TOMBSTONE_TABLE} WHERE sender_key IN (:key, :retention))"
                ),
                {"sender": sender_id, "key": _sender_key(sender_id), "retention": RETENTION_KEY},
            ).one()
        return row[0], int(row[1]), row[2]

    def _keep(self, tracker: DialogueStateTracker) -> None:
        """Keep the tracker just saved when it is what `retrieve` would read back (module docstring)."""
        if self.engine.dialect.name != "sqlite":
            return
        events = list(tracker.events)
        starts = [event.timestamp for event in events if isinstance(event, SessionStarted)]
        if starts and any(event.timestamp < max(starts) for event in events):
            return  # a new session began: `retrieve` reads from its start only
        stamp = self._stamp(tracker.sender_id)
        if stamp[2] is not None and any((event.timestamp or 0) < stamp[2] for event in events):
            return  # events older than a tombstone were not stored (`_additional_events`)
        self._kept[tracker.sender_id] = (tracker, len(events), stamp, self.domain)
        while len(self._kept) > KEPT_TRACKERS:
            self._kept.popitem(last=False)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events to insert (Rasa's: those past the count stored), less any older than the
        sender's tombstone or retention's cutoff: events deleted while this turn was in flight."""
        events = super()._additional_events(session, tracker)
        if self.engine.dialect.name != "sqlite":
            return events
        cutoff = session.execute(
            sa.text(f"SELECT max(cutoff) FROM {TOMBSTONE_TABLE} WHERE sender_key IN (:key, :retention)"),
            {"key": _sender_key(tracker.sender_id), "retention": RETENTION_KEY},
        ).scalar()
        if cutoff is None:
            return events
        return (event for event in events if (event.timestamp or 0) >= cutoff)


def _sender_key(sender_id: str) -> str:
    """The tombstone key of a sender (transcripts.forgetting keys them the same way)."""
    return hashlib.sha256(sender_id.encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
