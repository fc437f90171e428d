"""The notifications outbox, on both databases with the sandbox: which outcomes are told, once each.

A final outcome reached outside the user's own confirming turn (staff approval or rejection, the
worker's scheduled charge, 3-D Secure settled later) queues exactly one notification; the
synchronous result of `confirm_payment` queues none, because the chat already shows it.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import Notification, User, utcnow
from payments.demo import VISA_3DS, VISA_DECLINES, VISA_SUCCEEDS
from payments.service import PaymentsService
from payments.statuses import NotificationKind, PaymentStatus
from payments.views import NotificationView
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox

# Telegram ids far from the demo users' (100001…) and from other test files'.
_telegram_ids = itertools.count(730_000_001)


def _service(base: PaymentsService, **config: int) -> PaymentsService:
    """The session's service with a low second-approval threshold (84.20 € needs a second approval)."""
    values = {"second_approval_minor": 5_000, **config}
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **values),
        clock=base._clock,
    )


def _telegram_payer(service: PaymentsService, *, card_number: str = VISA_SUCCEEDS) -> tuple[int, int, int]:
    """A paying user reachable on Telegram with an 84.20 € bill; (user id, telegram id, bill id)."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway, card_number=card_number)
    telegram_id = next(_telegram_ids)
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.telegram_user_id = telegram_id
    return user_id, telegram_id, bills["electricity"]


def _confirmed(service: PaymentsService, user_id: int, bill_id: int, date_text: str | None = None) -> int:
    summary = service.draft_payment(user_id=user_id, bill_id=bill_id, amount_text=None, date_text=date_text)
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="yes")
    return result.payment_id


def _pending_for(service: PaymentsService, payment_id: int) -> list[NotificationView]:
    return [n for n in service.pending_notifications(limit=500) if n.payment_id == payment_id]


def _rows_for(service: PaymentsService, payment_id: int) -> list[Notification]:
    with service.session_factory() as session:
        return list(
            session.execute(select(Notification).where(Notification.payment_id == payment_id)).scalars()
        )


def test_staff_approval_that_charges_queues_one_succeeded_notification(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service)
    user_id, telegram_id, bill_id = _telegram_payer(service)
    payment_id = _confirmed(service, user_id, bill_id)
    waiting = service.get_payment(user_id=user_id, payment_id=payment_id)
    assert waiting.status == PaymentStatus.AWAITING_APPROVAL
    assert _pending_for(service, payment_id) == []  # waiting for staff is the chat's own answer

    result = service.approve_payment(payment_id=payment_id, approver="staff:ana")
    assert result.status == PaymentStatus.SUCCEEDED
    service.approve_payment(payment_id=payment_id, approver="staff:ana")  # a second click changes nothing

    [note] = _pending_for(service, payment_id)
    assert note.kind == NotificationKind.SUCCEEDED
    assert (note.user_id, note.telegram_user_id) == (user_id, telegram_id)
    assert note.amount_text == "€84.20" and note.locale == "en_IE"
    assert note.biller_name == result.biller_name and note.failure_message is None


def test_staff_approval_of_a_declined_card_queues_a_failed_notification_with_the_reason(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service)
    user_id, _, bill_id = _telegram_payer(service, card_number=VISA_DECLINES)
    payment_id = _confirmed(service, user_id, bill_id)
    result = service.approve_payment(payment_id=payment_id, approver="staff:ana")
    assert result.status == PaymentStatus.FAILED
    [note] = _pending_for(service, payment_id)
    assert note.kind == NotificationKind.FAILED
    assert note.failure_message and note.failure_message == result.failure_message


def test_staff_rejection_queues_one_cancelled_notification(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    user_id, _, bill_id = _telegram_payer(service)
    payment_id = _confirmed(service, user_id, bill_id)
    service.reject_payment(payment_id=payment_id, approver="staff:ana", reason="looks odd")
    [note] = _pending_for(service, payment_id)
    assert note.kind == NotificationKind.CANCELLED_BY_STAFF
    assert len(_rows_for(service, payment_id)) == 1


def test_a_confirm_that_settles_in_the_chat_queues_only_a_held_notification(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, second_approval_minor=10_000_000)
    user_id, _, bill_id = _telegram_payer(service)
    payment_id = _confirmed(service, user_id, bill_id)
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.SUCCEEDED
    # A repeated confirmation (double tap) returns the first result and queues nothing more.
    service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="yes")
    # The user reads the outcome in the chat turn's reply: the one row waits, held, for a lost reply.
    (row,) = _rows_for(service, payment_id)
    assert row.hold_until is not None and row.sent_at is None
    assert payment_id not in {n.payment_id for n in service.pending_notifications(limit=500)}


def test_a_scheduled_payment_charged_by_the_worker_queues_one_notification(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, second_approval_minor=10_000_000)
    user_id, _, bill_id = _telegram_payer(service)
    payment_id = _confirmed(service, user_id, bill_id, date_text="in 3 days")
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == PaymentStatus.APPROVED
    assert _rows_for(service, payment_id) == []

    later = PaymentsService(
        session_factory=service.session_factory,
        gateway=service.gateway,
        config=service.config,
        clock=lambda: utcnow() + timedelta(days=4),
    )
    charged = {r.payment_id: r.status for r in later.run_due_payments()}
    assert charged[payment_id] == PaymentStatus.SUCCEEDED
    later.run_due_payments()  # the next round finds nothing new to tell
    [note] = _pending_for(service, payment_id)
    assert note.kind == NotificationKind.SUCCEEDED


def test_three_d_secure_settled_after_the_turn_queues_one_notification(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, second_approval_minor=10_000_000)
    user_id, _, bill_id = _telegram_payer(service, card_number=VISA_3DS)
    payment_id = _confirmed(service, user_id, bill_id)
    result = service.get_payment(user_id=user_id, payment_id=payment_id)
    assert result.status == PaymentStatus.REQUIRES_ACTION and result.payment_intent_id
    assert _rows_for(service, payment_id) == []

    service.gateway.authenticate_in_sandbox(result.payment_intent_id, success=True)  # type: ignore[attr-defined]
    # The return page and a webhook both report it: one status change, so one notification.
    settled = service.settle_payment_intent(payment_intent_id=result.payment_intent_id)
    assert settled == PaymentStatus.SUCCEEDED
    service.record_webhook_event(
        event_id=f"evt_notify_{payment_id}",
        event_type="payment_intent.succeeded",
        payment_intent_id=result.payment_intent_id,
    )
    [note] = _pending_for(service, payment_id)
    assert note.kind == NotificationKind.SUCCEEDED


def test_marking_sent_is_a_compare_and_set(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    user_id, _, bill_id = _telegram_payer(service)
    payment_id = _confirmed(service, user_id, bill_id)
    service.reject_payment(payment_id=payment_id, approver="staff:ana", reason="no")
    [note] = _pending_for(service, payment_id)
    assert service.mark_notification_sent(notification_id=note.id) is True
    assert service.mark_notification_sent(notification_id=note.id) is False
    assert _pending_for(service, payment_id) == []
    [row] = _rows_for(service, payment_id)
    assert row.sent_at is not None


def test_users_without_telegram_are_not_listed(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    payment_id = _confirmed(service, user_id, bills["electricity"])
    service.approve_payment(payment_id=payment_id, approver="staff:ana")
    assert len(_rows_for(service, payment_id)) == 1  # recorded: a later Telegram link could use it
    assert _pending_for(service, payment_id) == []


def test_a_bill_notification_names_the_bill_and_its_due_day(payments_service: PaymentsService) -> None:
    """The outbox carries bill notifications (issue 13: reminders, bills a mandate could not pay)."""
    from db.models import Bill
    from payments.outbox import queue_bill_notification

    user_id, _, bill_id = _telegram_payer(payments_service)
    with payments_service.session_factory.begin() as session:
        bill = session.get(Bill, bill_id)
        assert bill is not None
        note_id = queue_bill_notification(session, bill, NotificationKind.BILL_REMINDER, utcnow()).id
        due = bill.due_date
    [note] = [n for n in payments_service.pending_notifications(limit=500) if n.id == note_id]
    assert (note.payment_id, note.bill_id, note.due_date, note.user_id) == (None, bill_id, due, user_id)
    assert note.kind is NotificationKind.BILL_REMINDER and note.amount_text == "€84.20"
    assert payments_service.mark_notification_sent(notification_id=note_id)
    assert note_id not in {n.id for n in payments_service.pending_notifications(limit=500)}


def test_a_notification_about_nothing_is_refused(payments_service: PaymentsService) -> None:
    from sqlalchemy.exc import IntegrityError

    user_id, _, _ = _telegram_payer(payments_service)
    with pytest.raises(IntegrityError), payments_service.session_factory.begin() as session:
        session.add(Notification(user_id=user_id, kind=NotificationKind.BILL_REMINDER.value))
