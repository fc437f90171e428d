"""Issue 10 (trust holes, part 3): in-flight charges, persisted outcomes, deadlines, approval period.

Reserved so that work in parallel branches chains without conflicts: until its owner fills it in,
this revision changes nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet (reserved)."""


def downgrade() -> None:
    """Nothing yet (reserved)."""
