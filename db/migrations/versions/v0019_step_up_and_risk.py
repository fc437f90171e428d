"""Issue 13 (safety controls, items 2 and 5): step-up one-time codes and risk decisions.

- `step_up_challenges`: one per payment that needs the user's one-time code; the code is kept only
  as an HMAC-SHA256 (`code_hash`) and, until the outbox delivered it, encrypted (`code_sealed`).
- `risk_decisions`: every risk check (score, reason codes, allow / step_up / refuse).

Both keyed by an AUTOINCREMENT id on SQLite (0014).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}
STEP_UP_STATUSES = ("pending", "verified", "failed", "expired", "cancelled")
RISK_VERDICTS = ("allow", "step_up", "refuse")


def _in(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{value}'" for value in values))


def upgrade() -> None:
    """Create `step_up_challenges` and `risk_decisions`."""
    op.create_table(
        "step_up_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_sealed", sa.Text(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmation", sa.Text(), nullable=False),
        sa.Column("tap_callback_id", sa.String(length=128), nullable=True),
        sa.Column("tapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("status", STEP_UP_STATUSES), name=op.f("ck_step_up_challenges_status_valid")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_step_up_challenges_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_step_up_challenges_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_step_up_challenges_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_challenges")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_step_up_challenges_payment_id")),
        **KEEP_IDS,
    )
    op.create_index(op.f("ix_step_up_challenges_user_id"), "step_up_challenges", ["user_id"])
    op.create_index(op.f("ix_step_up_challenges_status"), "step_up_challenges", ["status"])
    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("decision", RISK_VERDICTS), name=op.f("ck_risk_decisions_decision_valid")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_risk_decisions_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_risk_decisions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
        **KEEP_IDS,
    )
    for column in ("payment_id", "user_id", "decision", "created_at"):
        op.create_index(op.f(f"ix_risk_decisions_{column}"), "risk_decisions", [column])


def downgrade() -> None:
    """Drop both tables (pending codes are lost: their drafts stay unconfirmed and expire)."""
    op.drop_table("risk_decisions")
    op.drop_table("step_up_challenges")
