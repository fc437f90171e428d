"""Issue 13: the worker tells the user when an autopay's one-time code expired untyped.

One notification kind: `mandate_code_expired` (the offer waiting for the code was withdrawn;
nothing was set up or changed). Its row names the expired challenge (`step_up_challenge_id`).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}
KINDS_BEFORE = (
    "payment_succeeded",
    "payment_failed",
    "payment_cancelled_by_staff",
    "payment_succeeded_late",
    "payment_expired",
    "step_up_code",
    "bill_reminder",
    "bill_needs_you",
    "autopay_held",
    "autopay_cancelled",
)
KINDS_AFTER = (*KINDS_BEFORE, "mandate_code_expired")


def _kind_in(values: tuple[str, ...]) -> str:
    return "kind IN ({})".format(", ".join(f"'{value}'" for value in values))


def upgrade() -> None:
    """Allow the expired autopay code kind."""
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_AFTER))


def downgrade() -> None:
    """Back to the kinds of 0022; those notifications are deleted first."""
    op.execute("DELETE FROM notifications WHERE kind = 'mandate_code_expired'")
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_BEFORE))
