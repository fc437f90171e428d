"""The schema on both databases: migrations match models, constraints hold, the audit log is append-only."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import downgrade, upgrade
from db.models import AuditLogEntry, Base, Consent, Payment, utcnow
from payments.audit import append_audit, verify_audit_chain
from tests.helpers.factories import make_bill, make_biller, make_offline_card, make_user


def test_migrations_match_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    downgrade(url)
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    assert {"payments", "audit_log", "conversation_turns", "staff_users"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    engine.dispose()


def _payment(session: Session, *, user: Any = None, **overrides: object) -> Payment:
    user = user or make_user(session)
    card = make_offline_card(session, user=user)
    bill = make_bill(session, user=user, biller=make_biller(session))
    values: dict[str, object] = {
        "user_id": user.id,
        "bill_id": bill.id,
        "payment_method_id": card.id,
        "amount_minor": 100,
        "currency": "EUR",
        "status": "draft",
        "pay_on": bill.due_date,
        "summary_text": "s",
        "idempotency_key": f"key-{bill.id}",
    }
    values.update(overrides)
    return Payment(**values)


@pytest.mark.parametrize(
    "overrides",
    [{"amount_minor": 0}, {"amount_minor": -5}, {"status": "refunded_maybe"}, {"bill_id": 987654}],
)
def test_database_refuses_invalid_payments(db_session: Session, overrides: dict[str, object]) -> None:
    payment = _payment(db_session, **overrides)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(payment)
        db_session.flush()


def test_idempotency_keys_are_unique(db_session: Session) -> None:
    first = _payment(db_session, idempotency_key="same-key")
    db_session.add(first)
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(_payment(db_session, idempotency_key="same-key"))
        db_session.flush()


def test_audit_log_is_append_only(db_session: Session) -> None:
    entry = append_audit(db_session, event="test.event", data={"n": 1})
    for statement in (
        update(AuditLogEntry).where(AuditLogEntry.id == entry.id).values(event="forged"),
        delete(AuditLogEntry).where(AuditLogEntry.id == entry.id),
    ):
        with pytest.raises(DBAPIError), db_session.begin_nested():
            db_session.execute(statement)


def test_audit_chain_detects_tampering(db_session: Session) -> None:
    for n in range(3):
        append_audit(db_session, event="test.event", payment_id=n, data={"n": n})
    assert verify_audit_chain(db_session).ok
    middle = append_audit(db_session, event="test.event", data={"amount_minor": 100})
    append_audit(db_session, event="test.event", data={"n": 9})
    # An attacker with DDL rights drops the guard and edits a row (undone by the test's rollback).
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
    else:
        db_session.execute(text("DROP TRIGGER audit_log_no_update"))
    db_session.execute(
        update(AuditLogEntry).where(AuditLogEntry.id == middle.id).values(data={"amount_minor": 1})
    )
    db_session.expire_all()
    result = verify_audit_chain(db_session)
    assert not result.ok and result.first_bad_id == middle.id


def test_database_accepts_payments_awaiting_approval(db_session: Session) -> None:
    payment = _payment(db_session, status="awaiting_approval")
    db_session.add(payment)
    db_session.flush()
    assert db_session.get(Payment, payment.id) is not None


def test_upgrading_a_filled_database_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'filled.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        # The User model has columns revision 0001 lacks: the user row is written as 0001 knew it.
        user_id = session.execute(
            text(
                "INSERT INTO users (name, locale, timezone, currency, is_test, created_at)"
                " VALUES ('Old User', 'en_IE', 'Europe/Berlin', 'EUR', 1, CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar_one()
        payment = _payment(session, user=SimpleNamespace(id=user_id), status="approved")
        # The Payment model has columns revision 0001 lacks (charge_started_at, …): only the
        # columns the row was written with then are inserted.
        written = {column.key: getattr(payment, column.key) for column in Payment.__table__.columns}
        payment.id = session.execute(
            insert(Payment).values({k: v for k, v in written.items() if v is not None}).returning(Payment.id)
        ).scalar_one()
        # Written as 0001 knew consents (later revisions add receipt columns).
        session.execute(
            text(
                "INSERT INTO consents (payment_id, user_id, summary_text, confirmation, confirmed_at,"
                " signature) VALUES (:payment_id, :user_id, 's', 'yes', :at, 'sig')"
            ),
            {"payment_id": payment.id, "user_id": payment.user_id, "at": utcnow()},
        )
        payment_id = payment.id
    engine.dispose()
    # The SQLite rebuild of `payments` must not cascade into the consent that references it.
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Consent)).scalar_one() == 1
        assert session.execute(select(Payment.id).where(Payment.id == payment_id)).scalar_one() == payment_id
    with Session(engine) as session, pytest.raises(IntegrityError), session.begin():
        session.execute(update(Payment).values(status="refunded_maybe"))
    with Session(engine) as session, session.begin():
        session.execute(update(Payment).values(status="awaiting_approval"))
    engine.dispose()
    downgrade(url, "0001")
    engine = make_engine(url)
    with Session(engine) as session:
        assert (
            session.execute(select(Payment.status).where(Payment.id == payment_id)).scalar_one()
            == "cancelled"
        )
        assert session.execute(select(func.count()).select_from(Consent)).scalar_one() == 1
    engine.dispose()
