"""Staff roles and what each may do: viewer < tester < admin, each includes the ones below."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A staff member's role, stored in staff_users.role."""

    VIEWER = "viewer"
    TESTER = "tester"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the hierarchy; a higher rank may do everything a lower one may."""
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """True when this role may use something that needs `needed`."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 1, Role.TESTER: 2, Role.ADMIN: 3}
