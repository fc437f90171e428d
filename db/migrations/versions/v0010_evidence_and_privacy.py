"""Issue 13 (safety controls, part 2): consent receipts, personal data encrypted at rest, /forget.

Consents get a version (1 for every existing row, whose original signature still verifies), the
receipt's fields, its SHA-256 (chained into the audit log) and the PaymentIntent bound to it.
Users get `forgotten_at`. The personal columns (db/crypto.py) become text holding Fernet tokens,
and every existing value is encrypted here with the configured keys (PAYCHAT_DATA_KEYS).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from db.crypto import keyring

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, key column, column): the columns stored encrypted from this revision on.
ENCRYPTED = (
    ("users", "id", "name"),
    ("payments", "id", "summary_text"),
    ("consents", "id", "summary_text"),
    ("consents", "id", "confirmation"),
    ("conversation_turns", "id", "user_text"),
    ("conversation_turns", "id", "replies"),
    ("conversation_turns", "id", "entities"),
    ("conversation_turns", "id", "slots"),
    ("conversation_turns", "id", "events"),
)
JSON_COLUMNS = ("replies", "entities", "slots", "events")


def upgrade() -> None:
    """Receipt columns, forgotten_at, text columns for tokens, then encrypt what is there."""
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("receipt", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("receipt_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("payment_intent_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("intent_signature", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_consents_receipt_hash"), ["receipt_hash"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("name", existing_type=sa.String(length=200), type_=sa.Text())
    with op.batch_alter_table("conversation_turns", schema=None) as batch_op:
        for name in JSON_COLUMNS:
            batch_op.alter_column(
                name, existing_type=sa.JSON(), type_=sa.Text(), postgresql_using=f"{name}::text"
            )
    ring = keyring()
    _rewrite(ring.encrypt)


def downgrade() -> None:
    """Decrypt everything, restore the column types, drop the new columns."""
    ring = keyring()
    _rewrite(ring.decrypt)
    with op.batch_alter_table("conversation_turns", schema=None) as batch_op:
        for name in JSON_COLUMNS:
            batch_op.alter_column(
                name, existing_type=sa.Text(), type_=sa.JSON(), postgresql_using=f"{name}::json"
            )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.Text(), type_=sa.String(length=200))
        batch_op.drop_column("forgotten_at")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_consents_receipt_hash"), type_="unique")
        batch_op.drop_column("intent_signature")
        batch_op.drop_column("payment_intent_id")
        batch_op.drop_column("receipt_hash")
        batch_op.drop_column("receipt")
        batch_op.drop_column("version")


def _rewrite(transform: Callable[[str], str]) -> None:
    connection = op.get_bind()
    for table_name, key, column_name in ENCRYPTED:
        table = sa.table(table_name, sa.column(key), sa.column(column_name, sa.Text()))
        rows = connection.execute(sa.select(table.c[key], table.c[column_name])).all()
        for row_key, value in rows:
            if value is not None:
                connection.execute(
                    sa.update(table).where(table.c[key] == row_key).values({column_name: transform(value)})
                )
