"""Issue 13 (safety controls, item 4): bill reminders and the user's reminder switch.

- `users.reminders_enabled` (default on): whether the worker reminds the user of bills due soon.
- `bill_reminders`: one row per bill and due date reminded (its window), unique on the pair, written
  in the same transaction as the outbox row that tells it: two workers cannot both remind.

Keyed by an AUTOINCREMENT id on SQLite (0014); batch mode keeps that when it rebuilds `users`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    """Add the switch (on for everyone) and the reminders table."""
    with op.batch_alter_table("users", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("reminders_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "bill_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_bill_reminders_bill_id_bills"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bill_reminders_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_bill_reminders_notification_id_notifications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_reminders")),
        sa.UniqueConstraint("bill_id", "due_date", name="uq_bill_reminders_bill_due"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_bill_reminders_user_id"), "bill_reminders", ["user_id"], unique=False)


def downgrade() -> None:
    """Drop the reminders table and the switch."""
    op.drop_index(op.f("ix_bill_reminders_user_id"), table_name="bill_reminders")
    op.drop_table("bill_reminders")
    with op.batch_alter_table("users", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("reminders_enabled")
