"""Issue 13 items 2 and 8: a standing mandate that can move at least the step-up threshold needs the
user's one-time code before it goes live, as a large payment does (payments.mandate_step_up).

Real core on SQLite and PostgreSQL (`payments_service`), the Stripe sandbox for the cards; the code
is read the way a front end reads it (the outbox, `pending_codes_for`).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db.models import (
    AuditLogEntry,
    Bill,
    Biller,
    Mandate,
    MandateConsent,
    Notification,
    StepUpChallenge,
    User,
    utcnow,
)
from payments.config import RiskConfig
from payments.errors import StepUpCodeWrongError, StepUpExpiredError, StepUpLockedError, StepUpNotPendingError
from payments.mandate_step_up import (
    MandateStepUpCodeWrongError,
    MandateStepUpExpiredError,
    MandateStepUpFailedError,
    MandateStepUpLockedError,
    mandate_code_hash,
)
from payments.mandates import MandateOffer, MandateStatus, MandateView
from payments.service import PaymentsService
from payments.statuses import NotificationKind, PaymentStatus, StepUpStatus
from payments.step_up import code_hash
from payments.views import PaymentResult
from tests.helpers.factories import edge_summary, make_paying_user

pytestmark = pytest.mark.sandbox

THRESHOLD = 10_000  # €100: a payment (or a mandate's monthly budget) from here needs the code


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def _service(base: PaymentsService, clock: Clock, **config: Any) -> PaymentsService:
    settings: dict[str, Any] = {"step_up_minor": THRESHOLD, "risk": RiskConfig(enabled=False), **config}
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **settings),
        clock=clock,
    )


def _user(service: PaymentsService) -> tuple[int, str, int]:
    """A user with a card, a phone biller for autopay and an open rent bill of €900."""
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("phone", 1000), ("rent", 90_000))
    )
    with service.session_factory.begin() as session:
        user = session.get_one(User, user_id)
        user.telegram_user_id = 8_000_000_000 + user_id
        phone = session.get_one(Bill, bills["phone"])
        phone.status = "void"
        return user_id, session.get_one(Biller, phone.biller_id).name, bills["rent"]


def _offer(service: PaymentsService, user_id: int, biller: str, cap: str, **more: Any) -> MandateOffer:
    return service.mandates.propose(user_id=user_id, biller_text=biller, cap_text=cap, **more)


def _confirm(service: PaymentsService, user_id: int, offer: MandateOffer) -> MandateView:
    return service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )


def _codes(service: PaymentsService, user_id: int) -> list[Any]:
    return [n for n in service.pending_codes_for(user_id=user_id) if n.kind == NotificationKind.STEP_UP_CODE]


def _mandate_code(service: PaymentsService, user_id: int) -> str:
    notes = [n for n in _codes(service, user_id) if n.mandate_id is not None]
    assert notes and notes[-1].code is not None
    return str(notes[-1].code)


def _wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 10**6:06d}"


def _status(service: PaymentsService, mandate_id: int) -> str:
    with service.session_factory() as session:
        return session.get_one(Mandate, mandate_id, populate_existing=True).status


def _pending_mandate(service: PaymentsService, user_id: int, biller: str, cap: str = "500") -> MandateView:
    view = _confirm(service, user_id, _offer(service, user_id, biller, cap))
    assert view.code_pending is not None and view.status == MandateStatus.PROPOSED
    return view


def _events(service: PaymentsService, user_id: int) -> list[AuditLogEntry]:
    with service.session_factory() as session:
        return list(
            session.execute(
                select(AuditLogEntry).where(AuditLogEntry.user_id == user_id).order_by(AuditLogEntry.id)
            ).scalars()
        )


# --- the rule ------------------------------------------------------------------------------------


def test_a_new_mandate_over_the_threshold_waits_for_the_code_and_goes_live_with_it(
    payments_service: PaymentsService,
) -> None:
    clock = Clock()
    service = _service(payments_service, clock)
    user_id, biller, _ = _user(service)
    view = _pending_mandate(service, user_id, biller, cap="150")
    pending = view.code_pending
    assert pending is not None
    assert pending.budget.amount_minor == 15_000 and pending.biller_name == biller and not pending.is_change
    assert pending.reasons == ("large_amount",) and pending.attempts_left == 3
    assert pending.expires_at.at > clock.now
    assert service.mandates.list_mandates(user_id=user_id) == []  # not live, not listed to the user
    staff = service.mandates.list_mandates(user_id=user_id, include_awaiting_code=True)
    assert [v.id for v in staff] == [view.id] and staff[0].code_pending is not None

    (note,) = _codes(service, user_id)
    assert note.mandate_id == view.id and note.payment_id is None and note.biller_name == biller
    assert note.telegram_user_id is not None and note in service.pending_notifications()
    code = str(note.code)
    assert service.mark_notification_sent(notification_id=note.id)
    with service.session_factory() as session:
        challenge = session.execute(
            select(StepUpChallenge).where(StepUpChallenge.user_id == user_id)
        ).scalar_one()
        assert challenge.code_sealed is None and challenge.payment_id is None  # delivered: hash only

    live = service.verify_step_up_code(user_id=user_id, code_text=code)
    assert isinstance(live, MandateView) and live.status == MandateStatus.ACTIVE and live.consent_id
    assert live.budget.amount_minor == 15_000
    events = [e.event for e in _events(service, user_id)]
    assert (
        events.index("step_up.issued") < events.index("step_up.verified") < events.index("mandate.consented")
    )
    assert all(code not in str(e.data) for e in _events(service, user_id))  # never the code
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)


def test_a_mandate_under_the_threshold_or_with_step_up_off_needs_no_code(
    payments_service: PaymentsService,
) -> None:
    clock = Clock()
    service = _service(payments_service, clock)
    user_id, biller, _ = _user(service)
    view = _confirm(service, user_id, _offer(service, user_id, biller, "99.99"))
    assert view.status == MandateStatus.ACTIVE and view.code_pending is None
    service.mandates.revoke(user_id=user_id, biller_text=biller)
    off = _service(payments_service, clock, step_up_minor=0)
    assert _confirm(off, user_id, _offer(off, user_id, biller, "5000")).status == MandateStatus.ACTIVE
    assert _codes(service, user_id) == []


def test_a_budget_over_the_threshold_needs_the_code_even_with_a_small_cap(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _confirm(service, user_id, _offer(service, user_id, biller, "20", budget_text="100"))
    assert view.code_pending is not None and view.status == MandateStatus.PROPOSED


def test_a_widening_change_needs_the_code_a_narrowing_one_does_not(payments_service: PaymentsService) -> None:
    clock = Clock()
    service = _service(payments_service, clock)
    user_id, biller, _ = _user(service)
    view = _pending_mandate(service, user_id, biller, cap="300")
    assert isinstance(service.verify_step_up_code(user_id=user_id, code_text=_mandate_code(service, user_id)),
                      MandateView)  # fmt: skip

    narrower = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="200")
    changed = _confirm(service, user_id, narrower)
    assert changed.code_pending is None and changed.cap.amount_minor == 20_000
    shorter = service.mandates.propose_change(user_id=user_id, biller_text=biller, expiry_text="next month")
    assert _confirm(service, user_id, shorter).code_pending is None

    wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="250")
    waiting = _confirm(service, user_id, wider)
    assert waiting.code_pending is not None and waiting.code_pending.is_change
    assert waiting.status == MandateStatus.ACTIVE and waiting.cap.amount_minor == 20_000  # old terms still
    later = service.mandates.propose_change(user_id=user_id, biller_text=biller, expiry_text="December 2027")
    assert _confirm(service, user_id, later).code_pending is not None  # a later expiry widens too
    done = service.verify_step_up_code(user_id=user_id, code_text=_mandate_code(service, user_id))
    assert isinstance(done, MandateView) and done.id == view.id and done.expires_on.year == 2027


def test_tapping_confirm_twice_sends_one_code(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    offer = _offer(service, user_id, biller, "500")
    first, second = _confirm(service, user_id, offer), _confirm(service, user_id, offer)
    assert first.code_pending is not None and second.code_pending == first.code_pending
    assert len(_codes(service, user_id)) == 1
    with service.session_factory() as session:
        assert len(session.execute(select(StepUpChallenge)
                                   .where(StepUpChallenge.user_id == user_id)).all()) == 1  # fmt: skip


# --- wrong, failed, expired, locked --------------------------------------------------------------


def test_wrong_codes_then_failed_withdraw_the_offer(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _pending_mandate(service, user_id, biller)
    code = _mandate_code(service, user_id)
    with pytest.raises(MandateStepUpCodeWrongError) as wrong:
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(code))
    assert isinstance(wrong.value, StepUpCodeWrongError) and wrong.value.params["attempts_left"] == 2
    with pytest.raises(MandateStepUpCodeWrongError):
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(code, 2))
    with pytest.raises(MandateStepUpFailedError):
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(code, 3))
    assert _status(service, view.id) == MandateStatus.CANCELLED.value
    with service.session_factory() as session:
        offer = session.execute(
            select(MandateConsent).where(MandateConsent.mandate_id == view.id)
        ).scalar_one()
        assert offer.closed_reason == "step_up_failed" and offer.signature is None
    with pytest.raises(StepUpNotPendingError):  # the right code is no use any more
        service.verify_step_up_code(user_id=user_id, code_text=code)
    assert "step_up.failed" in [e.event for e in _events(service, user_id)]


def test_an_expired_code_withdraws_the_offer_when_typed_or_by_the_worker(
    payments_service: PaymentsService,
) -> None:
    clock = Clock()
    service = _service(payments_service, clock)
    user_id, biller, _ = _user(service)
    typed = _pending_mandate(service, user_id, biller)
    code = _mandate_code(service, user_id)
    clock.now += timedelta(minutes=11)
    with pytest.raises(MandateStepUpExpiredError) as expired:
        service.verify_step_up_code(user_id=user_id, code_text=code)
    assert isinstance(expired.value, StepUpExpiredError)
    assert _status(service, typed.id) == MandateStatus.CANCELLED.value

    by_worker = _pending_mandate(service, user_id, biller)
    assert _codes(service, user_id)  # undelivered
    clock.now += timedelta(minutes=11)
    assert service.expire_step_up_codes() >= 1  # the database is shared: others' may be due too
    assert _status(service, by_worker.id) == MandateStatus.CANCELLED.value
    assert _codes(service, user_id) == []  # its undelivered message is never sent


def test_too_many_failed_codes_lock_mandates_out_like_payments(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock(), step_up_lock_failures=1)
    user_id, biller, rent = _user(service)
    _pending_mandate(service, user_id, biller)
    code = _mandate_code(service, user_id)
    for n in (1, 2, 3):
        with pytest.raises((MandateStepUpCodeWrongError, MandateStepUpFailedError)):
            service.verify_step_up_code(user_id=user_id, code_text=_wrong(code, n))
    again = _offer(service, user_id, biller, "500")
    with pytest.raises(MandateStepUpLockedError) as locked:
        _confirm(service, user_id, again)
    assert isinstance(locked.value, StepUpLockedError) and locked.value.params["until"] is not None
    assert _status(service, again.mandate_id) == MandateStatus.CANCELLED.value
    assert "step_up.locked" in [e.event for e in _events(service, user_id)]
    # A payment needing a code is locked out by the mandate's failed code too (one lock per user).
    draft = service.draft_payment(
        user_id=user_id, bill_id=rent, amount_text="600", date_text=None, render_summary=edge_summary
    )
    with pytest.raises(StepUpLockedError):
        service.confirm_payment(
            user_id=user_id, payment_id=draft.payment_id, consent_text="y", confirmation="y"
        )


# --- codes bound to their subject and their user -------------------------------------------------


def _payment_waiting(service: PaymentsService, user_id: int, rent: int) -> tuple[int, str]:
    draft = service.draft_payment(
        user_id=user_id, bill_id=rent, amount_text="600", date_text=None, render_summary=edge_summary
    )
    result = service.confirm_payment(user_id=user_id, payment_id=draft.payment_id, consent_text="y",
                                     confirmation="yes")  # fmt: skip
    assert result.step_up is not None
    notes = [n for n in _codes(service, user_id) if n.payment_id == draft.payment_id]
    assert notes and notes[-1].code
    return draft.payment_id, str(notes[-1].code)


def test_a_payments_code_never_fits_a_mandates_and_back(payments_service: PaymentsService) -> None:
    assert mandate_code_hash(b"k" * 32, 7, "123456") != code_hash(b"k" * 32, 7, "123456")
    service = _service(payments_service, Clock())
    user_id, biller, rent = _user(service)
    payment_id, payment_code = _payment_waiting(service, user_id, rent)
    view = _pending_mandate(service, user_id, biller)
    mandate_code = _mandate_code(service, user_id)
    if payment_code == mandate_code:  # one in a million: the test needs them apart
        pytest.skip("the two random codes happen to be equal")
    with pytest.raises(MandateStepUpCodeWrongError):  # the latest pending is the mandate's
        service.verify_step_up_code(user_id=user_id, code_text=payment_code)
    with pytest.raises(StepUpCodeWrongError) as wrong:  # the payment's own form names it
        service.verify_step_up_code(user_id=user_id, code_text=mandate_code, payment_id=payment_id)
    assert not isinstance(wrong.value, MandateStepUpCodeWrongError)
    live = service.verify_step_up_code(user_id=user_id, code_text=mandate_code)
    assert isinstance(live, MandateView) and live.id == view.id
    paid = service.verify_step_up_code(user_id=user_id, code_text=payment_code)  # now the latest
    assert isinstance(paid, PaymentResult) and paid.payment_id == payment_id
    assert paid.status != PaymentStatus.CANCELLED


def test_another_users_code_does_not_switch_my_mandate_on(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock())
    victim, vbiller, _ = _user(service)
    attacker, abiller, _ = _user(service)
    victim_view = _pending_mandate(service, victim, vbiller)
    attacker_view = _pending_mandate(service, attacker, abiller)
    victim_code, attacker_code = _mandate_code(service, victim), _mandate_code(service, attacker)
    if victim_code == attacker_code:
        pytest.skip("the two random codes happen to be equal")
    with pytest.raises(MandateStepUpCodeWrongError):
        service.verify_step_up_code(user_id=attacker, code_text=victim_code)
    assert _status(service, victim_view.id) == MandateStatus.PROPOSED.value
    assert _status(service, attacker_view.id) == MandateStatus.PROPOSED.value


def test_cancelling_or_replacing_the_offer_closes_its_code(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    offer = _offer(service, user_id, biller, "500")
    assert _confirm(service, user_id, offer).code_pending is not None
    code = _mandate_code(service, user_id)
    service.mandates.cancel_offer(user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce)
    assert _codes(service, user_id) == []
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    first = _offer(service, user_id, biller, "500")
    _confirm(service, user_id, first)
    _offer(service, user_id, biller, "400")  # a newer offer supersedes it
    with service.session_factory() as session:
        statuses = set(session.execute(select(StepUpChallenge.status)
                                       .where(StepUpChallenge.user_id == user_id)).scalars())  # fmt: skip
        undelivered = session.execute(
            select(Notification).where(Notification.user_id == user_id, Notification.sent_at.is_(None))
        ).all()
    assert statuses == {StepUpStatus.CANCELLED.value} and undelivered == []


def test_a_changes_code_message_says_it_is_a_change(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    _pending_mandate(service, user_id, biller)
    [new] = [n for n in _codes(service, user_id) if n.mandate_id is not None]
    assert new.mandate_change is False
    live = service.verify_step_up_code(user_id=user_id, code_text=str(new.code))
    assert isinstance(live, MandateView)
    wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="800")
    assert _confirm(service, user_id, wider).code_pending is not None
    [change] = [n for n in _codes(service, user_id) if n.mandate_id is not None and n.code != new.code]
    assert change.mandate_change is True and change.amount_text == "€800.00"
