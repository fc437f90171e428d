"""Use-case rules on both databases with the sandbox: ownership, amounts, limits, schedules, identity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db.models import utcnow
from payments.errors import PaymentsError
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import PaymentStatus
from tests.helpers.factories import make_paying_user

pytestmark = pytest.mark.sandbox


def _code(error: pytest.ExceptionInfo[PaymentsError]) -> str:
    return error.value.code


def test_demo_user_resolves_and_finds_the_electricity_bill(payments_service: PaymentsService) -> None:
    user_id = payments_service.user_id_for_sender(sender_id="tg-100001")
    assert payments_service.user_id_for_sender(sender_id=f"console-{user_id}-abc_1") == user_id
    bill = payments_service.find_bill(user_id=user_id, biller_text="my electricity bill")
    assert (bill.biller_name, bill.amount_due.amount_minor, bill.amount_due.currency) == (
        "Stadtwerke",
        8420,
        "EUR",
    )
    names = {b.biller_name for b in payments_service.open_bills(user_id=user_id)}
    assert {"Stadtwerke", "Vodafone"} <= names


@pytest.mark.parametrize(
    "sender", ["tg-999999999", "console-999999-x", "web-1", "tg-", "console-1-bad session"]
)
def test_unknown_senders(payments_service: PaymentsService, sender: str) -> None:
    with pytest.raises(PaymentsError) as caught:
        payments_service.user_id_for_sender(sender_id=sender)
    assert _code(caught) == "user_unknown"


def test_console_cannot_act_as_a_real_user(payments_service: PaymentsService) -> None:
    real = payments_service.ensure_telegram_user(
        telegram_user_id=555001, name="Real Person", language_code="de"
    )
    assert not real.is_test and real.locale == "de_DE"
    assert payments_service.user_id_for_sender(sender_id="tg-555001") == real.id
    with pytest.raises(PaymentsError) as caught:
        payments_service.user_id_for_sender(sender_id=f"console-{real.id}-s1")
    assert _code(caught) == "user_unknown"
    # Demo mode gave the new user demo bills and a card; a second call creates nothing new.
    assert payments_service.find_bill(user_id=real.id, biller_text="strom").biller_name == "Stadtwerke"
    again = payments_service.ensure_telegram_user(
        telegram_user_id=555001, name="Real Person", language_code="de"
    )
    assert again == real


def test_users_touch_only_their_own_bills_and_payments(payments_service: PaymentsService) -> None:
    alice, alice_bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    mallory, _ = make_paying_user(payments_service.session_factory, payments_service.gateway)
    with pytest.raises(PaymentsError) as caught:
        payments_service.draft_payment(
            user_id=mallory, bill_id=alice_bills["electricity"], amount_text=None, date_text=None
        )
    assert _code(caught) == "bill_not_found"
    summary = payments_service.draft_payment(
        user_id=alice, bill_id=alice_bills["electricity"], amount_text=None, date_text=None
    )
    for call in (
        lambda: payments_service.confirm_payment(
            user_id=mallory, payment_id=summary.payment_id, consent_text="y"
        ),
        lambda: payments_service.cancel_payment(user_id=mallory, payment_id=summary.payment_id),
    ):
        with pytest.raises(PaymentsError) as caught:
            call()
        assert _code(caught) == "payment_not_found"
    assert payments_service.payment_history(user_id=mallory) == []


def test_amount_checks_and_limits(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, bills=(("rent", 300_000), ("water", 3250))
    )
    strict = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=ServiceConfig(per_payment_limit_minor=150_000, daily_limit_minor=200_000),
    )
    cases = [
        (bills["water"], "40 €", "amount_above_outstanding"),
        (bills["water"], "0", "amount_not_positive"),
        (bills["rent"], "all", "limit_per_payment"),
        (bills["water"], "30 €", None),
    ]
    for bill_id, text, code in cases:
        if code is None:
            assert strict.draft_payment(user_id=user_id, bill_id=bill_id, amount_text=text, date_text=None)
            continue
        with pytest.raises(PaymentsError) as caught:
            strict.draft_payment(user_id=user_id, bill_id=bill_id, amount_text=text, date_text=None)
        assert _code(caught) == code
    first = strict.draft_payment(
        user_id=user_id, bill_id=bills["rent"], amount_text="1.400,00 €", date_text=None
    )
    assert (
        strict.confirm_payment(user_id=user_id, payment_id=first.payment_id, consent_text="y").status
        == "succeeded"
    )
    with pytest.raises(PaymentsError) as caught:
        strict.draft_payment(user_id=user_id, bill_id=bills["rent"], amount_text="700", date_text=None)
    assert _code(caught) == "limit_daily"
    # Another day has its own budget.
    assert strict.draft_payment(
        user_id=user_id, bill_id=bills["rent"], amount_text="700", date_text="tomorrow"
    )


def test_two_drafts_cannot_overpay_a_bill(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    # 50 € first, then the whole bill: the second no longer fits what is outstanding.
    a = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="50", date_text=None
    )
    b = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    assert (
        payments_service.confirm_payment(user_id=user_id, payment_id=a.payment_id, consent_text="y").status
        == "succeeded"
    )
    with pytest.raises(PaymentsError) as caught:
        payments_service.confirm_payment(user_id=user_id, payment_id=b.payment_id, consent_text="y")
    assert _code(caught) == "amount_above_outstanding"
    history = payments_service.payment_history(user_id=user_id)
    assert [p.status for p in history] == [PaymentStatus.SUCCEEDED]


def test_cancel_a_draft_and_nothing_else(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="10", date_text=None
    )
    assert (
        payments_service.cancel_payment(user_id=user_id, payment_id=summary.payment_id).status == "cancelled"
    )
    for call in (
        lambda: payments_service.cancel_payment(user_id=user_id, payment_id=summary.payment_id),
        lambda: payments_service.confirm_payment(
            user_id=user_id, payment_id=summary.payment_id, consent_text="y"
        ),
    ):
        result = None
        try:
            result = call()
        except PaymentsError as error:
            assert error.code == "payment_not_pending"
        else:
            assert result.status == PaymentStatus.CANCELLED  # confirming a cancelled payment charges nothing
            assert result.payment_intent_id is None


def test_scheduled_payment_waits_for_its_day_and_can_be_cancelled(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory,
        payments_service.gateway,
        bills=(("electricity", 8420), ("phone", 3999)),
    )
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text="in 3 days"
    )
    assert summary.is_scheduled and summary.pay_on_text.startswith("on ")
    scheduled = payments_service.schedule_payment(
        user_id=user_id, payment_id=summary.payment_id, consent_text="y"
    )
    assert scheduled.status == "scheduled"
    other = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["phone"], amount_text=None, date_text="in 5 days"
    )
    result = payments_service.confirm_payment(user_id=user_id, payment_id=other.payment_id, consent_text="y")
    assert result.status == PaymentStatus.APPROVED and result.scheduled_payment_id
    assert [p.payment_id for p in payments_service.pending_payments(user_id=user_id)] == [
        summary.payment_id,
        other.payment_id,
    ]
    # Nothing is due today.
    assert all(
        r.payment_id not in (summary.payment_id, other.payment_id)
        for r in payments_service.run_due_payments()
    )

    cancelled = payments_service.cancel_scheduled_payment(
        user_id=user_id, scheduled_payment_id=result.scheduled_payment_id
    )
    assert cancelled.status == "cancelled"
    later = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=payments_service.config,
        clock=lambda: utcnow() + timedelta(days=4),
    )
    charged = {r.payment_id: r.status for r in later.run_due_payments()}
    assert charged[summary.payment_id] == PaymentStatus.SUCCEEDED
    assert other.payment_id not in charged
    assert payments_service.pending_payments(user_id=user_id) == []
    assert later.run_due_payments() == [] or summary.payment_id not in {
        r.payment_id for r in later.run_due_payments()
    }


def test_find_bill_matches_only_the_users_billers(payments_service: PaymentsService) -> None:
    user_id, _ = make_paying_user(
        payments_service.session_factory, payments_service.gateway, bills=(("water", 3250),)
    )
    with pytest.raises(PaymentsError) as caught:
        payments_service.find_bill(user_id=user_id, biller_text="Vodafone")  # a demo biller, not this user's
    assert _code(caught) == "bill_not_found"
    with pytest.raises(PaymentsError) as caught:
        payments_service.find_bill(user_id=user_id, biller_text="zebra grooming")
    assert _code(caught) == "biller_unknown"
    assert (
        payments_service.find_bill(user_id=user_id, biller_text="my water bill").amount_due.amount_minor
        == 3250
    )
