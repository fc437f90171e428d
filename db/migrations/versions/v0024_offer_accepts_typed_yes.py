"""attack21: a summary offered again after a lost tap is confirmed by its own nonce only.

`summary_offers.accepts_typed_yes` (true for every summary shown; false for one that
payments.offers.reissue_offer issues when the bot claims a lost Confirm): a typed "yes" that left
before the claim, still on its way, must not confirm the summary offered again.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    """Every existing offer was shown as a summary: it accepts a typed yes."""
    with op.batch_alter_table("summary_offers", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("accepts_typed_yes", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    """Drop the column (reissued offers then accept a typed yes again)."""
    with op.batch_alter_table("summary_offers", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_column("accepts_typed_yes")
