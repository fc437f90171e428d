"""API tokens for scripts: `Authorization: Bearer pct_…` instead of a password on every request.

A token is 32 random bytes shown once at creation; only its SHA-256 is stored (a fast hash is
right for a secret this long: nobody can guess it, so there is nothing to slow down, and no
argon2 runs per request). Each token carries a role, never above its staff member's: the lower of
the two applies on every request, so demoting or deactivating the person limits or stops their
tokens at once. Revoked tokens stay listed for the record.

Functions take a SQLAlchemy `Session` and leave committing to the caller, like console.staff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.roles import Role
from console.staff import StaffError, StaffView, get_staff
from db.models import StaffApiToken, StaffUser, utcnow
from payments.audit import append_audit

TOKEN_PREFIX = "pct_"  # "paychat console token": recognisable in a leak scan, cheap to reject
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$"
LAST_USED_PRECISION = timedelta(minutes=1)  # at most one write per token per minute


@dataclass(frozen=True)
class ApiTokenView:
    """A token as `list-tokens` shows it (never the token, never its hash)."""

    id: int
    name: str
    staff_username: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_digest(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _view(row: StaffApiToken, staff_username: str) -> ApiTokenView:
    return ApiTokenView(
        id=row.id,
        name=row.name,
        staff_username=staff_username,
        role=Role(row.role),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def create_api_token(
    session: Session, *, staff_username: str, name: str, role: Role | str, actor: str = "cli"
) -> tuple[ApiTokenView, str]:
    """A new token for an active staff member: its view and the token itself (shown once only)."""
    if not re.match(NAME_PATTERN, name):
        raise StaffError("name: 1-64 characters, letters, digits, space, '.', '_', ':' or '-'")
    try:
        role = Role(role)
    except ValueError:
        raise StaffError(f"role: one of {', '.join(r.value for r in Role)}") from None
    staff = session.scalar(select(StaffUser).where(StaffUser.username == staff_username.strip().lower()))
    if staff is None or not staff.is_active:
        raise StaffError(f"no active staff account {staff_username!r}")
    if not Role(staff.role).allows(role):
        raise StaffError(f"{staff.username} is {staff.role}: a token cannot have more ({role.value})")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = StaffApiToken(staff_id=staff.id, name=name, token_hash=token_digest(token), role=role.value)
    session.add(row)
    session.flush()
    append_audit(
        session,
        event="staff.token_created",
        data={"actor": actor, "staff": staff.username, "token_id": row.id, "name": name, "role": role.value},
    )
    return _view(row, staff.username), token


def revoke_api_token(session: Session, *, token_id: int, actor: str = "cli") -> ApiTokenView:
    """Revoke a token (it stops working at once); revoking twice keeps the first time."""
    row = session.get(StaffApiToken, token_id)
    if row is None:
        raise StaffError(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        append_audit(session, event="staff.token_revoked", data={"actor": actor, "token_id": row.id})
    staff = session.get(StaffUser, row.staff_id)
    return _view(row, staff.username if staff else "?")


def list_api_tokens(session: Session) -> list[ApiTokenView]:
    """Every token, revoked ones included, by staff member and creation."""
    rows = session.execute(
        select(StaffApiToken, StaffUser.username)
        .join(StaffUser, StaffUser.id == StaffApiToken.staff_id)
        .order_by(StaffUser.username, StaffApiToken.id)
    ).all()
    return [_view(row, username) for row, username in rows]


def staff_for_token(session: Session, token: str) -> StaffView | None:
    """The staff member a live token speaks for, with the lower of the two roles; None otherwise."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(StaffApiToken).where(StaffApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    staff = get_staff(session, row.staff_id)  # None when the account was deactivated
    if staff is None:
        return None
    now = utcnow()
    last_used = row.last_used_at
    if last_used is None or now - (last_used if last_used.tzinfo else last_used.replace(tzinfo=UTC)) > (
        LAST_USED_PRECISION
    ):
        row.last_used_at = now
        session.flush()
    role = min(staff.role, Role(row.role), key=lambda r: r.rank)
    return dataclasses.replace(staff, role=role)
