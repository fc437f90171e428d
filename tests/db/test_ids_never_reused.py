"""Ids are never handed out twice, so history kept by id (audit log, consents) never moves to a new row."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AuditLogEntry, Base, Payment
from payments.audit import append_audit
from tests.helpers.factories import make_bill, make_biller, make_offline_card, make_user, unique


def _payment(session: Session) -> Payment:
    user = make_user(session, name=unique("Reused"))
    bill = make_bill(session, user=user, biller=make_biller(session, category="water"), amount_minor=500)
    card = make_offline_card(session, user=user)
    payment = Payment(
        user_id=user.id, bill_id=bill.id, payment_method_id=card.id, amount_minor=500, currency="EUR",
        status="draft", pay_on=date(2026, 12, 1), summary_text="Pay 5.00", idempotency_key=unique("k"),
    )  # fmt: skip
    session.add(payment)
    session.flush()
    return payment


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Engine:
    """A migrated SQLite database of its own (PostgreSQL sequences never reuse an id)."""
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    upgrade(url)
    return make_engine(url)


def test_the_newest_payment_deleted_does_not_hand_its_id_or_audit_trail_to_the_next(
    fresh_engine: Engine,
) -> None:
    factory = make_session_factory(fresh_engine)
    with factory.begin() as session:
        gone = _payment(session)
        gone_id = gone.id
        append_audit(session, event="payment.created", payment_id=gone_id, user_id=gone.user_id, data={})
    with factory.begin() as session:  # what a test user's reset does
        session.delete(session.get_one(Payment, gone_id))
    with factory.begin() as session:
        fresh = _payment(session)
        assert fresh.id > gone_id
        inherited = session.scalars(select(AuditLogEntry).where(AuditLogEntry.payment_id == fresh.id)).all()
        assert inherited == []
        session.rollback()
    fresh_engine.dispose()


def test_every_integer_keyed_sqlite_table_is_autoincrement_after_migrating(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'head.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        stored = dict(
            connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
        )
    engine.dispose()
    keyed_by_id = [
        t.name for t in Base.metadata.sorted_tables if [c.name for c in t.primary_key.columns] == ["id"]
    ]
    assert len(keyed_by_id) > 15
    assert [name for name in keyed_by_id if "AUTOINCREMENT" not in stored[name]] == []
