"""The audit chain names every altered, inserted, reordered or deleted row, on SQLite and PostgreSQL.

Each test plays an attacker with DDL rights: it drops the append-only triggers (and, to insert a
row, the uniqueness of prev_hash) inside the test's transaction, which the rollback undoes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from db.models import AuditLogEntry
from payments.audit import AuditProblemKind, _canonical, _digest, append_audit, verify_audit_chain


def _unguard(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
    else:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("DROP TRIGGER audit_log_no_delete"))


def _chain(session: Session, n: int = 5) -> list[AuditLogEntry]:
    return [append_audit(session, event="test.event", payment_id=i, data={"n": i}) for i in range(n)]


def _problems(session: Session) -> set[tuple[int | None, AuditProblemKind]]:
    session.expire_all()
    result = verify_audit_chain(session)
    assert not result.ok
    return {(p.row_id, p.kind) for p in result.problems}


def _rehash(row: dict[str, object], prev_hash: str) -> str:
    return _digest(
        _canonical(
            prev_hash=prev_hash,
            event=str(row["event"]),
            payment_id=row["payment_id"],  # type: ignore[arg-type]
            user_id=row["user_id"],  # type: ignore[arg-type]
            from_status=row["from_status"],  # type: ignore[arg-type]
            to_status=row["to_status"],  # type: ignore[arg-type]
            data=row["data"],  # type: ignore[arg-type]
            created_at=row["created_at"],  # type: ignore[arg-type]
        )
    )


def test_an_intact_chain_verifies_and_reports_its_head(db_session: Session) -> None:
    rows = _chain(db_session)
    result = verify_audit_chain(db_session)
    assert result.ok and result.problems == ()
    assert (result.head_id, result.head_hash) == (rows[-1].id, rows[-1].hash)


def test_an_altered_row_is_named(db_session: Session) -> None:
    rows = _chain(db_session)
    _unguard(db_session)
    db_session.execute(update(AuditLogEntry).where(AuditLogEntry.id == rows[2].id).values(data={"n": 99}))
    assert _problems(db_session) == {(rows[2].id, AuditProblemKind.ALTERED)}


def test_an_altered_and_rehashed_row_is_named(db_session: Session) -> None:
    rows = _chain(db_session)
    _unguard(db_session)
    raw = (
        db_session.execute(select(AuditLogEntry.__table__).where(AuditLogEntry.id == rows[2].id))
        .mappings()
        .one()
    )
    forged = dict(raw) | {"data": {"n": 99}}
    db_session.execute(
        update(AuditLogEntry)
        .where(AuditLogEntry.id == rows[2].id)
        .values(data={"n": 99}, hash=_rehash(forged, raw["prev_hash"]))
    )
    assert _problems(db_session) == {(rows[2].id, AuditProblemKind.REHASHED)}


def test_a_deleted_row_is_named(db_session: Session) -> None:
    rows = _chain(db_session)
    _unguard(db_session)
    db_session.execute(delete(AuditLogEntry).where(AuditLogEntry.id == rows[2].id))
    problems = _problems(db_session)
    assert problems == {(rows[3].id, AuditProblemKind.DELETED)}
    assert verify_audit_chain(db_session).problems[0].related_id == rows[1].id  # the gap starts after it


def test_rows_deleted_at_the_end_are_caught_against_a_recorded_head(db_session: Session) -> None:
    rows = _chain(db_session)
    head = verify_audit_chain(db_session)
    _unguard(db_session)
    db_session.execute(delete(AuditLogEntry).where(AuditLogEntry.id >= rows[3].id))
    db_session.expire_all()
    assert verify_audit_chain(db_session).ok  # the chain alone cannot tell
    result = verify_audit_chain(db_session, expected_head=(head.head_id or 0, head.head_hash))
    assert not result.ok
    assert [(p.row_id, p.kind) for p in result.problems] == [(rows[-1].id, AuditProblemKind.HEAD_MISSING)]


def test_two_swapped_rows_are_named_as_reordered(db_session: Session) -> None:
    rows = _chain(db_session)
    _unguard(db_session)
    a, b = rows[1].id, rows[2].id
    # Swap the two rows' places (their ids): park one id out of the way first.
    db_session.execute(update(AuditLogEntry).where(AuditLogEntry.id == a).values(id=-1))
    db_session.execute(update(AuditLogEntry).where(AuditLogEntry.id == b).values(id=a))
    db_session.execute(update(AuditLogEntry).where(AuditLogEntry.id == -1).values(id=b))
    assert _problems(db_session) == {(a, AuditProblemKind.REORDERED), (b, AuditProblemKind.REORDERED)}


def test_an_inserted_row_is_named(db_session: Session) -> None:
    rows = _chain(db_session)
    _unguard(db_session)
    # Make room after row 2 (ids moved up by 1000), then slip a forged row in with a valid own hash.
    db_session.execute(
        update(AuditLogEntry).where(AuditLogEntry.id > rows[2].id).values(id=AuditLogEntry.id + 1000)
    )
    forged = {
        "id": rows[2].id + 1,
        "prev_hash": "f" * 64,  # prev_hash is unique: it cannot claim row 2's place in the chain
        "event": "payment.transition",
        "payment_id": 1,
        "user_id": 1,
        "from_status": "processing",
        "to_status": "succeeded",
        "data": {},
        "created_at": rows[2].created_at + timedelta(seconds=1),
    }
    forged["hash"] = _rehash(forged, "f" * 64)
    db_session.execute(insert(AuditLogEntry.__table__).values(**forged))
    assert _problems(db_session) == {(rows[2].id + 1, AuditProblemKind.INSERTED)}


@pytest.mark.parametrize("where", ["start", "middle"])
def test_an_inserted_row_that_links_to_its_predecessor_is_named(db_session: Session, where: str) -> None:
    rows = _chain(db_session)
    _unguard(db_session)
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite cannot drop a table's own UNIQUE constraint; the other insertion test covers it")
    db_session.execute(text("ALTER TABLE audit_log DROP CONSTRAINT uq_audit_log_prev_hash"))
    after = rows[0] if where == "start" else rows[2]
    db_session.execute(
        update(AuditLogEntry).where(AuditLogEntry.id > after.id).values(id=AuditLogEntry.id + 1000)
    )
    forged = {
        "id": after.id + 1,
        "prev_hash": after.hash,
        "event": "payment.transition",
        "payment_id": 1,
        "user_id": 1,
        "from_status": "processing",
        "to_status": "succeeded",
        "data": {},
        "created_at": after.created_at,
    }
    forged["hash"] = _rehash(forged, after.hash)
    db_session.execute(insert(AuditLogEntry.__table__).values(**forged))
    assert _problems(db_session) == {(after.id + 1, AuditProblemKind.INSERTED)}
