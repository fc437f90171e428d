"""Issue 13 item 8: the outbox tells users about automatic payments before they run, and when they stop.

Two notification kinds: `autopay_held` (an automatic payment held in its cancel window: when it
runs, how to cancel) and `autopay_cancelled` (an uncharged automatic payment cancelled because its
mandate no longer authorises it).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 00:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
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
)
KINDS_AFTER = (*KINDS_BEFORE, "autopay_held", "autopay_cancelled")


def _kind_in(values: tuple[str, ...]) -> str:
    return "kind IN ({})".format(", ".join(f"'{value}'" for value in values))


def upgrade() -> None:
    """Allow the two autopay kinds."""
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_AFTER))


def downgrade() -> None:
    """Back to the kinds of 0019; autopay notifications are deleted first."""
    op.execute("DELETE FROM notifications WHERE kind IN ('autopay_held', 'autopay_cancelled')")
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_kind_valid"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_kind_valid"), _kind_in(KINDS_BEFORE))
