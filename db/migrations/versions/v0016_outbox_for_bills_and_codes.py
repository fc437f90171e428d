"""Issue 13: the outbox tells users about bills and one-time codes, not only payment outcomes.

- `notifications.payment_id` becomes optional and `notifications.bill_id` is added (a reminder of a
  bill due soon, a bill a standing mandate could not pay); a row names at least one of them.
- Three notification kinds: `step_up_code` (a payment's one-time code, item 2), `bill_reminder`
  (item 4) and `bill_needs_you` (item 8).

Keyed by an AUTOINCREMENT id on SQLite (0014); batch mode keeps that when it rebuilds the table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 22:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}
KINDS_BEFORE = (
    "payment_succeeded",
    "payment_failed",
    "payment_cancelled_by_staff",
    "payment_succeeded_late",
    "payment_expired",
)
KINDS_AFTER = (*KINDS_BEFORE, "step_up_code", "bill_reminder", "bill_needs_you")


def _kind_in(values: tuple[str, ...]) -> str:
    return "kind IN ({})".format(", ".join(f"'{value}'" for value in values))


def upgrade() -> None:
    """Optional payment, new bill reference, the three kinds and the at-least-one-subject check."""
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.alter_column("payment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("bill_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_notifications_bill_id_bills"), "bills", ["bill_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index(op.f("ix_notifications_bill_id"), ["bill_id"], unique=False)
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_AFTER))
        batch_op.create_check_constraint(
            op.f("ck_notifications_has_subject"), "payment_id IS NOT NULL OR bill_id IS NOT NULL"
        )


def downgrade() -> None:
    """Back to payment outcomes only; bill and code notifications are deleted first."""
    op.execute("DELETE FROM notifications WHERE payment_id IS NULL OR kind IN "
               "('step_up_code', 'bill_reminder', 'bill_needs_you')")
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_has_subject"), type_="check")
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_BEFORE))
        batch_op.drop_index(op.f("ix_notifications_bill_id"))
        batch_op.drop_constraint(op.f("fk_notifications_bill_id_bills"), type_="foreignkey")
        batch_op.drop_column("bill_id")
        batch_op.alter_column("payment_id", existing_type=sa.Integer(), nullable=False)
