"""Issue 10 (part 3): track each charge attempt's deadline; hold in-turn outcomes in the outbox.

- `payments.charge_started_at` / `charge_deadline_at`: when the gateway call began and until when
  it may still be running; reconciliation never fails a payment before its deadline.
- `notifications.hold_until`: an outcome told in the user's own chat turn waits in the outbox until
  then (dropped when the turn's reply was delivered, sent otherwise).
- Two notification kinds: `payment_succeeded_late` (a charge found after the payment was failed:
  the record is corrected) and `payment_expired` (a waiting payment reached its deadline).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ("payment_succeeded", "payment_failed", "payment_cancelled_by_staff")
KINDS_AFTER = (*KINDS_BEFORE, "payment_succeeded_late", "payment_expired")


def _kind_in(values: tuple[str, ...]) -> str:
    return "kind IN ({})".format(", ".join(f"'{value}'" for value in values))


def upgrade() -> None:
    """Add the charge deadline columns, the outbox hold and the two notification kinds."""
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("charge_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("charge_deadline_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_AFTER))


def downgrade() -> None:
    """Drop them again; notifications of the two new kinds are deleted first."""
    op.execute("DELETE FROM notifications WHERE kind IN ('payment_succeeded_late', 'payment_expired')")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_BEFORE))
        batch_op.drop_column("hold_until")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("charge_deadline_at")
        batch_op.drop_column("charge_started_at")
