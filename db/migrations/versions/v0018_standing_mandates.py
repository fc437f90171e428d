"""Issue 13 (safety controls, item 8): standing mandates (autopay) and their budgets.

- `mandates`: a user's standing mandate for one biller and card (per-payment cap, monthly budget,
  expiry, status) with its current terms.
- `mandate_consents`: each set of terms offered (creating or changing a mandate) and, once the user
  confirmed it, their signed consent; a change is a new consent.
- `mandate_bill_decisions`: what the worker did with a bill under a mandate (paid it or asked the
  user), unique per bill.
- `payments.mandate_id`: the mandate an automatic charge runs under.

Keyed by AUTOINCREMENT ids on SQLite (0014); batch mode keeps that when it rebuilds `payments`.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}
STATUSES = "status IN ('proposed', 'active', 'paused', 'revoked', 'expired', 'cancelled')"


def _terms() -> list[sa.Column[Any]]:
    return [
        sa.Column("payment_method_id", sa.Integer(), sa.ForeignKey("payment_methods.id"), nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=False),
        sa.Column("budget_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
    ]


def upgrade() -> None:
    """Create the three tables and `payments.mandate_id`."""
    op.create_table(
        "mandates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("biller_id", sa.Integer(), sa.ForeignKey("billers.id"), nullable=False),
        *_terms(),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("active_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cap_minor > 0", name=op.f("ck_mandates_cap_positive")),
        sa.CheckConstraint("budget_minor > 0", name=op.f("ck_mandates_budget_positive")),
        sa.CheckConstraint(STATUSES, name=op.f("ck_mandates_status_valid")),
        **KEEP_IDS,
    )
    op.create_index(op.f("ix_mandates_user_id"), "mandates", ["user_id"])
    op.create_index(op.f("ix_mandates_status"), "mandates", ["status"])
    op.create_table(
        "mandate_consents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "mandate_id", sa.Integer(), sa.ForeignKey("mandates.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        *_terms(),
        sa.Column("summary_text", sa.Text(), nullable=False),
        sa.Column("nonce_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_reason", sa.String(16), nullable=True),
        sa.Column("confirmation", sa.Text(), nullable=True),
        sa.Column("signature", sa.String(128), nullable=True),
        sa.Column("receipt_hash", sa.String(64), nullable=True, unique=True),
        sa.CheckConstraint("cap_minor > 0", name=op.f("ck_mandate_consents_cap_positive")),
        sa.CheckConstraint("budget_minor > 0", name=op.f("ck_mandate_consents_budget_positive")),
        **KEEP_IDS,
    )
    op.create_index(op.f("ix_mandate_consents_mandate_id"), "mandate_consents", ["mandate_id"])
    op.create_table(
        "mandate_bill_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "bill_id",
            sa.Integer(),
            sa.ForeignKey("bills.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column(
            "mandate_id", sa.Integer(), sa.ForeignKey("mandates.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column(
            "payment_id", sa.Integer(), sa.ForeignKey("payments.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('paid', 'asked')", name=op.f("ck_mandate_bill_decisions_decision_valid")
        ),
        **KEEP_IDS,
    )
    op.create_index(op.f("ix_mandate_bill_decisions_mandate_id"), "mandate_bill_decisions", ["mandate_id"])
    with op.batch_alter_table("payments", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("mandate_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_payments_mandate_id_mandates"), "mandates", ["mandate_id"], ["id"]
        )
        batch_op.create_index(op.f("ix_payments_mandate_id"), ["mandate_id"], unique=False)


def downgrade() -> None:
    """Drop them (automatic payments stay, no longer naming their mandate)."""
    with op.batch_alter_table("payments", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_index(op.f("ix_payments_mandate_id"))
        batch_op.drop_constraint(op.f("fk_payments_mandate_id_mandates"), type_="foreignkey")
        batch_op.drop_column("mandate_id")
    op.drop_table("mandate_bill_decisions")
    op.drop_table("mandate_consents")
    op.drop_table("mandates")
