"""The append-only, hash-chained audit log: every payment transition, tamper-evident.

Each row's hash covers the previous row's hash and the row's own canonical content, so changing,
removing or reordering any row breaks the chain from there on. Appends are serialized (an
advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite) so the chain never forks; the database
also refuses UPDATE and DELETE on the table (triggers in the first migration).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.models import AuditLogEntry, utcnow

GENESIS_HASH = "0" * 64
AUDIT_LOCK_KEY = 7_232_017  # any constant: the advisory lock id of the audit chain's tail


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking the whole chain."""

    ok: bool
    checked: int
    first_bad_id: int | None = None


def _canonical(
    *,
    prev_hash: str,
    event: str,
    payment_id: int | None,
    user_id: int | None,
    from_status: str | None,
    to_status: str | None,
    data: dict[str, Any],
    created_at: datetime,
) -> str:
    if created_at.tzinfo is None:  # SQLite gives back naive datetimes; storage is UTC
        created_at = created_at.replace(tzinfo=UTC)
    body = {
        "prev": prev_hash,
        "event": event,
        "payment_id": payment_id,
        "user_id": user_id,
        "from": from_status,
        "to": to_status,
        "data": data,
        "at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


def append_audit(
    session: Session,
    *,
    event: str,
    payment_id: int | None = None,
    user_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Append one row at the chain's tail, inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    last = session.execute(select(AuditLogEntry.hash).order_by(AuditLogEntry.id.desc()).limit(1)).scalar()
    prev_hash = last or GENESIS_HASH
    created_at = utcnow()
    payload = dict(data or {})
    entry = AuditLogEntry(
        prev_hash=prev_hash,
        event=event,
        payment_id=payment_id,
        user_id=user_id,
        from_status=from_status,
        to_status=to_status,
        data=payload,
        created_at=created_at,
    )
    entry.hash = _digest(
        _canonical(
            prev_hash=prev_hash,
            event=event,
            payment_id=payment_id,
            user_id=user_id,
            from_status=from_status,
            to_status=to_status,
            data=payload,
            created_at=created_at,
        )
    )
    session.add(entry)
    session.flush()
    return entry


def verify_audit_chain(session: Session) -> AuditVerification:
    """Recompute every hash in order; report the first row that does not fit the chain."""
    prev_hash = GENESIS_HASH
    checked = 0
    for entry in session.execute(select(AuditLogEntry).order_by(AuditLogEntry.id)).scalars():
        expected = _digest(
            _canonical(
                prev_hash=prev_hash,
                event=entry.event,
                payment_id=entry.payment_id,
                user_id=entry.user_id,
                from_status=entry.from_status,
                to_status=entry.to_status,
                data=entry.data,
                created_at=entry.created_at,
            )
        )
        if entry.prev_hash != prev_hash or entry.hash != expected:
            return AuditVerification(ok=False, checked=checked, first_bad_id=entry.id)
        prev_hash = entry.hash
        checked += 1
    return AuditVerification(ok=True, checked=checked)
