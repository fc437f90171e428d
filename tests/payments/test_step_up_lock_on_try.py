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


def test_the_try_that_reaches_the_lock_closes_the_other_codes_and_the_next_is_refused(
    payments_service: PaymentsService,
) -> None:
    from payments.errors import StepUpCodeWrongError
    from payments.mandate_step_up import MandateStepUpCodeWrongError
    from tests.payments.test_mandate_step_up import _wrong

    service = _service(payments_service, Clock(), step_up_lock_failures=1)  # 3 wrong tries
    user_id, biller, rent = _user(service)
    payment_id, payment_code = _payment_waiting(service, user_id, rent)
    _pending_mandate(service, user_id, biller)
    mandate_code = _mandate_code(service, user_id)
    for n in (1, 2):  # the autopay's code (the latest): 2 wrong
        with pytest.raises(MandateStepUpCodeWrongError):
            service.verify_step_up_code(user_id=user_id, code_text=_wrong(mandate_code, n))
    with pytest.raises(StepUpCodeWrongError):  # the 3rd wrong try, on the payment's code: the lock
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(payment_code, 1), payment_id=payment_id)
    assert service.mandates.list_mandates(user_id=user_id, include_awaiting_code=True) == []  # closed
    with pytest.raises(StepUpLockedError):  # the right code now: refused, the draft cancelled
        service.verify_step_up_code(user_id=user_id, code_text=payment_code, payment_id=payment_id)
    with service.session_factory() as session:
        assert session.get_one(Payment, payment_id).status == PaymentStatus.CANCELLED.value
        pending = select(StepUpChallenge).where(
            StepUpChallenge.user_id == user_id, StepUpChallenge.status == StepUpStatus.PENDING.value
        )
        assert session.execute(pending).first() is None
