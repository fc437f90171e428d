"""The worker's round charges what is due, settles what is unknown, and survives a failing step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db.models import utcnow
from payments import worker
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import PaymentStatus
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox


def _service_at(base: PaymentsService, shift: timedelta) -> PaymentsService:
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=ServiceConfig(),
        clock=lambda: utcnow() + shift,
    )


def test_a_round_charges_a_scheduled_payment_on_its_day(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="20", date_text="in 2 days"
    )
    payments_service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="ok")

    worker.run_round(payments_service)  # today: not due yet
    assert payments_service.get_payment(user_id=user_id, payment_id=summary.payment_id).status == (
        PaymentStatus.APPROVED
    )

    worker.run_round(_service_at(payments_service, timedelta(days=3)))
    result = payments_service.get_payment(user_id=user_id, payment_id=summary.payment_id)
    assert result.status == PaymentStatus.SUCCEEDED and result.payment_intent_id


def test_a_failing_step_does_not_stop_the_others(
    payments_service: PaymentsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    draft = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    later = _service_at(payments_service, timedelta(hours=2))

    def broken() -> None:
        raise RuntimeError("gateway exploded")

    monkeypatch.setattr(later, "run_due_payments", broken)
    worker.run_round(later)
    # The stale draft was still expired by the step after the broken one.
    assert payments_service.get_payment(user_id=user_id, payment_id=draft.payment_id).status == (
        PaymentStatus.CANCELLED
    )
