"""The lock after wrong tries is checked when a code is typed, not only when one is sent: a user
locked out (here: the setting lowered while codes were pending) is refused whatever they type, the
code closed as failed (the draft cancelled / the offer withdrawn), told until when, audited.
Real core on SQLite and PostgreSQL, the Stripe sandbox for cards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import AuditLogEntry, MandateConsent, Payment, StepUpChallenge
from payments.dates import LocalMoment
from payments.errors import StepUpLockedError
from payments.mandate_step_up import MandateStepUpLockedError
from payments.service import PaymentsService
from payments.statuses import PaymentStatus, StepUpStatus
from tests.attack13c.test_lock_and_offers_core import _fail_mandate_code
from tests.payments.test_mandate_step_up import (
    Clock,
    _mandate_code,
    _payment_waiting,
    _pending_mandate,
    _service,
    _user,
)

pytestmark = pytest.mark.sandbox


def test_a_locked_user_typing_a_payments_right_code_is_refused(payments_service: PaymentsService) -> None:
    clock = Clock()
    lenient = _service(payments_service, clock, step_up_lock_failures=2)
    user_id, biller, rent = _user(lenient)
    payment_id, code = _payment_waiting(lenient, user_id, rent)
    _fail_mandate_code(lenient, user_id, biller)  # 3 wrong: under the lock of 6
    strict = _service(payments_service, clock, step_up_lock_failures=1)  # now 3 is the lock
    with pytest.raises(StepUpLockedError) as refused:
        strict.verify_step_up_code(user_id=user_id, code_text=code, payment_id=payment_id)
    assert isinstance(refused.value.params["until"], LocalMoment)
    with strict.session_factory() as session:
        assert session.get_one(Payment, payment_id).status == PaymentStatus.CANCELLED.value
        challenge = session.execute(select(StepUpChallenge).where(StepUpChallenge.payment_id == payment_id))
        assert challenge.scalar_one().status == StepUpStatus.FAILED.value
        events = session.execute(
            select(AuditLogEntry.event).where(AuditLogEntry.user_id == user_id)
        ).scalars()
        assert "step_up.locked" in list(events)


def test_a_locked_user_typing_a_mandates_right_code_is_refused(payments_service: PaymentsService) -> None:
    clock = Clock()
    lenient = _service(payments_service, clock, step_up_lock_failures=2)
    user_id, biller, _ = _user(lenient)
    _fail_mandate_code(lenient, user_id, biller)  # 3 wrong: under the lock of 6
    _pending_mandate(lenient, user_id, biller)
    code = _mandate_code(lenient, user_id)
    strict = _service(payments_service, clock, step_up_lock_failures=1)
    with pytest.raises(MandateStepUpLockedError) as refused:
        strict.verify_step_up_code(user_id=user_id, code_text=code)
    assert isinstance(refused.value.params["until"], LocalMoment)
    with strict.session_factory() as session:
        offers = session.execute(select(MandateConsent).where(MandateConsent.user_id == user_id)).scalars()
        assert all(offer.closed_at is not None for offer in offers)
    assert strict.mandates.list_mandates(user_id=user_id, include_awaiting_code=True) == []
