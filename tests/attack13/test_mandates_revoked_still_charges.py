"""Attack (issue 13 item 8): a payment the autopay worker approved but did not charge yet (held by
the time lock / cancel window, or waiting for a second approval) is still charged after the user
revoked or paused the mandate, or after /forget revoked it. README: "Revoked and expired mandates
pay nothing"; `Mandates.revoke`: "nothing more is paid under it".

Real core, SQLite and PostgreSQL, the Stripe sandbox (real charges through the normal path).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from db.models import Bill, Biller, Payment, User
from payments.errors import PaymentsError
from payments.mandates import MandateStatus
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import PaymentStatus
from tests.helpers.factories import make_paying_user, unique

pytestmark = pytest.mark.sandbox

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _service(base: PaymentsService, clock: Clock, **config: object) -> PaymentsService:
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=ServiceConfig(**config),  # type: ignore[arg-type]
        clock=clock,
    )


def _user_with_biller(service: PaymentsService) -> tuple[int, str]:
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("phone", 1000),))
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.timezone = "Europe/Berlin"
        bill = session.get(Bill, bills["phone"])
        assert bill is not None
        bill.status = "void"  # only bills arriving after the mandate are its business
        biller = session.get(Biller, bill.biller_id)
        assert biller is not None
        return user_id, biller.name


def _mandate(service: PaymentsService, user_id: int, biller: str, cap: str) -> int:
    offer = service.mandates.propose(user_id=user_id, biller_text=biller, cap_text=cap, expiry_text="June")
    view = service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    assert view.status == MandateStatus.ACTIVE
    return view.id


def _bill(service: PaymentsService, user_id: int, biller: str, amount_minor: int) -> int:
    return service.autopay.issue_bill(
        user_id=user_id, biller_name=biller, reference=unique("ATK"), amount_minor=amount_minor,
        due_date=date(2026, 12, 20),
    ).id  # fmt: skip


def _payment(service: PaymentsService, bill_id: int) -> Payment:
    with service.session_factory() as session:
        return session.execute(select(Payment).where(Payment.bill_id == bill_id)).scalar_one()


def _held_autopay(payments_service: PaymentsService) -> tuple[PaymentsService, Clock, int, str, int]:
    """A mandate whose worker approved a bill's payment that the time lock holds (not charged yet)."""
    clock = Clock(T0)
    service = _service(payments_service, clock, time_lock=timedelta(minutes=10))
    user_id, biller = _user_with_biller(service)
    _mandate(service, user_id, biller, cap="40")
    clock.now = T0 + timedelta(minutes=1)
    bill_id = _bill(service, user_id, biller, 3500)
    report = service.run_mandates()
    payment = _payment(service, bill_id)
    assert report.paid == (payment.id,) and payment.mandate_id is not None
    assert payment.status != PaymentStatus.SUCCEEDED.value and not payment.payment_intent_id  # held
    return service, clock, user_id, biller, bill_id


def _after_window(service: PaymentsService, clock: Clock, bill_id: int) -> Payment:
    clock.now = T0 + timedelta(minutes=30)
    service.run_due_payments()
    return _payment(service, bill_id)


def test_holds_without_revoking_the_held_autopay_payment_is_charged_after_its_window(
    payments_service: PaymentsService,
) -> None:
    """Control: the setting the xfails below use really charges when nobody revokes."""
    service, clock, _, _, bill_id = _held_autopay(payments_service)
    assert _after_window(service, clock, bill_id).status == PaymentStatus.SUCCEEDED.value


def test_revoking_the_mandate_stops_its_held_payment(payments_service: PaymentsService) -> None:
    service, clock, user_id, biller, bill_id = _held_autopay(payments_service)
    clock.now = T0 + timedelta(minutes=2)  # well inside the cancel window
    assert service.mandates.revoke(user_id=user_id, biller_text=biller).status == MandateStatus.REVOKED

    payment = _after_window(service, clock, bill_id)

    assert payment.status != PaymentStatus.SUCCEEDED.value, "charged under a revoked mandate"
    assert not payment.payment_intent_id


def test_pausing_the_mandate_stops_its_held_payment(payments_service: PaymentsService) -> None:
    service, clock, user_id, biller, bill_id = _held_autopay(payments_service)
    clock.now = T0 + timedelta(minutes=2)
    assert service.mandates.pause(user_id=user_id, biller_text=biller).status == MandateStatus.PAUSED

    payment = _after_window(service, clock, bill_id)

    assert payment.status != PaymentStatus.SUCCEEDED.value, "charged under a paused mandate"


def test_staff_revoking_the_mandate_stops_its_held_payment(payments_service: PaymentsService) -> None:
    service, clock, _, _, bill_id = _held_autopay(payments_service)
    mandate_id = _payment(service, bill_id).mandate_id
    assert mandate_id is not None
    clock.now = T0 + timedelta(minutes=2)
    service.mandates.staff_move(
        mandate_id=mandate_id, new=MandateStatus.REVOKED, staff="atk-admin", reason="card reported stolen"
    )

    payment = _after_window(service, clock, bill_id)

    assert payment.status != PaymentStatus.SUCCEEDED.value, "charged under a mandate staff revoked"


def test_revoking_the_mandate_withdraws_its_payment_awaiting_second_approval(
    payments_service: PaymentsService,
) -> None:
    clock = Clock(T0)
    service = _service(payments_service, clock, second_approval_minor=3000)
    user_id, biller = _user_with_biller(service)
    _mandate(service, user_id, biller, cap="40")
    clock.now = T0 + timedelta(minutes=1)
    bill_id = _bill(service, user_id, biller, 3500)
    service.run_mandates()
    payment = _payment(service, bill_id)
    assert payment.status == PaymentStatus.AWAITING_APPROVAL.value
    clock.now = T0 + timedelta(minutes=2)
    service.mandates.revoke(user_id=user_id, biller_text=biller)

    # The second approver sees a payment of the user's, not that its autopay was revoked meanwhile.
    with contextlib.suppress(PaymentsError):  # refused is what should happen
        service.approve_payment(payment_id=payment.id, approver="atk-approver")

    payment = _payment(service, bill_id)
    assert payment.status != PaymentStatus.SUCCEEDED.value, "charged under a revoked mandate"


def test_forget_stops_the_held_autopay_payment(payments_service: PaymentsService) -> None:
    service, clock, user_id, _, bill_id = _held_autopay(payments_service)
    clock.now = T0 + timedelta(minutes=2)
    service.forget_user(user_id=user_id)

    payment = _after_window(service, clock, bill_id)

    assert payment.status != PaymentStatus.SUCCEEDED.value, "a forgotten user's card charged by autopay"


def test_lowering_the_cap_below_a_held_payment_stops_it(payments_service: PaymentsService) -> None:
    service, clock, user_id, biller, bill_id = _held_autopay(payments_service)  # €35 held, cap €40
    clock.now = T0 + timedelta(minutes=2)
    offer = service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="20")
    view = service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    assert view.cap.amount_minor == 2000

    payment = _after_window(service, clock, bill_id)

    assert payment.status != PaymentStatus.SUCCEEDED.value, "€35 charged after the user set the cap to €20"


def test_lowering_the_budget_below_held_payments_stops_those_over_it(
    payments_service: PaymentsService,
) -> None:
    """A case of MandateMachine's charge-time invariant (seen while writing it): two €35 payments
    held under a €100 budget, the user lowers the budget to €40 (cap €40): only one may be charged."""
    clock = Clock(T0)
    service = _service(payments_service, clock, time_lock=timedelta(minutes=10))
    user_id, biller = _user_with_biller(service)
    offer = service.mandates.propose(
        user_id=user_id, biller_text=biller, cap_text="40", budget_text="100", expiry_text="June"
    )
    service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    clock.now = T0 + timedelta(minutes=1)
    bills = [_bill(service, user_id, biller, 3500) for _ in range(2)]
    assert len(service.run_mandates().paid) == 2
    clock.now = T0 + timedelta(minutes=2)
    change = service.mandates.propose_change(user_id=user_id, biller_text=biller, budget_text="40")
    service.mandates.confirm(
        user_id=user_id, offer_id=change.offer_id, nonce=change.nonce, shown_text=change.summary_text
    )

    clock.now = T0 + timedelta(minutes=30)
    service.run_due_payments()

    statuses = sorted(_payment(service, bill_id).status for bill_id in bills)
    assert statuses == [PaymentStatus.CANCELLED.value, PaymentStatus.SUCCEEDED.value], (
        f"{statuses}: €70 charged in a month after the user set the budget to €40"
    )


def test_a_held_payment_is_not_charged_after_its_mandates_last_day(payments_service: PaymentsService) -> None:
    """A case of MandateMachine's charge-time invariant (seen while writing it): approved at 23:55 on
    the mandate's last day (Berlin), held by the 10-minute lock; the worker's round after midnight
    charges due payments before it expires mandates: charged on a day the mandate no longer covers."""
    last_day = datetime(2026, 11, 30, 22, 50, tzinfo=UTC)  # 23:50 in Berlin on 30 November
    clock = Clock(last_day)
    service = _service(payments_service, clock, time_lock=timedelta(minutes=10))
    user_id, biller = _user_with_biller(service)
    offer = service.mandates.propose(
        user_id=user_id, biller_text=biller, cap_text="40", expiry_text="2026-11-30"
    )
    service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    clock.now = last_day + timedelta(minutes=5)
    bill_id = _bill(service, user_id, biller, 3500)
    assert service.run_mandates().paid

    clock.now = last_day + timedelta(minutes=20)  # 00:10 in Berlin on 1 December
    service.run_due_payments()  # the worker round's first step, before its mandate step expires it

    payment = _payment(service, bill_id)
    assert payment.status == PaymentStatus.CANCELLED.value and not payment.payment_intent_id, (
        f"{payment.status}: charged the day after the mandate's last day"
    )
