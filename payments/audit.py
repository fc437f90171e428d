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
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from db.models import AuditLogEntry, utcnow
from privacy.bearer import scrub_bearer

GENESIS_HASH = "0" * 64
AUDIT_LOCK_KEY = 7_232_017  # any constant: the advisory lock id of the audit chain's tail
# session.info key: (the transaction that last appended, the hash it appended). Appends are
# serialized until that transaction ends, so its own last row is still the tail for its next append
# (dropped by an append inside a savepoint: see `append_audit`).
AUDIT_TAIL = "paychat_audit_tail"


class AuditProblemKind(StrEnum):
    """What is wrong with one audit row."""

    ALTERED = "altered"  # its content no longer matches its own hash
    REHASHED = "rehashed"  # altered and given a fresh hash: the next row no longer links to it
    DELETED = "deleted"  # rows are missing before it (the row it links to is gone)
    INSERTED = "inserted"  # it sits in the chain's order but the next row does not link to it
    REORDERED = "reordered"  # it links to a row that comes after it
    HEAD_MISSING = "head_missing"  # a head recorded earlier is gone (rows deleted at the end)


@dataclass(frozen=True)
class AuditProblem:
    """One row that does not fit the chain, and why."""

    row_id: int | None
    kind: AuditProblemKind
    # The other row involved: the one linking to it (rehashed, inserted), the last one before the
    # gap (deleted), the later row it links to (reordered).
    related_id: int | None = None
    # The hash involved: the one the next row expects (rehashed), the missing one (deleted, head).
    hash: str = ""


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking the whole chain."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problems: tuple[AuditProblem, ...] = ()
    head_id: int | None = None
    head_hash: str = GENESIS_HASH


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


def _chain_tail(session: Session, transaction: object) -> str:
    """The hash the next row links to: read under the chain's lock, unless this transaction
    appended the tail itself (it holds the lock since, so its own last row is still the tail)."""
    tail = session.info.get(AUDIT_TAIL)
    if (
        tail is not None
        and transaction is not None
        and tail[0] is transaction
        and not session.in_nested_transaction()
    ):
        return str(tail[1])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    last = session.execute(select(AuditLogEntry.hash).order_by(AuditLogEntry.id.desc()).limit(1)).scalar()
    return last or GENESIS_HASH


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
    """Append one row at the chain's tail, inside the caller's transaction.

    The row never keeps bearer material (privacy.bearer): a signed challenge link, a client secret
    or a token in `data` is replaced by a placeholder before it is stored and hashed, since every
    staff viewer reads the audit trail.
    """
    transaction = session.get_transaction()
    prev_hash = _chain_tail(session, transaction)
    created_at = utcnow()
    payload: dict[str, Any] = scrub_bearer(dict(data or {}))
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
    # A savepoint could roll this row back alone: only a plain transaction keeps its tail. A row
    # appended inside a savepoint drops the kept one (released, that row is the tail; rolled back,
    # the older one is): the transaction's next append reads the tail again (it holds the lock).
    if transaction is not None and not session.in_nested_transaction():
        session.info[AUDIT_TAIL] = (transaction, entry.hash)
    else:
        session.info.pop(AUDIT_TAIL, None)
    return entry


def _expected_hash(entry: AuditLogEntry) -> str:
    return _digest(
        _canonical(
            prev_hash=entry.prev_hash,
            event=entry.event,
            payment_id=entry.payment_id,
            user_id=entry.user_id,
            from_status=entry.from_status,
            to_status=entry.to_status,
            data=entry.data,
            created_at=entry.created_at,
        )
    )


def verify_audit_chain(
    session: Session, *, expected_head: tuple[int, str] | None = None
) -> AuditVerification:
    """Recompute every hash in id order and name each row that does not fit the chain.

    A row whose content no longer matches its hash was altered; a row nobody links to that stands
    between linked rows was inserted; a row linking to a later one was reordered; a row linking to
    a hash nobody has lost its predecessors (or its predecessor was altered and re-hashed). A chain
    re-hashed from some row to its very end, or rows deleted at the very end, leave no trace in the
    chain itself: compare with a head (id, hash) recorded earlier, `expected_head`.
    """
    rows = list(session.execute(select(AuditLogEntry).order_by(AuditLogEntry.id)).scalars())
    position = {row.hash: index for index, row in enumerate(rows)}
    linked = {row.prev_hash for row in rows}
    found: dict[tuple[int | None, AuditProblemKind], AuditProblem] = {}
    for index, row in enumerate(rows):
        if _expected_hash(row) != row.hash:
            found.setdefault(
                (row.id, AuditProblemKind.ALTERED), AuditProblem(row.id, AuditProblemKind.ALTERED)
            )
        expected_prev = rows[index - 1].hash if index else GENESIS_HASH
        if row.prev_hash != expected_prev:
            for problem in _link_problems(rows, index, position, linked):
                found.setdefault((problem.row_id, problem.kind), problem)
    if expected_head is not None and expected_head[1] not in position:
        head_id, head_hash = expected_head
        found[(head_id, AuditProblemKind.HEAD_MISSING)] = AuditProblem(
            head_id, AuditProblemKind.HEAD_MISSING, hash=head_hash
        )
    problems = sorted(found.values(), key=lambda p: (p.row_id is None, p.row_id or 0))
    head = rows[-1] if rows else None
    return AuditVerification(
        ok=not problems,
        checked=len(rows),
        first_bad_id=next((p.row_id for p in problems if p.row_id is not None), None),
        problems=tuple(problems),
        head_id=head.id if head else None,
        head_hash=head.hash if head else GENESIS_HASH,
    )


def _link_problems(
    rows: list[AuditLogEntry], index: int, position: dict[str, int], linked: set[str]
) -> list[AuditProblem]:
    """Why `rows[index]` does not link to the row just before it."""
    row = rows[index]
    previous = rows[index - 1] if index else None
    following = rows[index + 1] if index + 1 < len(rows) else None
    target = -1 if row.prev_hash == GENESIS_HASH else position.get(row.prev_hash)
    if target is None:
        if (
            row.hash not in linked
            and following is not None
            and previous is not None
            and following.prev_hash == previous.hash
        ):
            return [AuditProblem(row.id, AuditProblemKind.INSERTED, related_id=following.id)]
        if previous is not None and row.id == previous.id + 1:
            return [
                AuditProblem(previous.id, AuditProblemKind.REHASHED, related_id=row.id, hash=row.prev_hash)
            ]
        return [
            AuditProblem(
                row.id,
                AuditProblemKind.DELETED,
                related_id=previous.id if previous else None,
                hash=row.prev_hash,
            )
        ]
    if target >= index:
        return [AuditProblem(row.id, AuditProblemKind.REORDERED, related_id=rows[target].id)]
    # It links to an earlier row than its predecessor: the rows in between are out of the chain.
    return [
        AuditProblem(
            between.id,
            AuditProblemKind.REORDERED if between.hash in linked else AuditProblemKind.INSERTED,
            related_id=row.id,
        )
        for between in rows[target + 1 : index]
    ]


def record_settings(session: Session, snapshot: dict[str, str]) -> bool:
    """Append `settings.changed` when `snapshot` differs from the last one recorded; True if it did.

    `snapshot` is `Settings.audit_snapshot()`: plain values, and only a fingerprint of each secret.
    """
    last = session.execute(
        select(AuditLogEntry.data)
        .where(AuditLogEntry.event == "settings.changed")
        .order_by(AuditLogEntry.id.desc())
        .limit(1)
    ).scalar()
    before: dict[str, str] = dict((last or {}).get("values", {}))
    if before == scrub_bearer(snapshot):  # what `append_audit` would have stored of it
        return False
    changed = sorted(
        name for name in snapshot.keys() | before.keys() if snapshot.get(name) != before.get(name)
    )
    append_audit(session, event="settings.changed", data={"changed": changed, "values": snapshot})
    return True
