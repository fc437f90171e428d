"""The payments core's metrics and log lines: outcomes by status when they commit, Stripe errors by code."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from db.models import Payment
from payments.demo import VISA_DECLINES
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.unit_of_work import note_status_reached
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox


def outcomes(status: str) -> float:
    """paychat_payment_outcomes_total{status} in this process so far."""
    return REGISTRY.get_sample_value("paychat_payment_outcomes_total", {"status": status}) or 0.0


def stripe_errors(code: str) -> float:
    """paychat_stripe_errors_total{code} in this process so far."""
    return REGISTRY.get_sample_value("paychat_stripe_errors_total", {"code": code}) or 0.0


def pay(service: PaymentsService, card_number: str | None = None) -> tuple[int, PaymentStatus]:
    """Draft and confirm the electricity bill of a fresh user; returns (payment id, status)."""
    extra = {"card_number": card_number} if card_number else {}
    user_id, bills = make_paying_user(service.session_factory, service.gateway, **extra)  # type: ignore[arg-type]
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="/affirm")
    return summary.payment_id, result.status


def test_a_payment_counts_each_status_it_reached_and_logs_them_under_its_id(
    payments_service: PaymentsService, caplog: pytest.LogCaptureFixture
) -> None:
    before = {s: outcomes(s) for s in ("draft", "approved", "processing", "succeeded")}
    caplog.set_level(logging.INFO, logger="payments")

    _, status = pay(payments_service)

    assert status == PaymentStatus.SUCCEEDED
    assert {s: outcomes(s) - before[s] for s in before} == {s: 1.0 for s in before}
    moves = [r.getMessage() for r in caplog.records if r.name == "payments.machine"]
    assert moves[-2:] == ["payment approved -> processing", "payment processing -> succeeded"]


def test_a_declined_card_counts_a_failed_outcome_and_a_stripe_error_by_its_code(
    payments_service: PaymentsService,
) -> None:
    failed, declined = outcomes("failed"), stripe_errors("card_declined")

    _, status = pay(payments_service, VISA_DECLINES)

    assert status == PaymentStatus.FAILED
    assert outcomes("failed") == failed + 1
    assert stripe_errors("card_declined") == declined + 1


def test_a_rolled_back_transition_is_not_counted(payments_service: PaymentsService) -> None:
    before = outcomes("cancelled")
    with pytest.raises(RuntimeError), payments_service.session_factory.begin() as session:
        session.execute(select(Payment.id).limit(1))
        note_status_reached(session, "cancelled")
        raise RuntimeError("rolled back")
    assert outcomes("cancelled") == before
