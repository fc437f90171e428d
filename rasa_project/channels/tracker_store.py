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

Other dialects (PostgreSQL, for several Rasa servers) pass through unchanged.
"""

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore

# PRAGMAs run on every new SQLite connection; journal_mode=WAL is kept in the file itself.
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=30000")
POOL_SIZE = 1
POOL_OVERFLOW = 4


class PaychatSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose SQLite connections use WAL, synchronous=NORMAL and are kept open."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
