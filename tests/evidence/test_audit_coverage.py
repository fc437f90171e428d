"""Every payment transition, staff action and setting change leaves an audit row.

The state machine's compare-and-set move is the one place a payment's status changes (a source
scan keeps it that way); each arrow of `TRANSITIONS` driven through it writes exactly one row
naming it. Staff actions write theirs at their one data function each.
"""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from console.roles import Role
from console.staff import create_staff_user, set_active
from console.tokens import create_api_token, revoke_api_token
from db.models import AuditLogEntry, Payment
from payments.audit import record_settings, verify_audit_chain
from payments.config import ServiceConfig
from payments.machine import StateMachine
from payments.statuses import TRANSITIONS, PaymentStatus
from payments.unit_of_work import UnitOfWork
from settings import Settings
from tests.helpers.factories import make_bill, make_biller, make_offline_card, make_user, unique

ROOT = Path(__file__).resolve().parents[2]
ARROWS = [(src, dst) for src, targets in TRANSITIONS.items() for dst in sorted(targets)]


def _payment(session: Session, status: PaymentStatus) -> Payment:
    user = make_user(session, name=unique("Audited"))
    bill = make_bill(session, user=user, biller=make_biller(session, category="water"), amount_minor=500)
    card = make_offline_card(session, user=user)
    payment = Payment(
        user_id=user.id, bill_id=bill.id, payment_method_id=card.id, amount_minor=500, currency="EUR",
        status=status.value, pay_on=date(2026, 12, 1), summary_text="Pay 5.00", idempotency_key=unique("k"),
    )  # fmt: skip
    session.add(payment)
    session.flush()
    return payment


@pytest.mark.parametrize(("src", "dst"), ARROWS, ids=[f"{s}->{d}" for s, d in ARROWS])
def test_each_transition_writes_one_audit_row(
    db_session: Session, src: PaymentStatus, dst: PaymentStatus
) -> None:
    payment = _payment(db_session, src)
    machine = StateMachine(
        UnitOfWork(sessionmaker(bind=db_session.get_bind())), consent_key=ServiceConfig().consent_signing_key
    )
    assert machine.move(db_session, payment, src, dst, reason="test")
    rows = (
        db_session.execute(select(AuditLogEntry).where(AuditLogEntry.payment_id == payment.id))
        .scalars()
        .all()
    )
    assert [(r.from_status, r.to_status) for r in rows] == [(src.value, dst.value)]
    assert not machine.move(db_session, payment, src, dst)  # a lost compare-and-set writes nothing
    assert (
        len(db_session.execute(select(AuditLogEntry).where(AuditLogEntry.payment_id == payment.id)).all())
        == 1
    )
    assert verify_audit_chain(db_session).ok


def test_only_the_state_machine_changes_a_payments_status() -> None:
    """No UPDATE of payments and no `.status =` on a Payment outside payments/machine.py."""
    offenders = []
    for path in sorted((ROOT / "payments").glob("*.py")) + sorted((ROOT / "console").glob("*.py")):
        if path.name == "machine.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "update"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "Payment"
            ):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and target.attr == "status"
                        and (isinstance(target.value, ast.Name) and target.value.id == "payment")
                    ):
                        offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def _events(session: Session, since: int) -> list[tuple[str, dict[str, object]]]:
    rows = session.execute(select(AuditLogEntry).where(AuditLogEntry.id > since).order_by(AuditLogEntry.id))
    return [(r.event, r.data) for r in rows.scalars()]


def _last_id(session: Session) -> int:
    return session.execute(select(AuditLogEntry.id).order_by(AuditLogEntry.id.desc()).limit(1)).scalar() or 0


def test_staff_actions_are_audited(db_session: Session) -> None:
    start = _last_id(db_session)
    name = unique("aud").lower()[:20]
    admin = create_staff_user(
        db_session, username=name, password="a-long-password", role=Role.ADMIN, actor="staff:root"
    )
    view, _token = create_api_token(db_session, staff_username=name, name="script", role=Role.VIEWER)
    revoke_api_token(db_session, token_id=view.id, actor="staff:root")
    create_staff_user(db_session, username=name + "2", password="a-long-password", role=Role.ADMIN)
    set_active(db_session, staff_id=admin.id, is_active=False, actor="staff:root")
    events = _events(db_session, start)
    assert [e for e, _ in events] == [
        "staff.created", "staff.token_created", "staff.token_revoked", "staff.created", "staff.deactivated",
    ]  # fmt: skip
    assert events[0][1] == {"actor": "staff:root", "staff": name, "role": "admin"}
    assert events[1][1]["token_id"] == view.id and events[1][1]["actor"] == "cli"
    assert verify_audit_chain(db_session).ok


def test_a_setting_change_is_audited_once_and_secrets_only_as_fingerprints(db_session: Session) -> None:
    start = _last_id(db_session)
    first = Settings(PAYCHAT_DAILY_LIMIT_MINOR=1234, RASA_SHARED_SECRET="a-very-secret-value")  # type: ignore[call-arg]
    assert record_settings(db_session, first.audit_snapshot()) in (True, False)
    assert not record_settings(db_session, first.audit_snapshot())  # unchanged: nothing new
    changed = Settings(PAYCHAT_DAILY_LIMIT_MINOR=999, RASA_SHARED_SECRET="a-very-secret-value")  # type: ignore[call-arg]
    assert record_settings(db_session, changed.audit_snapshot())
    event, data = _events(db_session, start)[-1]
    assert event == "settings.changed" and data["changed"] == ["PAYCHAT_DAILY_LIMIT_MINOR"]
    assert "a-very-secret-value" not in str(data)
    assert str(data["values"]).count("sha256:") >= 1  # type: ignore[index]
