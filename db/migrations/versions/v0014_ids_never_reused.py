"""Ids are never reused on SQLite: every table with an integer `id` key gets AUTOINCREMENT.

Without AUTOINCREMENT, SQLite hands out max(id)+1, so deleting the newest row (a test user's reset
deletes their payments; retention deletes conversations) frees its id for the next insert. The
audit log, consent receipts and transcripts keep ids of rows that are gone; a reused id would pin
that history on a new, unrelated row (found by tests/evidence/test_audit_coverage.py in a full run:
a new payment inherited the audit trail of a reset test user's deleted one). PostgreSQL sequences
never hand an id out twice, so this revision changes nothing there.

SQLite cannot alter a key in place; each table is rebuilt from its own stored CREATE statement
with only the key changed (every column, constraint, default, index and trigger is kept), rows are
copied in id order, and `sqlite_sequence` starts at the largest id present.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 20:00:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID_COLUMN = re.compile(r"(\n\s*)id INTEGER NOT NULL,")
_TABLE_KEY = re.compile(r",\s*CONSTRAINT (\w+) PRIMARY KEY \(id\)")


def _with_autoincrement(create_sql: str, temporary: str) -> str | None:
    """The table's CREATE statement with `id` as an AUTOINCREMENT key, or None if it has no such key."""
    key = _TABLE_KEY.search(create_sql)
    if "AUTOINCREMENT" in create_sql or key is None or _ID_COLUMN.search(create_sql) is None:
        return None
    sql = _TABLE_KEY.sub("", create_sql, count=1)
    sql = _ID_COLUMN.sub(
        rf"\1id INTEGER NOT NULL CONSTRAINT {key.group(1)} PRIMARY KEY AUTOINCREMENT,", sql, count=1
    )
    return re.sub(r"^CREATE TABLE \"?\w+\"?", f'CREATE TABLE "{temporary}"', sql, count=1)


def upgrade() -> None:
    """Rebuild each SQLite table keyed by an integer `id` with AUTOINCREMENT (PostgreSQL: nothing)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    tables = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'alembic_version' ORDER BY name"
    ).fetchall()
    for name, create_sql in tables:
        temporary = f"{name}__ids"
        rebuilt = _with_autoincrement(create_sql, temporary)
        if rebuilt is None:
            continue
        companions = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL ORDER BY type, name",
            (name,),
        ).fetchall()
        columns = ", ".join(
            f'"{row[1]}"' for row in bind.exec_driver_sql(f'PRAGMA table_info("{name}")').fetchall()
        )
        bind.exec_driver_sql(rebuilt)
        bind.exec_driver_sql(
            f'INSERT INTO "{temporary}" ({columns}) SELECT {columns} FROM "{name}" ORDER BY id'
        )
        bind.exec_driver_sql(f'DROP TABLE "{name}"')
        bind.exec_driver_sql(f'ALTER TABLE "{temporary}" RENAME TO "{name}"')
        for (companion_sql,) in companions:
            bind.exec_driver_sql(companion_sql)


def downgrade() -> None:
    """Nothing to undo: AUTOINCREMENT keys behave like the old ones except that ids are not reused."""
