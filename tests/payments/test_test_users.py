"""Test users for staff: created with the demo bills and a sandbox card, reset to that state (real
database, real localstripe); real customers are never touched."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from db.models import AuditLogEntry, Base, Bill, Notification, Payment, Refund, SavedPaymentMethod, User
from payments.demo import DEMO_BILLERS
from payments.errors import TestUserBusyError, TestUserRequiredError
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.testusers import KEPT_TABLES, TestCard, owned_rows
from tests.helpers.factories import make_user

pytestmark = pytest.mark.sandbox


def _count(service: PaymentsService, model: type[Base], user_id: int) -> int:
    with service.session_factory() as session:
        column = model.__table__.c.user_id  # type: ignore[attr-defined]
        return int(session.execute(select(func.count()).where(column == user_id)).scalar_one())


def test_a_new_test_user_has_the_demo_bills_and_the_chosen_sandbox_card(
    payments_service: PaymentsService,
) -> None:
    user = payments_service.create_test_user(name="Tess Tester", card=TestCard.DECLINES, created_by="tester")
    assert user.is_test and user.telegram_user_id is None
    bills = payments_service.open_bills(user_id=user.id)
    assert sorted(b.biller_name for b in bills) == sorted(d.name for d in DEMO_BILLERS)
    with payments_service.session_factory() as session:
        cards = session.execute(
            select(SavedPaymentMethod).where(SavedPaymentMethod.user_id == user.id)
        ).scalars()
        assert [c.last4 for c in cards] == ["0341"]
        created = session.execute(
            select(AuditLogEntry).where(
                AuditLogEntry.user_id == user.id, AuditLogEntry.event == "test_user.created"
            )
        ).scalar_one()
        assert created.data == {"created_by": "tester", "card": "declines"}


def test_reset_removes_payments_and_restores_the_bills(payments_service: PaymentsService) -> None:
    user = payments_service.create_test_user(name="Reset Me", card=TestCard.SUCCEEDS, created_by="tester")
    electricity = next(
        b for b in payments_service.open_bills(user_id=user.id) if b.biller_category == "electricity"
    )
    paid = payments_service.draft_payment(
        user_id=user.id, bill_id=electricity.id, amount_text=None, date_text=None
    )
    result = payments_service.confirm_payment(
        user_id=user.id, payment_id=paid.payment_id, consent_text="/affirm"
    )
    assert result.status == PaymentStatus.SUCCEEDED
    payments_service.refund_payment(
        payment_id=paid.payment_id, amount_minor=100, requested_by="admin", idempotency_key=str(uuid.uuid4())
    )
    phone = next(b for b in payments_service.open_bills(user_id=user.id) if b.biller_category == "phone")
    payments_service.draft_payment(user_id=user.id, bill_id=phone.id, amount_text="10", date_text="in 3 days")
    assert len(payments_service.open_bills(user_id=user.id)) == len(DEMO_BILLERS) - 1
    assert payments_service.payment_history(user_id=user.id)

    report = payments_service.reset_test_user(user_id=user.id, reset_by="tester")

    assert report.card == TestCard.SUCCEEDS
    assert report.removed["payments"] == 2 and report.removed["refunds"] == 1
    assert _count(payments_service, Payment, user.id) == 0
    assert payments_service.payment_history(user_id=user.id) == []
    bills = payments_service.open_bills(user_id=user.id)
    assert len(bills) == len(DEMO_BILLERS)
    assert all(b.outstanding == b.amount_due for b in bills)
    with payments_service.session_factory() as session:
        assert session.execute(select(Refund.id).where(Refund.payment_id == paid.payment_id)).first() is None
        reset = session.execute(
            select(AuditLogEntry).where(
                AuditLogEntry.user_id == user.id, AuditLogEntry.event == "test_user.reset"
            )
        ).scalar_one()
        assert reset.data["reset_by"] == "tester"
        # The card is kept (and healed in the sandbox), so the user can pay again at once.
        assert session.execute(
            select(SavedPaymentMethod.last4).where(SavedPaymentMethod.user_id == user.id)
        ).scalars().all() == ["4242"]
    again = payments_service.draft_payment(
        user_id=user.id, bill_id=bills[0].id, amount_text=None, date_text=None
    )
    assert (
        payments_service.confirm_payment(
            user_id=user.id, payment_id=again.payment_id, consent_text="/affirm"
        ).status
        == PaymentStatus.SUCCEEDED
    )


def test_a_real_customer_is_never_reset(payments_service: PaymentsService) -> None:
    with payments_service.session_factory.begin() as session:
        customer = make_user(session, name="Real Person", is_test=False)
        customer_id = customer.id
    with pytest.raises(TestUserRequiredError):
        payments_service.reset_test_user(user_id=customer_id, reset_by="tester")
    with pytest.raises(TestUserRequiredError):
        payments_service.reset_test_user(user_id=2**31 - 1, reset_by="tester")


def test_a_test_user_with_a_charge_in_flight_is_not_reset(payments_service: PaymentsService) -> None:
    user = payments_service.create_test_user(name="Busy", card=TestCard.SUCCEEDS, created_by="tester")
    bill = payments_service.open_bills(user_id=user.id)[0]
    draft = payments_service.draft_payment(user_id=user.id, bill_id=bill.id, amount_text="5", date_text=None)
    with payments_service.session_factory.begin() as session:
        session.get_one(Payment, draft.payment_id).status = PaymentStatus.PROCESSING.value
    with pytest.raises(TestUserBusyError):
        payments_service.reset_test_user(user_id=user.id, reset_by="tester")


def test_every_table_that_hangs_off_a_user_is_reset_or_deliberately_kept() -> None:
    """A table added later with a foreign key to users, payments or bills is covered by the reset."""
    conditions = owned_rows(1)
    for table in Base.metadata.sorted_tables:
        refers = {fk.column.table.name for fk in table.foreign_keys}
        if table.name in KEPT_TABLES or not refers & ({"users"} | set(conditions)):
            continue
        assert table.name in conditions, table.name
    assert {"payments", "bills", "consents", "scheduled_payments", "notifications", "refunds"} <= set(
        conditions
    )
    assert not set(conditions) & KEPT_TABLES
    assert Notification.__tablename__ in conditions and User.__tablename__ not in conditions
    assert Bill.__tablename__ in conditions
