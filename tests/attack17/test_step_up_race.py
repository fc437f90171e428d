"""Attack 17: "large" for the step-up code is decided before, not under, the approval's lock.

Issue 10/13: what the user pays one biller within `step_up_period` is summed, so parts of one large
amount confirmed one after the other need the one-time code too. The sum counts only reserving
payments (approved and on), and the gate (`StepUp.decide`, since d977d29 inside the offer's
transaction) commits before `Charging.approve` runs in a transaction of its own; approval re-checks
the limits and the second approval under the user's lock, but not the step-up. Two confirmations
of two parts, interleaved as two threads can run them (gate A, gate B, approve A, approve B), both
pass the gate: neither part sees the other, and the whole amount goes out without a code.

The interleaving is driven step by step with the service's own calls, exactly as
`Confirmations.confirm` splits them (the verdict from the gate's transaction handed to
`confirm_payment(gated=...)`), on SQLite and PostgreSQL.
Fixed: approval recomputes the sum under the user's lock (`StepUp.recheck`) and issues the code.
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from db.models import Payment, StepUpChallenge
from payments.config import RiskConfig
from payments.consent import TapEvidence
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.step_up import GateVerdict
from tests.helpers.factories import edge_summary, make_paying_user

pytestmark = pytest.mark.sandbox

STEP_UP = 50_000  # 500.00: each part (300.00) is below it, both together (600.00) above


def _service(base: PaymentsService) -> PaymentsService:
    config = dataclasses.replace(base.config, step_up_minor=STEP_UP, risk=RiskConfig(enabled=False))
    return PaymentsService(session_factory=base.session_factory, gateway=base.gateway, config=config)


def _draft(service: PaymentsService, user_id: int, bill_id: int, amount: str) -> int:
    return service.draft_payment(
        user_id=user_id, bill_id=bill_id, amount_text=amount, date_text=None, render_summary=edge_summary
    ).payment_id


def test_two_parts_confirmed_together_still_need_the_code(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    first = _draft(service, user_id, bills["rent"], "300")
    second = _draft(service, user_id, bills["rent"], "300")
    gate = service.charging.step_up
    # Both confirmations pass their gate before either is approved (two threads, one user).
    verdicts = {
        payment_id: gate.gate(user_id=user_id, payment_id=payment_id, confirmation="yes", tap=TapEvidence())
        for payment_id in (first, second)
    }
    for payment_id, waiting in verdicts.items():
        service.charging.confirm_payment(
            user_id=user_id, payment_id=payment_id, consent_text="y", confirmation="yes",
            gated=GateVerdict(waiting=waiting),
        )  # fmt: skip
    with service.session_factory() as session:
        statuses = {
            payment_id: session.get_one(Payment, payment_id, populate_existing=True).status
            for payment_id in (first, second)
        }
        codes = session.execute(
            select(func.count())
            .select_from(StepUpChallenge)
            .where(StepUpChallenge.payment_id.in_([first, second]))
        ).scalar_one()
    reserving = {PaymentStatus.APPROVED.value, PaymentStatus.PROCESSING.value, PaymentStatus.SUCCEEDED.value}
    both_out = all(status in reserving for status in statuses.values())
    assert not (both_out and codes == 0), f"600.00 to one biller approved without a code: {statuses}"


def test_control_parts_confirmed_one_after_the_other_need_the_code(payments_service: PaymentsService) -> None:
    """The same two parts confirmed one after the other: the second waits for its code."""
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    first = _draft(service, user_id, bills["rent"], "300")
    second = _draft(service, user_id, bills["rent"], "300")
    for payment_id in (first, second):
        service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y", confirmation="yes")
    with service.session_factory() as session:
        codes = (
            session.execute(
                select(StepUpChallenge.payment_id).where(StepUpChallenge.payment_id.in_([first, second]))
            )
            .scalars()
            .all()
        )
    assert codes == [second]
