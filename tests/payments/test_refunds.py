"""Staff refunds through the real stripe SDK and localstripe: partial and full, never more than was
charged, once per idempotency key, recorded and audited; and the staff view of a payment."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe
from sqlalchemy import select

from db.models import AuditLogEntry, Refund
from payments.audit import verify_audit_chain
from payments.errors import RefundAmountError, RefundKeyReusedError, RefundNotAllowedError
from payments.gateway import RefundOutcome, RefundOutcomeStatus, RefundRequest
from payments.oversight import PaymentFilter
from payments.service import PaymentsService
from payments.statuses import PaymentStatus, RefundStatus
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY

pytestmark = pytest.mark.sandbox


def _paid(service: PaymentsService, amount_text: str = "40") -> tuple[int, int, str]:
    """A user, their succeeded payment of `amount_text` euros, and its PaymentIntent id."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=amount_text, date_text=None
    )
    result = service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="/affirm")
    assert result.status == PaymentStatus.SUCCEEDED and result.payment_intent_id
    return user_id, summary.payment_id, result.payment_intent_id


def _sandbox_refunds(sandbox_url: str, intent_id: str) -> list[int]:
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return [r.amount for r in client.v1.refunds.list({"payment_intent": intent_id, "limit": 100}).data]


def _key() -> str:
    return f"test-{uuid.uuid4()}"


def test_partial_then_full_refund_never_exceeds_the_charge(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    _, payment_id, intent_id = _paid(payments_service, "40")

    first = payments_service.refund_payment(
        payment_id=payment_id, amount_minor=1500, requested_by="admin", idempotency_key=_key()
    )
    assert first.status == RefundStatus.SUCCEEDED and first.stripe_refund_id
    assert first.amount.amount_minor == 1500

    with pytest.raises(RefundAmountError) as too_much:
        payments_service.refund_payment(
            payment_id=payment_id, amount_minor=2501, requested_by="admin", idempotency_key=_key()
        )
    assert too_much.value.params["refundable"].amount_minor == 2500
    with pytest.raises(RefundAmountError):
        payments_service.refund_payment(
            payment_id=payment_id, amount_minor=0, requested_by="admin", idempotency_key=_key()
        )

    rest = payments_service.refund_payment(
        payment_id=payment_id, amount_minor=None, requested_by="admin", idempotency_key=_key()
    )
    assert rest.status == RefundStatus.SUCCEEDED and rest.amount.amount_minor == 2500
    with pytest.raises(RefundAmountError):
        payments_service.refund_payment(
            payment_id=payment_id, amount_minor=None, requested_by="admin", idempotency_key=_key()
        )
    assert sorted(_sandbox_refunds(stripe_sandbox, intent_id)) == [1500, 2500]

    detail = payments_service.staff_payment_detail(payment_id=payment_id)
    assert detail.refundable.amount_minor == 0 and detail.row.refunded.amount_minor == 4000
    assert [r.amount.amount_minor for r in detail.refunds] == [1500, 2500]
    with payments_service.session_factory() as session:
        events = session.execute(
            select(AuditLogEntry.event)
            .where(AuditLogEntry.payment_id == payment_id)
            .order_by(AuditLogEntry.id)
        ).scalars()
        assert [e for e in events if e.startswith("refund.")] == [
            "refund.requested",
            "refund.succeeded",
            "refund.requested",
            "refund.succeeded",
        ]
        assert verify_audit_chain(session).ok


def test_the_same_key_refunds_once_even_when_asked_concurrently(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    _, payment_id, intent_id = _paid(payments_service, "30")
    key = _key()

    def ask() -> int:
        return payments_service.refund_payment(
            payment_id=payment_id, amount_minor=1000, requested_by="admin", idempotency_key=key
        ).refund_id

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda _: ask(), range(4)))
    assert len(ids) == 1
    assert _sandbox_refunds(stripe_sandbox, intent_id) == [1000]
    with pytest.raises(RefundKeyReusedError):
        payments_service.refund_payment(
            payment_id=payment_id, amount_minor=999, requested_by="admin", idempotency_key=key
        )


def test_concurrent_refunds_with_different_keys_never_exceed_the_charge(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    _, payment_id, intent_id = _paid(payments_service, "30")

    def ask(_: int) -> str:
        try:
            payments_service.refund_payment(
                payment_id=payment_id, amount_minor=1000, requested_by="admin", idempotency_key=_key()
            )
        except RefundAmountError:
            return "refused"
        return "refunded"

    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(ask, range(5)))
    assert outcomes.count("refunded") == 3 and outcomes.count("refused") == 2
    assert sum(_sandbox_refunds(stripe_sandbox, intent_id)) == 3000


def test_only_a_succeeded_payment_is_refundable(payments_service: PaymentsService) -> None:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    draft = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="10", date_text=None
    )
    with pytest.raises(RefundNotAllowedError):
        payments_service.refund_payment(
            payment_id=draft.payment_id, amount_minor=None, requested_by="admin", idempotency_key=_key()
        )


def test_a_pending_refund_is_retried_with_its_key_and_never_doubled(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    """The processor's answer was lost: the refund stays pending (holding its amount); asking again
    with the same key finds the refund the processor made instead of making a second one."""
    _, payment_id, intent_id = _paid(payments_service, "20")
    gateway = payments_service.gateway
    calls: list[RefundRequest] = []

    def lost_answer(request: RefundRequest) -> RefundOutcome:
        calls.append(request)
        gateway.refund(request)  # reaches the processor ...
        return RefundOutcome(status=RefundOutcomeStatus.PENDING)  # ... but the answer is lost

    key = _key()
    original = payments_service.refunds._gateway
    payments_service.refunds._gateway = type("Lossy", (), {"refund": staticmethod(lost_answer)})()  # type: ignore[assignment]
    try:
        pending = payments_service.refund_payment(
            payment_id=payment_id, amount_minor=500, requested_by="admin", idempotency_key=key
        )
    finally:
        payments_service.refunds._gateway = original
    assert pending.status == RefundStatus.PENDING
    with pytest.raises(RefundAmountError):  # the pending 5.00 is held: only 15.00 left
        payments_service.refund_payment(
            payment_id=payment_id, amount_minor=1501, requested_by="admin", idempotency_key=_key()
        )
    again = payments_service.refund_payment(
        payment_id=payment_id, amount_minor=500, requested_by="admin", idempotency_key=key
    )
    assert again.refund_id == pending.refund_id and again.status == RefundStatus.SUCCEEDED
    assert _sandbox_refunds(stripe_sandbox, intent_id) == [500]
    assert len(calls) == 1


def test_staff_list_filters_and_the_detail_shows_consent_audit_and_stripe_object(
    payments_service: PaymentsService,
) -> None:
    user_id, payment_id, intent_id = _paid(payments_service, "12")
    _, other_payment, _ = _paid(payments_service, "13")

    mine = payments_service.staff_payments(flt=PaymentFilter(user_id=user_id))
    assert [row.payment_id for row in mine] == [payment_id]
    succeeded = payments_service.staff_payments(flt=PaymentFilter(status=PaymentStatus.SUCCEEDED), limit=500)
    assert {payment_id, other_payment} <= {row.payment_id for row in succeeded}
    drafts = payments_service.staff_payments(flt=PaymentFilter(status=PaymentStatus.DRAFT), limit=500)
    assert payment_id not in {row.payment_id for row in drafts}
    biller = mine[0].biller_id
    by_biller = payments_service.staff_payments(flt=PaymentFilter(biller_id=biller))
    assert [row.payment_id for row in by_biller] == [payment_id]
    created = mine[0].created_at.date()
    assert payments_service.staff_payments(
        flt=PaymentFilter(user_id=user_id, created_from=created, created_to=created)
    )
    later = created.fromordinal(created.toordinal() + 1)
    assert payments_service.staff_payments(flt=PaymentFilter(user_id=user_id, created_from=later)) == []

    detail = payments_service.staff_payment_detail(payment_id=payment_id)
    assert detail.consent is not None and detail.consent.signature_valid
    assert detail.consent.confirmation == "/affirm"
    assert [a.to_status for a in detail.audit if a.to_status][-1] == "succeeded"
    assert detail.processor_object is not None
    assert detail.processor_object["id"] == intent_id and detail.processor_object["amount"] == 1200
    assert "client_secret" not in detail.processor_object
    assert detail.refundable.amount_minor == 1200
    with payments_service.session_factory() as session:
        assert session.execute(select(Refund).where(Refund.payment_id == payment_id)).first() is None
