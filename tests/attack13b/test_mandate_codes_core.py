"""Attack on issue 13 (an autopay at or over the step-up threshold needs the user's code), through the
real core on SQLite and PostgreSQL (`payments_service`) with the Stripe sandbox for cards; the code is
read the way a front end reads it (the outbox, `pending_codes_for`). Strict xfails are holes found on
today's code; the others are probes that held ("holds").
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from db.models import (
    AuditLogEntry,
    Mandate,
    MandateConsent,
    Notification,
    SavedPaymentMethod,
    StepUpChallenge,
    utcnow,
)
from payments.errors import StepUpNotPendingError
from payments.mandate_step_up import (
    MandateStepUpCodeWrongError,
    MandateStepUpFailedError,
    MandateStepUpLockedError,
)
from payments.mandates import MandateOfferStaleError, MandateStatus, MandateView
from payments.service import PaymentsService
from payments.statuses import NotificationKind, PaymentStatus, StepUpStatus
from payments.views import PaymentResult
from tests.helpers.factories import unique
from tests.payments.test_mandate_step_up import (
    Clock,
    _codes,
    _confirm,
    _mandate_code,
    _offer,
    _payment_waiting,
    _pending_mandate,
    _service,
    _status,
    _user,
    _wrong,
)

pytestmark = pytest.mark.sandbox


def _live(
    service: PaymentsService, user_id: int, biller: str, cap: str = "300", **more: object
) -> MandateView:
    view = _confirm(service, user_id, _offer(service, user_id, biller, cap, **more))
    if view.code_pending is not None:
        done = service.verify_step_up_code(user_id=user_id, code_text=_mandate_code(service, user_id))
        assert isinstance(done, MandateView)
        return done
    return view


def _mandate(service: PaymentsService, mandate_id: int) -> Mandate:
    with service.session_factory() as session:
        return session.get_one(Mandate, mandate_id, populate_existing=True)


# --- holes ---------------------------------------------------------------------------------------


def test_mandate_codes_cancel_before_the_last_try_evades_the_lock(payments_service: PaymentsService) -> None:
    # Lock after 2 failed codes (= 6 wrong guesses) a day; here up to 8 rounds of 2 wrong guesses = 16.
    # (Fixed: the wrong tries of every code count, however it ended, so the lock comes by the 6th
    # wrong guess: a round's Confirm is refused from then on, which ends the rounds early.)
    service = _service(payments_service, Clock(), step_up_lock_failures=2)
    user_id, biller, _ = _user(service)
    guesses = 0
    for _ in range(8):
        offer = _offer(service, user_id, biller, "500")
        try:
            view = _confirm(service, user_id, offer)
        except MandateStepUpLockedError:
            break
        assert view.code_pending is not None
        code = _mandate_code(service, user_id)
        for n in (1, 2):
            with pytest.raises(MandateStepUpCodeWrongError):
                service.verify_step_up_code(user_id=user_id, code_text=_wrong(code, n))
            guesses += 1
        service.mandates.cancel_offer(user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce)
    assert guesses <= 6  # never more wrong guesses than the lock allows

    again = _offer(service, user_id, biller, "500")
    # 16 wrong guesses (more than the 6 that lock a user out) must not buy a fresh code.
    with pytest.raises(MandateStepUpLockedError):
        _confirm(service, user_id, again)


# --- probes that held ----------------------------------------------------------------------------


def test_mandate_codes_holds_budget_just_under_then_cap_raised_needs_the_code(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())  # threshold €100.00
    user_id, biller, _ = _user(service)
    view = _live(service, user_id, biller, cap="99.99")
    assert view.code_pending is None and view.status == MandateStatus.ACTIVE  # under: no code, by design
    for change in ({"cap_text": "100"}, {"budget_text": "100"}, {"cap_text": "50", "budget_text": "100"}):
        waiting = _confirm(service, user_id, service.mandates.propose_change(
            user_id=user_id, biller_text=biller, **change))  # fmt: skip
        assert waiting.code_pending is not None, change
        assert _mandate(service, view.id).budget_minor == 9_999
    assert _mandate(service, view.id).budget_minor == 9_999


def test_mandate_codes_holds_narrow_then_widen_back_in_steps_needs_the_code(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _live(service, user_id, biller, cap="300")  # verified with its code
    for cap in ("250", "150", "99"):  # narrowing steps: no code
        narrower = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text=cap)
        assert _confirm(service, user_id, narrower).code_pending is None
    for cap in ("120", "300"):  # each widening step back up needs the code, whatever its size
        wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text=cap)
        assert _confirm(service, user_id, wider).code_pending is not None, cap
    assert _mandate(service, view.id).cap_minor == 9_900


def test_mandate_codes_holds_another_card_needs_the_code_even_with_narrower_terms(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _live(service, user_id, biller, cap="300")
    with service.session_factory.begin() as session:
        card = session.get_one(
            SavedPaymentMethod, view_card_id := _mandate(service, view.id).payment_method_id
        )
        other = SavedPaymentMethod(
            **{c.key: getattr(card, c.key) for c in SavedPaymentMethod.__table__.columns if c.key != "id"}
        )
        other.last4, other.stripe_payment_method_id = "0005", unique("pm_")
        session.add(other)
        session.flush()
        card.is_default, other.is_default = False, True
        other_id = other.id
    change = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="200")
    if change.terms.card_last4 != "0005":
        pytest.skip("could not make another card the default here")
    waiting = _confirm(service, user_id, change)
    assert waiting.code_pending is not None
    assert _mandate(service, view.id).payment_method_id == view_card_id != other_id


def test_mandate_codes_holds_an_old_offers_tap_after_a_new_one_is_stale(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _live(service, user_id, biller, cap="50")
    big = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="900")
    small = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="40")
    with pytest.raises(MandateOfferStaleError):
        _confirm(service, user_id, big)
    assert _confirm(service, user_id, small).code_pending is None
    assert _mandate(service, view.id).cap_minor == 4_000


def test_mandate_codes_holds_a_verified_code_cannot_be_replayed_on_a_later_offer(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    _pending_mandate(service, user_id, biller)
    code = _mandate_code(service, user_id)
    live = service.verify_step_up_code(user_id=user_id, code_text=code)
    assert isinstance(live, MandateView)
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="700")
    assert _confirm(service, user_id, wider).code_pending is not None
    new_code = _mandate_code(service, user_id)
    if new_code == code:
        pytest.skip("the two random codes happen to be equal")
    with pytest.raises(MandateStepUpCodeWrongError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    assert _mandate(service, live.id).cap_minor == 50_000


def test_mandate_codes_holds_failing_the_autopay_code_leaves_the_payment_code_alone(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, rent = _user(service)
    payment_id, payment_code = _payment_waiting(service, user_id, rent)
    view = _pending_mandate(service, user_id, biller)
    mandate_code = _mandate_code(service, user_id)
    if payment_code in {_wrong(mandate_code, n) for n in (1, 2, 3)} | {mandate_code}:
        pytest.skip("random codes too close")
    for n in (1, 2, 3):
        with pytest.raises((MandateStepUpCodeWrongError, MandateStepUpFailedError)):
            service.verify_step_up_code(user_id=user_id, code_text=_wrong(mandate_code, n))
    assert _status(service, view.id) == MandateStatus.CANCELLED.value
    paid = service.verify_step_up_code(user_id=user_id, code_text=payment_code)
    assert isinstance(paid, PaymentResult) and paid.payment_id == payment_id
    assert paid.status != PaymentStatus.CANCELLED


def test_mandate_codes_holds_revoking_during_a_widening_code_never_revives_it(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _live(service, user_id, biller, cap="200")
    wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="800")
    assert _confirm(service, user_id, wider).code_pending is not None
    code = _mandate_code(service, user_id)
    service.mandates.revoke(user_id=user_id, biller_text=biller)
    # The revoke closed the widening offer and its code (no code waits any more).
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    got = _mandate(service, view.id)
    assert got.status == MandateStatus.REVOKED.value and got.cap_minor == 20_000


def test_mandate_codes_holds_the_code_never_reaches_audit_export_or_a_withdrawn_offers_outbox(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    offer = _offer(service, user_id, biller, "500")
    view = _confirm(service, user_id, offer)
    code = _mandate_code(service, user_id)
    with pytest.raises(MandateStepUpCodeWrongError):
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(code))
    exported = json.dumps(service.export_user_data(user_id=user_id), default=str)
    service.mandates.cancel_offer(user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce)
    with service.session_factory() as session:
        audit = [
            json.dumps(e.data, default=str)
            for e in session.execute(select(AuditLogEntry).where(AuditLogEntry.user_id == user_id)).scalars()
        ]
        sealed = session.execute(
            select(StepUpChallenge.code_sealed, StepUpChallenge.status).where(
                StepUpChallenge.user_id == user_id
            )
        ).all()
        undelivered = session.execute(
            select(Notification.id).where(Notification.user_id == user_id, Notification.sent_at.is_(None))
        ).all()
        offer_row = session.get_one(MandateConsent, offer.offer_id)
    assert code not in exported
    assert not any(code in line for line in audit)
    assert (
        sealed == [(None, StepUpStatus.CANCELLED.value)]
        and undelivered == []
        and _codes(service, user_id) == []
    )
    assert offer_row.signature is None and _status(service, view.id) == MandateStatus.CANCELLED.value


# --- weak spots the builder named, pinned as holes -----------------------------------------------


def test_mandate_codes_an_expired_autopay_code_is_told_to_the_user(payments_service: PaymentsService) -> None:
    clock = Clock()
    service = _service(payments_service, clock)
    user_id, biller, _ = _user(service)
    view = _pending_mandate(service, user_id, biller)
    clock.now += timedelta(minutes=11)
    service.expire_step_up_codes()
    assert _status(service, view.id) == MandateStatus.CANCELLED.value
    with service.session_factory() as session:
        told = session.execute(
            select(Notification.kind).where(
                Notification.user_id == user_id, Notification.kind != NotificationKind.STEP_UP_CODE.value
            )
        ).all()
    assert told, "the autopay silently went away"


def test_mandate_codes_revoking_closes_the_pending_widening_code(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    _live(service, user_id, biller, cap="200")
    with service.session_factory.begin() as session:  # the first code's message was delivered
        session.execute(update(Notification).where(Notification.user_id == user_id).values(sent_at=utcnow()))
    wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="800")
    assert _confirm(service, user_id, wider).code_pending is not None
    service.mandates.revoke(user_id=user_id, biller_text=biller)
    with service.session_factory() as session:
        pending = session.execute(
            select(StepUpChallenge.id).where(
                StepUpChallenge.user_id == user_id, StepUpChallenge.status == StepUpStatus.PENDING.value
            )
        ).all()
    assert (pending, _codes(service, user_id)) == ([], [])


def test_mandate_codes_holds_the_right_code_in_fullwidth_digits_switches_it_on(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _pending_mandate(service, user_id, biller)
    code = _mandate_code(service, user_id)
    fullwidth = code.translate(str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10))))
    live = service.verify_step_up_code(user_id=user_id, code_text=f"{fullwidth[:3]} {fullwidth[3:]}")
    assert isinstance(live, MandateView) and live.id == view.id and live.status == MandateStatus.ACTIVE
