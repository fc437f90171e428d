"""Issue 10 item 2: one-time confirmation nonces for the summaries shown in chat (`summary_offers`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `summary_offers`."""
    op.create_table(
        "summary_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("conversation", sa.String(length=200), nullable=False),
        sa.Column("nonce_sha256", sa.String(length=64), nullable=False),
        sa.Column("summary_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "closed_reason IS NULL OR closed_reason IN ('superseded', 'used', 'cancelled')",
            name=op.f("ck_summary_offers_closed_reason_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_summary_offers_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_summary_offers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_offers")),
        sa.UniqueConstraint("nonce_sha256", name=op.f("uq_summary_offers_nonce_sha256")),
    )
    with op.batch_alter_table("summary_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_summary_offers_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_summary_offers_conversation"), ["conversation"], unique=False)


def downgrade() -> None:
    """Drop `summary_offers` (summaries shown before can then only be confirmed by a typed yes)."""
    with op.batch_alter_table("summary_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_summary_offers_conversation"))
        batch_op.drop_index(batch_op.f("ix_summary_offers_payment_id"))
    op.drop_table("summary_offers")
