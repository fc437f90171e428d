"""Issue 15 (everyday polish, Telegram): users who blocked the bot, and demo-mode Telegram users.

`users.telegram_unreachable_since`: set when the user blocked the bot (a `my_chat_member` update
saying "kicked", or Telegram answering 403 to a message); the outbox holds their notifications
(unsent, not lost) until it is cleared again (unblocked, or they write). `users.is_demo`: a
Telegram user created in demo mode (demo bills, a sandbox card), so staff never take them for a
live customer; unlike `is_test` it does not let the console act as them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `users.telegram_unreachable_since` and `users.is_demo`."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("telegram_unreachable_since", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("is_demo", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop both columns."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("is_demo")
        batch_op.drop_column("telegram_unreachable_since")
