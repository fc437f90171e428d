"""Issue 13 items 2 and 8: a standing mandate that can move a large amount needs the user's code.

- `step_up_challenges.payment_id` becomes nullable and `mandate_consent_id` (the offer whose terms
  the code proves; unique, CASCADE) is added; CHECK `one_subject`: exactly one of the two is set.
- `notifications.step_up_challenge_id` (CASCADE, indexed): a mandate's code message names its
  challenge (no payment, no bill); CHECK `has_subject` allows it as the subject.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_IDS = {"sqlite_autoincrement": True}
SUBJECT_BEFORE = "payment_id IS NOT NULL OR bill_id IS NOT NULL"
SUBJECT_AFTER = "payment_id IS NOT NULL OR bill_id IS NOT NULL OR step_up_challenge_id IS NOT NULL"
ONE_SUBJECT = (
    "(payment_id IS NOT NULL AND mandate_consent_id IS NULL)"
    " OR (payment_id IS NULL AND mandate_consent_id IS NOT NULL)"
)


def upgrade() -> None:
    """Challenges for mandate offers, and their code messages in the outbox."""
    with op.batch_alter_table("step_up_challenges", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.alter_column("payment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("mandate_consent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_step_up_challenges_mandate_consent_id_mandate_consents"), "mandate_consents",
            ["mandate_consent_id"], ["id"], ondelete="CASCADE",
        )  # fmt: skip
        batch_op.create_unique_constraint(
            op.f("uq_step_up_challenges_mandate_consent_id"), ["mandate_consent_id"]
        )
        batch_op.create_check_constraint(op.f("ck_step_up_challenges_one_subject"), ONE_SUBJECT)
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("step_up_challenge_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_notifications_step_up_challenge_id_step_up_challenges"), "step_up_challenges",
            ["step_up_challenge_id"], ["id"], ondelete="CASCADE",
        )  # fmt: skip
        batch_op.create_index(op.f("ix_notifications_step_up_challenge_id"), ["step_up_challenge_id"])
        batch_op.drop_constraint(op.f("ck_notifications_has_subject"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_has_subject"), SUBJECT_AFTER)


def downgrade() -> None:
    """Back to 0021: mandate code messages and mandate challenges are deleted first."""
    op.execute("DELETE FROM notifications WHERE step_up_challenge_id IS NOT NULL")
    op.execute("DELETE FROM step_up_challenges WHERE payment_id IS NULL")
    with op.batch_alter_table("notifications", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_has_subject"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notifications_has_subject"), SUBJECT_BEFORE)
        batch_op.drop_index(op.f("ix_notifications_step_up_challenge_id"))
        batch_op.drop_constraint(
            op.f("fk_notifications_step_up_challenge_id_step_up_challenges"), type_="foreignkey"
        )
        batch_op.drop_column("step_up_challenge_id")
    with op.batch_alter_table("step_up_challenges", schema=None, table_kwargs=KEEP_IDS) as batch_op:
        batch_op.drop_constraint(op.f("ck_step_up_challenges_one_subject"), type_="check")
        batch_op.drop_constraint(op.f("uq_step_up_challenges_mandate_consent_id"), type_="unique")
        batch_op.drop_constraint(
            op.f("fk_step_up_challenges_mandate_consent_id_mandate_consents"), type_="foreignkey"
        )
        batch_op.drop_column("mandate_consent_id")
        batch_op.alter_column("payment_id", existing_type=sa.Integer(), nullable=False)
