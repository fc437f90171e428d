"""Demo users are console-only: `users.demo_key` finds them, and they lose their Telegram ids.

The demo users used to carry Telegram ids 100001-100003, which real Telegram accounts can have:
whoever owned one would have chatted as that demo user. Existing demo rows (matched by id, name
and the test flag) get their key and no Telegram id; the downgrade gives the ids back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (former Telegram id, name, key) of the demo users as payments.demo created them before.
LEGACY_DEMO_USERS = (
    (100001, "Alex Demo", "alex"),
    (100002, "Dana Decline", "dana"),
    (100003, "Sam Secure", "sam"),
)


def upgrade() -> None:
    """Add `users.demo_key` (unique) and move the legacy demo users onto it."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("demo_key", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_demo_key"), ["demo_key"])
    users = sa.table(
        "users",
        sa.column("telegram_user_id", sa.BigInteger()),
        sa.column("name", sa.String()),
        sa.column("is_test", sa.Boolean()),
        sa.column("demo_key", sa.String()),
    )
    for telegram_user_id, name, key in LEGACY_DEMO_USERS:
        op.execute(
            users.update()
            .where(
                users.c.telegram_user_id == telegram_user_id,
                users.c.name == name,
                users.c.is_test.is_(True),
            )
            .values(demo_key=key, telegram_user_id=None)
        )


def downgrade() -> None:
    """Give the demo users their former Telegram ids back (when still free) and drop the key."""
    users = sa.table(
        "users",
        sa.column("telegram_user_id", sa.BigInteger()),
        sa.column("demo_key", sa.String()),
    )
    for telegram_user_id, _name, key in LEGACY_DEMO_USERS:
        taken = sa.select(users.c.telegram_user_id).where(users.c.telegram_user_id == telegram_user_id)
        if op.get_bind().execute(taken).first() is None:
            op.execute(
                users.update().where(users.c.demo_key == key).values(telegram_user_id=telegram_user_id)
            )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_demo_key"), type_="unique")
        batch_op.drop_column("demo_key")
