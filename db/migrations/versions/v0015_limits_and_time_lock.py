"""Issue 13 (safety controls, items 1 and 3): per-user limit overrides and the time lock.

`users` gets three nullable overrides of the configured limits (per payment, per day, per month;
NULL: the setting applies). `scheduled_payments.not_before` is the end of a payment's cancel window
(UTC): the worker charges a scheduled (or held) payment only once its day has come and this moment
has passed.

Both tables are keyed by an AUTOINCREMENT id on SQLite (0014); batch mode keeps that if it has to
rebuild them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIMIT_COLUMNS = ("per_payment_limit_minor", "daily_limit_minor", "monthly_limit_minor")
KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    """Add the users' limit overrides and the scheduled payments' `not_before`."""
    with op.batch_alter_table("users", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        for name in LIMIT_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
    with op.batch_alter_table("scheduled_payments", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop them again (held payments then run on their day, overrides fall back to the settings)."""
    with op.batch_alter_table("scheduled_payments", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("not_before")
    with op.batch_alter_table("users", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        for name in reversed(LIMIT_COLUMNS):
            batch_op.drop_column(name)
