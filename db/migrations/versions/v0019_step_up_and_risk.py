"""Issue 13 (safety controls, items 2 and 5): step-up one-time codes and risk decisions.

Reserved so that work in parallel branches chains without conflicts: until its owner fills it in,
this revision changes nothing.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet (reserved)."""


def downgrade() -> None:
    """Nothing yet (reserved)."""
