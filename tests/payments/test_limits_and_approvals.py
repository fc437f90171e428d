"""Limits under concurrency and the second approval ("multi-signature"), on both databases."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditLogEntry, Consent, Payment, User, utcnow
from payments.errors import PaymentsError
from payments.money import Money
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import PaymentStatus
from tests.helpers.factories import edge_summary, make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY

pytestmark = pytest.mark.sandbox


class SlowLimitService(PaymentsService):
    """Holds each transaction open for a moment after the limit check, so racing approvals overlap."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check = self.ledger.check_amount

        def slow_check(session: Session, user: User, *, amount: Money, owed: Money, pay_on: date) -> None:
            check(session, user, amount=amount, owed=owed, pay_on=pay_on)
            time.sleep(0.3)

        self.ledger.check_amount = slow_check  # type: ignore[method-assign]


def _service(
    base: PaymentsService, cls: type[PaymentsService] = PaymentsService, **config: int
) -> PaymentsService:
    return cls(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **config),
    )


def _code(error: BaseException | None) -> str:
    assert isinstance(error, PaymentsError), error
    return error.code


def test_daily_limit_holds_for_two_bills_confirmed_at_once(payments_service: PaymentsService) -> None:
    # No second approval here: both payments would be charged at once were it not for the limit.
    service = _service(
        payments_service, SlowLimitService, daily_limit_minor=200_000, second_approval_minor=10_000_000
    )
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("electricity", 150_000), ("water", 150_000))
    )
    drafts = [
        service.draft_payment(user_id=user_id, bill_id=bills[name], amount_text=None, date_text=None)
        for name in ("electricity", "water")
    ]
    barrier = threading.Barrier(2)

    def confirm(payment_id: int) -> PaymentStatus | BaseException:
        barrier.wait()
        try:
            return service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="yes").status
        except PaymentsError as error:
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(confirm, [d.payment_id for d in drafts]))

    charged = [o for o in outcomes if o == PaymentStatus.SUCCEEDED]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(charged) == 1 and len(refused) == 1, outcomes
    assert _code(refused[0]) == "limit_daily"
    statuses = sorted(service.get_payment(user_id=user_id, payment_id=d.payment_id).status for d in drafts)
    assert statuses == ["draft", "succeeded"]


def _intents(service: PaymentsService, sandbox_url: str, payment_id: int) -> list[str]:
    """Every PaymentIntent in the sandbox with this payment's idempotency key (unique across databases)."""
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        key = payment.idempotency_key
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return [
        str(pi.id)
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("paychat_idempotency_key") == key
    ]


def _large(service: PaymentsService, amount_text: str, date_text: str | None = None) -> tuple[int, int]:
    """A user with a 3 000.00 bill and a consented payment of `amount_text` on it; (user id, payment id)."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 300_000),))
    summary = service.draft_payment(
        user_id=user_id,
        bill_id=bills["rent"],
        amount_text=amount_text,
        date_text=date_text,
        render_summary=edge_summary,
    )
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="yes")
    return user_id, result.payment_id


def _audit(service: PaymentsService, payment_id: int) -> list[tuple[str | None, dict[str, object]]]:
    with service.session_factory() as session:
        rows = session.execute(
            select(AuditLogEntry).where(AuditLogEntry.payment_id == payment_id).order_by(AuditLogEntry.id)
        ).scalars()
        return [(row.to_status, dict(row.data or {})) for row in rows]


def test_defaults_keep_the_threshold_below_the_per_payment_limit() -> None:
    config = ServiceConfig()
    assert config.second_approval_minor == 100_000 < config.per_payment_limit_minor


def test_below_the_threshold_is_charged_at_once(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = _large(payments_service, "999.99")
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == "succeeded"
    assert len(_intents(payments_service, stripe_sandbox, payment_id)) == 1
    assert payment_id not in {a.payment_id for a in payments_service.payments_awaiting_approval()}


def test_at_the_threshold_waits_then_approval_charges_once(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = _large(payments_service, "1000")
    waiting = payments_service.get_payment(user_id=user_id, payment_id=payment_id)
    assert waiting.status == PaymentStatus.AWAITING_APPROVAL
    assert _intents(payments_service, stripe_sandbox, payment_id) == []
    listed = {a.payment_id: a for a in payments_service.payments_awaiting_approval()}
    assert listed[payment_id].amount == Money(100_000, "EUR")
    assert listed[payment_id].consent_text.startswith("Pay ")
    with payments_service.session_factory() as session:
        assert session.execute(select(Consent).where(Consent.payment_id == payment_id)).scalar_one()

    result = payments_service.approve_payment(payment_id=payment_id, approver="staff:alice")
    assert result.status == PaymentStatus.SUCCEEDED
    again = payments_service.approve_payment(payment_id=payment_id, approver="staff:bob")
    assert again.status == PaymentStatus.SUCCEEDED
    assert len(_intents(payments_service, stripe_sandbox, payment_id)) == 1
    trail = _audit(payments_service, payment_id)
    assert ("approved", {"approver": "staff:alice"}) in trail
    assert [status for status, _ in trail].count("approved") == 1


def test_reject_cancels_without_a_charge(payments_service: PaymentsService, stripe_sandbox: str) -> None:
    _, payment_id = _large(payments_service, "1 500,00 €")
    view = payments_service.reject_payment(payment_id=payment_id, approver="staff:alice", reason="unusual")
    assert view.status == PaymentStatus.CANCELLED
    assert _intents(payments_service, stripe_sandbox, payment_id) == []
    assert ("cancelled", {"reason": "rejected", "approver": "staff:alice", "rejection": "unusual"}) in _audit(
        payments_service, payment_id
    )
    with pytest.raises(PaymentsError) as caught:
        payments_service.approve_payment(payment_id=payment_id, approver="staff:bob")
    assert _code(caught.value) == "payment_not_pending"
    assert _intents(payments_service, stripe_sandbox, payment_id) == []


def test_ten_concurrent_approvals_charge_once(payments_service: PaymentsService, stripe_sandbox: str) -> None:
    _, payment_id = _large(payments_service, "1500")
    barrier = threading.Barrier(10)

    def approve(n: int) -> PaymentStatus:
        barrier.wait()
        return payments_service.approve_payment(payment_id=payment_id, approver=f"staff:{n}").status

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(approve, range(10)))
    assert set(statuses) == {PaymentStatus.SUCCEEDED}
    assert len(_intents(payments_service, stripe_sandbox, payment_id)) == 1
    assert [status for status, _ in _audit(payments_service, payment_id)].count("approved") == 1


def test_an_approved_future_payment_is_scheduled(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = _large(payments_service, "1500", date_text="in 3 days")
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == "awaiting_approval"
    result = payments_service.approve_payment(payment_id=payment_id, approver="staff:alice")
    assert result.status == PaymentStatus.APPROVED and result.scheduled_payment_id
    assert _intents(payments_service, stripe_sandbox, payment_id) == []


def test_limits_still_apply_to_payments_that_need_approval(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory,
        payments_service.gateway,
        bills=(("rent", 300_000), ("tax", 300_000)),
    )
    with pytest.raises(PaymentsError) as caught:
        payments_service.draft_payment(
            user_id=user_id, bill_id=bills["rent"], amount_text="2500", date_text=None
        )
    assert _code(caught.value) == "limit_per_payment"
    # An awaiting approval holds its share of the daily limit.
    service = _service(payments_service, daily_limit_minor=200_000)
    first = service.draft_payment(user_id=user_id, bill_id=bills["rent"], amount_text="1500", date_text=None)
    second = service.draft_payment(user_id=user_id, bill_id=bills["tax"], amount_text="1500", date_text=None)
    assert service.confirm_payment(user_id=user_id, payment_id=first.payment_id, consent_text="y").status == (
        "awaiting_approval"
    )
    with pytest.raises(PaymentsError) as caught:
        service.confirm_payment(user_id=user_id, payment_id=second.payment_id, consent_text="y")
    assert _code(caught.value) == "limit_daily"


def test_unanswered_approvals_expire_after_48_hours(payments_service: PaymentsService) -> None:
    user_id, payment_id = _large(payments_service, "1500")
    soon = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=payments_service.config,
        clock=lambda: utcnow() + timedelta(hours=47),
    )
    soon.expire_stale_drafts()
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == "awaiting_approval"
    later = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=payments_service.config,
        clock=lambda: utcnow() + timedelta(hours=49),
    )
    assert later.expire_stale_drafts() >= 1
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == "cancelled"


# --- the threshold applies to what a user pays one biller within a period (issue 10, item 6) -------


def _split(service: PaymentsService, user_id: int, bill_id: int, amount_text: str) -> int:
    """Draft `amount_text` on the bill and return the draft's payment id."""
    return service.draft_payment(
        user_id=user_id, bill_id=bill_id, amount_text=amount_text, date_text=None, render_summary=edge_summary
    ).payment_id


def test_splitting_a_large_bill_does_not_dodge_the_second_approval(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    # Two payments of 900.00 on an 1 800.00 bill: the second brings the biller's 30 days to 1 800.00.
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, bills=(("rent", 180_000),)
    )
    first = _split(payments_service, user_id, bills["rent"], "900")
    assert payments_service.confirm_payment(user_id=user_id, payment_id=first, consent_text="y").status == (
        PaymentStatus.SUCCEEDED
    )
    second = _split(payments_service, user_id, bills["rent"], "900")
    result = payments_service.confirm_payment(user_id=user_id, payment_id=second, consent_text="y")
    assert result.status == PaymentStatus.AWAITING_APPROVAL
    assert _intents(payments_service, stripe_sandbox, second) == []
    assert second in {a.payment_id for a in payments_service.payments_awaiting_approval()}


def test_the_threshold_counts_one_biller_within_the_period_only(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(
        payments_service.session_factory,
        payments_service.gateway,
        bills=(("rent", 180_000), ("tax", 180_000)),
    )
    service = _service(payments_service, daily_limit_minor=10_000_000)
    rent = _split(service, user_id, bills["rent"], "900")
    assert service.confirm_payment(user_id=user_id, payment_id=rent, consent_text="y").status == "succeeded"
    # Another biller: its own total.
    tax = _split(service, user_id, bills["tax"], "900")
    assert service.confirm_payment(user_id=user_id, payment_id=tax, consent_text="y").status == "succeeded"
    # The same biller after the period (30 days by default): the old payment no longer counts.
    later = PaymentsService(
        session_factory=service.session_factory,
        gateway=service.gateway,
        config=service.config,
        clock=lambda: utcnow() + service.config.second_approval_period + timedelta(days=1),
    )
    again = _split(later, user_id, bills["rent"], "900")
    assert later.confirm_payment(user_id=user_id, payment_id=again, consent_text="y").status == "succeeded"


def test_two_splits_confirmed_at_once_cannot_both_slip_under(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service, SlowLimitService)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 180_000),))
    drafts = [_split(service, user_id, bills["rent"], "900") for _ in range(2)]
    barrier = threading.Barrier(2)

    def confirm(payment_id: int) -> PaymentStatus:
        barrier.wait()
        return service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y").status

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(confirm, drafts))
    assert statuses == [PaymentStatus.AWAITING_APPROVAL, PaymentStatus.SUCCEEDED]
