"""Issue 14 (tuning loop): reviewed examples, the model registry, anonymized conversations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `review_labels`, `tuned_models`, `tuned_model_events`; add `conversations.anonymized_at`."""
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymized_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "review_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text_key", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=True),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("staff_username", sa.String(length=100), nullable=False),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["turn_id"],
            ["conversation_turns.id"],
            name=op.f("fk_review_labels_turn_id_conversation_turns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_review_labels_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_labels")),
        sa.UniqueConstraint("text_key", "staff_username", name="uq_review_labels_text_key_staff"),
    )
    with op.batch_alter_table("review_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_labels_text_key"), ["text_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_labels_turn_id"), ["turn_id"], unique=False)
    op.create_table(
        "tuned_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("examples_added", sa.Integer(), nullable=False),
        sa.Column("trained_by", sa.String(length=100), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("train_seconds", sa.Float(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("promoted_by", sa.String(length=100), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuned_models")),
        sa.UniqueConstraint("name", name=op.f("uq_tuned_models_name")),
    )
    op.create_table(
        "tuned_model_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "action IN ('registered', 'promoted', 'refused', 'rolled_back')",
            name=op.f("ck_tuned_model_events_action_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["tuned_models.id"],
            name=op.f("fk_tuned_model_events_model_id_tuned_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tuned_model_events")),
    )
    with op.batch_alter_table("tuned_model_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tuned_model_events_model_id"), ["model_id"], unique=False)


def downgrade() -> None:
    """Drop the tuning tables and the anonymization mark (labels and the registry are lost)."""
    with op.batch_alter_table("tuned_model_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tuned_model_events_model_id"))
    op.drop_table("tuned_model_events")
    op.drop_table("tuned_models")
    with op.batch_alter_table("review_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_labels_turn_id"))
        batch_op.drop_index(batch_op.f("ix_review_labels_text_key"))
    op.drop_table("review_labels")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("anonymized_at")
