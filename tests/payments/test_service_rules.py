"""Use-case rules on both databases with the sandbox: ownership, amounts, limits, schedules, identity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db.models import utcnow
from payments.dates import DayRelation
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
        # No second approval: this test is about the limits, so 1 400,00 € is charged at once.
        config=ServiceConfig(
            per_payment_limit_minor=150_000, daily_limit_minor=200_000, second_approval_minor=10_000_000
        ),
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
    assert summary.is_scheduled and summary.day == DayRelation.LATER
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
    # One second round: the payment it already charged must not come back (a double charge).
    again = later.run_due_payments()
    assert summary.payment_id not in {r.payment_id for r in again}
    assert payments_service.get_payment(user_id=user_id, payment_id=summary.payment_id).status == "succeeded"


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


def _paying_user(service: PaymentsService) -> tuple[int, dict[str, int]]:
    bills = (("electricity", 8420), ("water", 3250))
    return make_paying_user(service.session_factory, service.gateway, bills=bills)


def test_prepare_payment_names_the_bill_and_replaces_the_draft(payments_service: PaymentsService) -> None:
    user_id, bills = _paying_user(payments_service)
    first = payments_service.prepare_payment(
        user_id=user_id, biller_text="my electricity bill", bill_id=None, amount_text="1", date_text=None
    )
    assert first.bill_id == bills["electricity"] and first.status == "draft"
    # A correction keeps the bill (no biller named) and replaces the first draft.
    second = payments_service.prepare_payment(
        user_id=user_id,
        biller_text=None,
        bill_id=first.bill_id,
        amount_text="2",
        date_text=None,
        replacing_payment_id=first.payment_id,
    )
    assert second.amount.amount_minor == 200 and second.payment_id != first.payment_id
    assert payments_service.get_payment(user_id=user_id, payment_id=first.payment_id).status == "cancelled"
    assert payments_service.get_payment(user_id=user_id, payment_id=second.payment_id).status == "draft"


def test_a_refused_correction_still_cancels_the_replaced_draft(payments_service: PaymentsService) -> None:
    user_id, bills = _paying_user(payments_service)
    shown = payments_service.prepare_payment(
        user_id=user_id, biller_text=None, bill_id=bills["water"], amount_text="1", date_text=None
    )
    with pytest.raises(PaymentsError) as caught:
        payments_service.prepare_payment(
            user_id=user_id,
            biller_text=None,
            bill_id=bills["water"],
            amount_text="33 €",
            date_text=None,
            replacing_payment_id=shown.payment_id,
        )
    assert _code(caught) == "amount_above_outstanding"
    assert payments_service.get_payment(user_id=user_id, payment_id=shown.payment_id).status == "cancelled"
    with pytest.raises(PaymentsError) as caught:
        payments_service.prepare_payment(
            user_id=user_id, biller_text="dragon taxes", bill_id=None, amount_text=None, date_text=None
        )
    assert _code(caught) == "biller_unknown"


def test_prepare_never_cancels_a_confirmed_or_foreign_payment(payments_service: PaymentsService) -> None:
    user_id, bills = _paying_user(payments_service)
    other, _ = _paying_user(payments_service)
    paid = payments_service.prepare_payment(
        user_id=user_id, biller_text=None, bill_id=bills["water"], amount_text="1", date_text=None
    )
    assert (
        payments_service.confirm_payment(
            user_id=user_id, payment_id=paid.payment_id, consent_text=paid.summary_text
        ).status
        == "succeeded"
    )
    foreign = payments_service.prepare_payment(
        user_id=other, biller_text="water", bill_id=None, amount_text="1", date_text=None
    )
    for replaced in (paid.payment_id, foreign.payment_id):
        assert payments_service.prepare_payment(
            user_id=user_id,
            biller_text=None,
            bill_id=bills["water"],
            amount_text="1",
            date_text=None,
            replacing_payment_id=replaced,
        )
    assert payments_service.get_payment(user_id=user_id, payment_id=paid.payment_id).status == "succeeded"
    assert payments_service.get_payment(user_id=other, payment_id=foreign.payment_id).status == "draft"


def _schedule(service: PaymentsService, user_id: int, bill_id: int, days: int) -> int:
    summary = service.prepare_payment(
        user_id=user_id, biller_text=None, bill_id=bill_id, amount_text="1", date_text=f"in {days} days"
    )
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="y")
    assert result.status == "approved"
    return summary.payment_id


def test_cancel_pending_payment_cancels_or_offers_choices(payments_service: PaymentsService) -> None:
    user_id, bills = _paying_user(payments_service)
    nothing = payments_service.cancel_pending_payment(user_id=user_id, biller_text="water")
    assert nothing.cancelled is None and nothing.candidates == []
    water = _schedule(payments_service, user_id, bills["water"], 3)
    power = [_schedule(payments_service, user_id, bills["electricity"], days) for days in (4, 5)]
    # Naming a biller of several scheduled payments narrows the choice to those.
    several = payments_service.cancel_pending_payment(user_id=user_id, biller_text="electricity")
    assert several.cancelled is None and [c.payment_id for c in several.candidates] == power
    # Naming none of them (or nothing) offers every scheduled payment, soonest first.
    for text in ("dragon taxes", None):
        offered = payments_service.cancel_pending_payment(user_id=user_id, biller_text=text)
        assert offered.cancelled is None and [c.payment_id for c in offered.candidates] == [water, *power]
    # Naming the biller of exactly one cancels it.
    named = payments_service.cancel_pending_payment(user_id=user_id, biller_text="my water bill")
    assert named.cancelled is not None and named.cancelled.payment_id == water and named.candidates == []
    assert payments_service.get_payment(user_id=user_id, payment_id=water).status == "cancelled"
    # A picked payment is cancelled as it is; someone else's is "not found".
    picked = payments_service.cancel_pending_payment(user_id=user_id, payment_id=power[0])
    assert picked.cancelled is not None and picked.cancelled.status == "cancelled"
    other, _ = _paying_user(payments_service)
    with pytest.raises(PaymentsError) as caught:
        payments_service.cancel_pending_payment(user_id=other, payment_id=power[1])
    assert _code(caught) == "payment_not_found"
    assert payments_service.get_payment(user_id=user_id, payment_id=power[1]).status == "approved"


def test_list_dates_are_written_in_the_users_locale(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, bills=(("water", 3250),), locale="de_DE"
    )
    [bill] = payments_service.open_bills(user_id=user_id)
    assert bill.due_date_text == bill.due_date.strftime("%d.%m.%Y")
    summary = payments_service.prepare_payment(
        user_id=user_id, biller_text=None, bill_id=bills["water"], amount_text="1", date_text="in 3 days"
    )
    payments_service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="y")
    [payment] = payments_service.payment_history(user_id=user_id)
    assert payment.pay_on_text == summary.pay_on.strftime("%d.%m.%Y")
