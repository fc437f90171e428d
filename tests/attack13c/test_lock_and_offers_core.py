"""Attack on issue 13 after fix13b: the lock summing wrong tries across all the user's codes, offers
closed under the user lock, `mandate_code_expired`. Real core on SQLite and PostgreSQL
(`payments_service`), the Stripe sandbox for cards; codes read from the outbox as a front end does.
Strict xfails are holes on today's code; the others are probes that held ("holds").
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from db.models import Notification, StepUpChallenge
from payments.dates import LocalMoment
from payments.errors import PaymentsError, StepUpCodeWrongError, StepUpFailedError, StepUpLockedError
from payments.mandate_step_up import (
    MandateStepUpCodeWrongError,
    MandateStepUpFailedError,
    MandateStepUpLockedError,
)
from payments.mandates import MandateOfferStaleError, MandateStatus, MandateView
from payments.service import PaymentsService
from payments.statuses import NotificationKind, StepUpStatus
from tests.helpers.factories import edge_summary
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


def _fail_mandate_code(service: PaymentsService, user_id: int, biller: str, tries: int = 3) -> None:
    """A fresh autopay code for `biller`, typed wrong `tries` times."""
    _pending_mandate(service, user_id, biller)
    code = _mandate_code(service, user_id)
    for n in range(1, tries + 1):
        with pytest.raises((MandateStepUpCodeWrongError, MandateStepUpFailedError)):
            service.verify_step_up_code(user_id=user_id, code_text=_wrong(code, n))


def _expired_notes(service: PaymentsService, user_id: int | None = None) -> list[Notification]:
    with service.session_factory() as session:
        query = select(Notification).where(Notification.kind == NotificationKind.MANDATE_CODE_EXPIRED.value)
        if user_id is not None:
            query = query.where(Notification.user_id == user_id)
        return list(session.execute(query).scalars())


# --- holes ---------------------------------------------------------------------------------------


def test_lock_a_locked_user_keeps_guessing_on_a_code_sent_before_the_lock(
    payments_service: PaymentsService,
) -> None:
    # Lock at 1 failed code = 3 wrong tries a day. The user first gets a payment's code, then an
    # autopay's; 3 wrong on the autopay's lock them out, yet the payment's code takes 3 more guesses
    # (and the right one would approve the €600 payment while locked). With N drafts waiting: 3N.
    service = _service(payments_service, Clock(), step_up_lock_failures=1)
    user_id, biller, rent = _user(service)
    payment_id, payment_code = _payment_waiting(service, user_id, rent)
    _fail_mandate_code(service, user_id, biller)
    with pytest.raises(MandateStepUpLockedError):  # locked now: no new code
        _confirm(service, user_id, _offer(service, user_id, biller, "500"))
    extra = 0
    for n in range(1, 4):
        try:
            service.verify_step_up_code(
                user_id=user_id, code_text=_wrong(payment_code, n), payment_id=payment_id
            )
        except (StepUpCodeWrongError, StepUpFailedError):
            extra += 1  # a guess checked against the code
        except PaymentsError:
            pass
    assert extra == 0, f"{extra} more guesses after the lock"


def test_lock_ends_at_the_moment_the_refusal_named(payments_service: PaymentsService) -> None:
    clock = Clock()
    service = _service(payments_service, clock, step_up_lock_failures=1)
    user_id, biller, _ = _user(service)
    _fail_mandate_code(service, user_id, biller)
    with pytest.raises(MandateStepUpLockedError) as refused:
        _confirm(service, user_id, _offer(service, user_id, biller, "500"))
    until = refused.value.params["until"]
    assert isinstance(until, LocalMoment)
    clock.now = until.at  # "locked until 10:00" — at 10:00
    view = _confirm(service, user_id, _offer(service, user_id, biller, "500"))
    assert view.code_pending is not None


# --- probes that held ----------------------------------------------------------------------------


def test_lock_holds_boundary_one_try_short_then_the_last_one(payments_service: PaymentsService) -> None:
    clock = Clock()
    service = _service(payments_service, clock, step_up_lock_failures=2)  # 6 wrong tries
    user_id, biller, rent = _user(service)
    _fail_mandate_code(service, user_id, biller, tries=3)
    _fail_mandate_code(service, user_id, biller, tries=2)  # 5: one short
    clock.now += timedelta(minutes=1)
    view = _confirm(service, user_id, _offer(service, user_id, biller, "500"))  # still sent (supersedes)
    assert view.code_pending is not None
    with pytest.raises(MandateStepUpCodeWrongError):
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(_mandate_code(service, user_id)))
    with pytest.raises(StepUpLockedError) as refused:  # 6: a payment's code is refused now too
        draft = service.draft_payment(
            user_id=user_id, bill_id=rent, amount_text="600", date_text=None, render_summary=edge_summary
        )
        service.confirm_payment(
            user_id=user_id, payment_id=draft.payment_id, consent_text="y", confirmation="y"
        )
    assert isinstance(refused.value.params["until"], LocalMoment)
    assert refused.value.params["until"].at > clock.now


def test_lock_holds_the_right_code_after_wrong_ones_resets_nothing(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock(), step_up_lock_failures=1)  # 3 wrong tries
    user_id, biller, _ = _user(service)
    _pending_mandate(service, user_id, biller)
    code = _mandate_code(service, user_id)
    for n in (1, 2):
        with pytest.raises(MandateStepUpCodeWrongError):
            service.verify_step_up_code(user_id=user_id, code_text=_wrong(code, n))
    assert isinstance(service.verify_step_up_code(user_id=user_id, code_text=code), MandateView)
    wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="900")
    assert _confirm(service, user_id, wider).code_pending is not None
    with pytest.raises(MandateStepUpCodeWrongError):  # the 3rd wrong try overall
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(_mandate_code(service, user_id)))
    with pytest.raises(MandateStepUpLockedError):
        _confirm(
            service,
            user_id,
            service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="950"),
        )


def test_lock_holds_two_confirms_in_threads_while_locked_send_no_code(
    payments_service: PaymentsService, db_engine: Engine
) -> None:
    service = _service(payments_service, Clock(), step_up_lock_failures=1)
    user_id, biller, rent = _user(service)
    _fail_mandate_code(service, user_id, biller)
    offer = _offer(service, user_id, biller, "500")
    draft = service.draft_payment(
        user_id=user_id, bill_id=rent, amount_text="600", date_text=None, render_summary=edge_summary
    )
    outcomes: list[str] = []

    def run(call: object) -> None:
        try:
            call()  # type: ignore[operator]
            outcomes.append("sent")
        except PaymentsError as error:
            outcomes.append(error.code)

    threads = [
        threading.Thread(target=run, args=(lambda: _confirm(service, user_id, offer),)),
        threading.Thread(target=run, args=(lambda: service.confirm_payment(
            user_id=user_id, payment_id=draft.payment_id, consent_text="y", confirmation="y"),)),
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert "sent" not in outcomes, outcomes
    assert _codes(service, user_id) == []


def test_offers_holds_pausing_during_a_widening_code_kills_the_code(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    view = _confirm(service, user_id, _offer(service, user_id, biller, "200"))
    assert isinstance(
        service.verify_step_up_code(user_id=user_id, code_text=_mandate_code(service, user_id)), MandateView
    )
    wider = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="800")
    assert _confirm(service, user_id, wider).code_pending is not None
    code = _mandate_code(service, user_id)
    service.mandates.pause(user_id=user_id, biller_text=biller)
    service.mandates.resume(user_id=user_id, biller_text=biller)
    with pytest.raises(PaymentsError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    [mine] = service.mandates.list_mandates(user_id=user_id)
    assert mine.id == view.id and mine.cap.amount_minor == 20_000
    with pytest.raises(MandateOfferStaleError):  # the withdrawn offer's Confirm is stale too
        _confirm(service, user_id, wider)
    assert _codes(service, user_id) == []


def test_offers_holds_a_verified_code_is_never_overwritten_by_cancel(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    offer = _offer(service, user_id, biller, "500")
    view = _confirm(service, user_id, offer)
    assert isinstance(
        service.verify_step_up_code(user_id=user_id, code_text=_mandate_code(service, user_id)), MandateView
    )
    with pytest.raises(MandateOfferStaleError):
        service.mandates.cancel_offer(user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce)
    with pytest.raises(MandateOfferStaleError):  # typed "cancel" (no nonce): the newest offer
        service.mandates.cancel_offer(user_id=user_id, offer_id=0, nonce=None)
    service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="250")  # closes open offers
    with service.session_factory() as session:
        statuses = (
            session.execute(select(StepUpChallenge.status).where(StepUpChallenge.user_id == user_id))
            .scalars()
            .all()
        )
    assert statuses == [StepUpStatus.VERIFIED.value]
    assert _status(service, view.id) == MandateStatus.ACTIVE.value


def test_expired_note_holds_sent_once_to_the_owner_only_without_the_code(
    payments_service: PaymentsService,
) -> None:
    clock = Clock()
    service = _service(payments_service, clock)
    user_id, biller, _ = _user(service)
    other_id, _, _ = _user(service)
    _pending_mandate(service, user_id, biller)
    clock.now += timedelta(minutes=11)
    service.expire_step_up_codes()
    service.expire_step_up_codes()
    notes = _expired_notes(service, user_id)
    assert len(notes) == 1
    assert _expired_notes(service, other_id) == []
    with service.session_factory() as session:
        challenge = session.get_one(StepUpChallenge, notes[0].step_up_challenge_id)
        assert challenge.user_id == user_id and challenge.code_sealed is None
    told = [
        n
        for n in service.pending_codes_for(user_id=user_id)
        if n.kind == NotificationKind.MANDATE_CODE_EXPIRED
    ]
    assert all(n.code is None for n in told)


def test_expired_note_holds_not_sent_when_confirmed_cancelled_or_superseded_first(
    payments_service: PaymentsService,
) -> None:
    clock = Clock()
    service = _service(payments_service, clock)
    user_id, biller, _ = _user(service)
    offer = _offer(service, user_id, biller, "500")
    _confirm(service, user_id, offer)
    service.mandates.cancel_offer(user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce)  # cancelled
    _pending_mandate(service, user_id, biller)
    _offer(service, user_id, biller, "600")  # superseded by a new offer
    _pending_mandate(service, user_id, biller)
    service.verify_step_up_code(user_id=user_id, code_text=_mandate_code(service, user_id))  # confirmed
    clock.now += timedelta(minutes=11)
    service.expire_step_up_codes()
    assert _expired_notes(service, user_id) == []


def test_lock_holds_a_locked_user_gets_no_code_through_pay_now_or_a_mandate_change(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, Clock(), step_up_lock_failures=1)
    user_id, biller, rent = _user(service)
    view = _confirm(service, user_id, _offer(service, user_id, biller, "50"))  # live, under the threshold
    assert view.code_pending is None
    _payment_waiting(service, user_id, rent)  # a payment code, then typed wrong 3 times: locked
    payment_code = [n for n in _codes(service, user_id) if n.payment_id is not None][-1]
    for n in range(1, 4):
        with pytest.raises((StepUpCodeWrongError, StepUpFailedError)):
            service.verify_step_up_code(
                user_id=user_id,
                code_text=_wrong(str(payment_code.code), n),
                payment_id=payment_code.payment_id,
            )
    with pytest.raises(MandateStepUpLockedError):  # a widening change
        _confirm(
            service,
            user_id,
            service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="500"),
        )
    summary = service.pay_reminded_bill(
        user_id=user_id, bill_id=rent, conversation="atk13c-pay-now", render_summary=edge_summary
    )  # a reminder's "Pay now": the whole €900
    with pytest.raises(StepUpLockedError):
        service.confirm_shown_summary(
            user_id=user_id, conversation="atk13c-pay-now", payment_id=summary.payment_id,
            nonce=summary.confirm_nonce, shown_text=summary.summary_text, confirmation="yes",
        )  # fmt: skip
    assert _codes(service, user_id) == []
