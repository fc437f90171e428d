"""Payments may wait for a second approval: `awaiting_approval` joins the status CHECK constraint.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "draft",
    "approved",
    "processing",
    "succeeded",
    "failed",
    "requires_action",
    "unknown",
    "cancelled",
)
AFTER = (*BEFORE, "awaiting_approval")


def _status_in(values: tuple[str, ...]) -> str:
    return "status IN ({})".format(", ".join(f"'{value}'" for value in values))


def _replace_check(values: tuple[str, ...]) -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table (db/migrations/env.py
    # turns foreign keys off meanwhile, so the rebuild never cascades into consents).
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payments_status_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_payments_status_valid"), _status_in(values))


def upgrade() -> None:
    """Allow `awaiting_approval`."""
    _replace_check(AFTER)


def downgrade() -> None:
    """Back to the first statuses; payments awaiting approval are cancelled first."""
    op.execute("UPDATE payments SET status = 'cancelled' WHERE status = 'awaiting_approval'")
    _replace_check(BEFORE)
