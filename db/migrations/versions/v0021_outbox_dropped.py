"""Issue 13 item 4 (attack 13): a bill's outbox row no longer relevant when it would be sent is dropped.

- `notifications.dropped_reason`: NULL for a row sent (or still to send); a reason code
  (`reminders_off`, `nothing_to_pay`, `past_due`) for a row the outbox decided at delivery time not to
  send. The row is kept (with `sent_at` set, so no sender claims it) as the record of what was not told.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 00:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    """Add the nullable reason column."""
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("dropped_reason", sa.String(length=40), nullable=True))


def downgrade() -> None:
    """Remove it."""
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("dropped_reason")
