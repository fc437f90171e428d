"""Staff accounts: argon2 password hashes, creation, login checks and the demo admin.

Functions take a SQLAlchemy `Session` and leave committing to the caller, so the CLI, the web
views and the tests each decide their own transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from console.roles import Role
from db.models import StaffUser
from payments.audit import append_audit

DEMO_USERNAME = "demo"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,31}$"
MIN_PASSWORD_LENGTH = 10


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so a login takes as long either way and does
    # not reveal which usernames exist. Hashed on first use: nothing is computed at import.
    return _hasher().hash("paychat-no-such-user")


class StaffError(ValueError):
    """A staff account could not be created or changed; the message is shown to the admin."""


@dataclass(frozen=True)
class StaffView:
    """A staff account as the console shows it (never the hash)."""

    id: int
    username: str
    role: Role
    is_active: bool
    created_at: datetime
    # Changes whenever the password hash does; a session remembers it, so a new password ends
    # every older session. A digest of the (salted) hash, never the hash itself.
    credential_stamp: str = ""


def _view(row: StaffUser) -> StaffView:
    return StaffView(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        is_active=row.is_active,
        created_at=row.created_at,
        credential_stamp=hashlib.sha256(row.password_hash.encode()).hexdigest()[:32],
    )


def hash_password(password: str) -> str:
    """An argon2id hash of `password` with the library's current parameters."""
    return _hasher().hash(password)


def create_staff_user(
    session: Session, *, username: str, password: str, role: Role | str, actor: str = "cli"
) -> StaffView:
    """Create an active staff account (audited, by `actor`); StaffError on a taken name or weak password."""
    username = username.strip().lower()
    if not re.match(USERNAME_PATTERN, username):
        raise StaffError("username: 2-32 characters, lowercase letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    try:
        role = Role(role)
    except ValueError:
        raise StaffError(f"role: one of {', '.join(r.value for r in Role)}") from None
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise StaffError(f"username {username!r} is taken")
    row = StaffUser(username=username, password_hash=hash_password(password), role=role.value, is_active=True)
    session.add(row)
    session.flush()
    append_audit(session, event="staff.created", data={"actor": actor, "staff": username, "role": role.value})
    return _view(row)


def authenticate(session: Session, *, username: str, password: str) -> StaffView | None:
    """The active account whose password matches, or None; upgrades an outdated hash (in `session`)."""
    row = _staff_row(session, username)
    if not _password_matches(row, password):
        return None
    assert row is not None
    if _hasher().check_needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
        session.flush()
    return _view(row)


def authenticate_outside_transaction(
    session_factory: sessionmaker[Session], *, username: str, password: str
) -> StaffView | None:
    """As `authenticate`, but argon2 (tens of ms of CPU, more on a busy machine) runs with no
    transaction open: on SQLite every transaction takes the database's one write lock (BEGIN
    IMMEDIATE), so a verify inside one would stall every payment behind a staff login. The row is
    read in one short transaction; an outdated hash is upgraded in another, only if unchanged."""
    with session_factory() as session:
        row = _staff_row(session, username)
    if not _password_matches(row, password):
        return None
    assert row is not None
    if _hasher().check_needs_rehash(row.password_hash):
        upgraded = hash_password(password)
        with session_factory.begin() as session:
            changed = session.execute(
                update(StaffUser)
                .where(StaffUser.id == row.id, StaffUser.password_hash == row.password_hash)
                .values(password_hash=upgraded)
                .execution_options(synchronize_session=False)
            )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            row.password_hash = upgraded
    return _view(row)


def _staff_row(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))


def _password_matches(row: StaffUser | None, password: str) -> bool:
    """True for an active account whose hash `password` matches; an unknown or inactive account
    still costs one verify (against a dummy hash), so timing does not tell which names exist."""
    if row is None or not row.is_active:
        _verify(_dummy_hash(), password)
        return False
    return _verify(row.password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_staff(session: Session, staff_id: int) -> StaffView | None:
    """The active account with this id, or None (deactivated accounts lose their sessions)."""
    row = session.get(StaffUser, staff_id)
    if row is None or not row.is_active:
        return None
    return _view(row)


def list_staff(session: Session) -> list[StaffView]:
    """Every staff account, by username."""
    return [_view(row) for row in session.scalars(select(StaffUser).order_by(StaffUser.username))]


def set_active(session: Session, *, staff_id: int, is_active: bool, actor: str = "cli") -> StaffView:
    """Activate or deactivate an account (audited); refuses to deactivate the last active admin."""
    row = session.get(StaffUser, staff_id)
    if row is None:
        raise StaffError("no such staff account")
    if not is_active and row.role == Role.ADMIN.value:
        admins = session.scalar(
            select(func.count())
            .select_from(StaffUser)
            .where(StaffUser.role == Role.ADMIN.value, StaffUser.is_active.is_(True))
        )
        if (admins or 0) <= 1:
            raise StaffError("the last active admin cannot be deactivated")
    if row.is_active != is_active:
        append_audit(
            session,
            event="staff.activated" if is_active else "staff.deactivated",
            data={"actor": actor, "staff": row.username},
        )
    row.is_active = is_active
    session.flush()
    return _view(row)


def ensure_demo_staff(session: Session, *, password_file: Path) -> tuple[str, str]:
    """Make sure the demo admin exists and return its login; running it twice prints the same one.

    The password is random and kept (mode 0600) in `password_file` under the var folder, because a
    hash cannot give it back; if the file is missing or stale the password is reset.
    """
    stored = password_file.read_text().strip() if password_file.exists() else ""
    row = session.scalar(select(StaffUser).where(StaffUser.username == DEMO_USERNAME))
    if row is not None and stored and _verify(row.password_hash, stored):
        row.is_active = True
        row.role = Role.ADMIN.value
        session.flush()
        return DEMO_USERNAME, stored
    password = secrets.token_urlsafe(12)
    if row is None:
        create_staff_user(session, username=DEMO_USERNAME, password=password, role=Role.ADMIN)
    else:
        row.password_hash = hash_password(password)
        row.is_active = True
        row.role = Role.ADMIN.value
        session.flush()
    password_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    password_file.touch(mode=0o600, exist_ok=True)
    password_file.chmod(0o600)
    password_file.write_text(password + "\n")
    return DEMO_USERNAME, password
