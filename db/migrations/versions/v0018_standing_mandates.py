"""Issue 13 (safety controls, item 8): standing mandates (autopay) and their budgets.

Reserved so that work in parallel branches chains without conflicts: until its owner fills it in,
this revision changes nothing.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet (reserved)."""


def downgrade() -> None:
    """Nothing yet (reserved)."""
