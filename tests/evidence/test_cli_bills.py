"""`paychat bills add USER_ID`: a bill arrives for a user (audited); unknown users and billers refused."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AuditLogEntry, Bill
from paychat.cli import app
from tests.helpers.factories import make_biller, make_user


def test_a_bill_arrives_and_is_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bills.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        user_id = make_user(session, name="Billed").id
        make_biller(session, name="Phone Co", currency="EUR")
    runner = CliRunner()
    args = ["bills", "add", str(user_id), "--biller", "Phone Co", "--reference", "PH-12", "--amount-minor",
            "3990", "--due", "2030-01-15", "--database-url", url]  # fmt: skip
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "Phone Co PH-12 €39.90 due 2030-01-15" in done.output
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already has" in again.output
    unknown = runner.invoke(app, [*args[:4], "Nobody", *args[5:]])
    assert unknown.exit_code == 2 and "no biller" in unknown.output
    with make_session_factory(engine)() as session:
        bill = session.execute(select(Bill).where(Bill.reference == "PH-12")).scalar_one()
        assert (bill.amount_due_minor, bill.status, bill.user_id) == (3990, "open", user_id)
        events = session.scalars(select(AuditLogEntry.event).where(AuditLogEntry.user_id == user_id)).all()
        assert events == ["bill.issued"]
    engine.dispose()
