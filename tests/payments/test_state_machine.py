"""Property-based tests of the payment state machine, on both databases, with a scripted gateway.

Hypothesis drives random interleavings of draft / confirm (with any gateway outcome) / cancel /
reconcile / refresh. Whatever happens: each payment is charged at most once, statuses move only
along DESIGN.md's arrows (read back from the audit log), a bill is never overpaid, and the audit
chain verifies.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, select

from db.engine import make_session_factory
from db.models import AuditLogEntry, Bill, Payment
from payments.audit import verify_audit_chain
from payments.errors import PaymentsError
from payments.gateway import (
    CardDetails,
    ChargeOutcome,
    ChargeRequest,
    ChargeStatus,
    SandboxControls,
    WebhookEvent,
)
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import TRANSITIONS, PaymentStatus
from tests.helpers.factories import make_bill, make_biller, make_offline_card, make_user


class ScriptedGateway:
    """A PaymentGateway whose next answers the test chooses; it counts every charge per key."""

    def __init__(self) -> None:
        self.next_charge = ChargeOutcome(status=ChargeStatus.SUCCEEDED)
        self.charges: Counter[str] = Counter()
        self.at_processor: dict[str, ChargeOutcome] = {}
        self.settle_to = ChargeStatus.SUCCEEDED

    def create_customer(self, *, name: str, user_id: int, idempotency_key: str) -> str:
        return f"cus_{user_id}"

    def customer_exists(self, customer_id: str) -> bool:
        return True

    def add_test_card(self, *, customer_id: str, card_number: str, idempotency_key: str) -> CardDetails:
        raise NotImplementedError

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        idempotency_key = request.idempotency_key
        self.charges[idempotency_key] += 1
        outcome = self.next_charge
        if outcome.status == ChargeStatus.NOT_FOUND:
            raise ConnectionError("the gateway blew up mid-request")
        intent = f"pi_{idempotency_key}"
        if outcome.status != ChargeStatus.UNKNOWN or self.settle_to != ChargeStatus.NOT_FOUND:
            self.at_processor[idempotency_key] = ChargeOutcome(
                status=outcome.status, payment_intent_id=intent
            )
        if outcome.status == ChargeStatus.UNKNOWN:
            return ChargeOutcome(status=ChargeStatus.UNKNOWN)
        return ChargeOutcome(
            status=outcome.status,
            payment_intent_id=intent,
            failure_code="card_declined" if outcome.status == ChargeStatus.FAILED else None,
            failure_message="declined" if outcome.status == ChargeStatus.FAILED else None,
            next_action_url="https://bank.example/3ds"
            if outcome.status == ChargeStatus.REQUIRES_ACTION
            else None,
        )

    def find_charge(self, *, idempotency_key: str, customer_id: str) -> ChargeOutcome:
        known = self.at_processor.get(idempotency_key)
        if known is None:
            return ChargeOutcome(status=ChargeStatus.NOT_FOUND)
        return self._settled(known)

    def retrieve_charge(self, payment_intent_id: str) -> ChargeOutcome:
        for outcome in self.at_processor.values():
            if outcome.payment_intent_id == payment_intent_id:
                return self._settled(outcome)
        return ChargeOutcome(status=ChargeStatus.UNKNOWN)

    def parse_webhook(self, payload: bytes, signature: str, secret: str) -> WebhookEvent:
        raise NotImplementedError

    def sandbox_controls(self) -> SandboxControls | None:
        return None

    def _settled(self, outcome: ChargeOutcome) -> ChargeOutcome:
        if outcome.status in (ChargeStatus.UNKNOWN, ChargeStatus.REQUIRES_ACTION):
            status = self.settle_to if self.settle_to != ChargeStatus.NOT_FOUND else ChargeStatus.UNKNOWN
            return ChargeOutcome(status=status, payment_intent_id=outcome.payment_intent_id)
        return outcome


OUTCOMES = st.sampled_from(
    [
        ChargeStatus.SUCCEEDED,
        ChargeStatus.FAILED,
        ChargeStatus.REQUIRES_ACTION,
        ChargeStatus.UNKNOWN,
        ChargeStatus.NOT_FOUND,
    ]
)
SETTLEMENTS = st.sampled_from([ChargeStatus.SUCCEEDED, ChargeStatus.FAILED, ChargeStatus.NOT_FOUND])


@pytest.mark.parametrize("examples", [25])
def test_state_machine_invariants(db_engine: Engine, examples: int) -> None:
    session_factory = make_session_factory(db_engine)

    class PaymentMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.gateway = ScriptedGateway()
            self.service = PaymentsService(
                session_factory=session_factory,
                gateway=self.gateway,
                config=ServiceConfig(confirm_wait=timedelta(0)),
            )
            self.payment_ids: list[int] = []

        @initialize(amount=st.integers(min_value=1, max_value=50_000))
        def create_bill(self, amount: int) -> None:
            with session_factory.begin() as session:
                user = make_user(session)
                make_offline_card(session, user=user)
                bill = make_bill(session, user=user, biller=make_biller(session), amount_minor=amount)
                self.user_id, self.bill_id, self.bill_amount = user.id, bill.id, amount

        @rule(cents=st.integers(min_value=1, max_value=60_000) | st.none())
        def draft(self, cents: int | None) -> None:
            text = None if cents is None else f"{cents // 100}.{cents % 100:02d}"
            try:
                summary = self.service.draft_payment(
                    user_id=self.user_id, bill_id=self.bill_id, amount_text=text, date_text=None
                )
            except PaymentsError as error:
                refused = {
                    "amount_above_outstanding",
                    "amount_not_positive",
                    "amount_below_minimum",
                    "bill_not_found",
                }
                assert error.code in refused
            else:
                self.payment_ids.append(summary.payment_id)

        @rule(data=st.data(), outcome=OUTCOMES)
        def confirm(self, data: st.DataObject, outcome: ChargeStatus) -> None:
            if not self.payment_ids:
                return
            payment_id = data.draw(st.sampled_from(self.payment_ids))
            self.gateway.next_charge = ChargeOutcome(status=outcome)
            try:
                self.service.confirm_payment(user_id=self.user_id, payment_id=payment_id, consent_text="yes")
            except PaymentsError as error:
                assert error.code in {"amount_above_outstanding", "bill_not_found", "limit_daily"}

        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            if not self.payment_ids:
                return
            payment_id = data.draw(st.sampled_from(self.payment_ids))
            try:
                self.service.cancel_payment(user_id=self.user_id, payment_id=payment_id)
            except PaymentsError as error:
                assert error.code == "payment_not_pending"

        @rule(settle=SETTLEMENTS)
        def reconcile(self, settle: ChargeStatus) -> None:
            self.gateway.settle_to = settle
            self.service.reconcile_unknown_payments(older_than=timedelta(0))

        @rule(data=st.data(), settle=SETTLEMENTS)
        def refresh(self, data: st.DataObject, settle: ChargeStatus) -> None:
            if not self.payment_ids:
                return
            self.gateway.settle_to = settle
            self.service.refresh_payment(
                user_id=self.user_id, payment_id=data.draw(st.sampled_from(self.payment_ids))
            )

        @invariant()
        def charged_at_most_once(self) -> None:
            assert all(count == 1 for count in self.gateway.charges.values())

        @invariant()
        def bill_never_overpaid_and_status_consistent(self) -> None:
            if not hasattr(self, "bill_id"):
                return
            with session_factory() as session:
                payments = (
                    session.execute(select(Payment).where(Payment.bill_id == self.bill_id)).scalars().all()
                )
                paid = sum(p.amount_minor for p in payments if p.status == "succeeded")
                assert paid <= self.bill_amount
                bill = session.get(Bill, self.bill_id)
                assert bill is not None
                assert (bill.status == "paid") == (paid == self.bill_amount)

        @invariant()
        def only_allowed_transitions(self) -> None:
            if not self.payment_ids:
                return
            with session_factory() as session:
                rows = session.execute(
                    select(AuditLogEntry.payment_id, AuditLogEntry.from_status, AuditLogEntry.to_status)
                    .where(AuditLogEntry.payment_id.in_(self.payment_ids))
                    .where(AuditLogEntry.to_status.is_not(None))
                    .order_by(AuditLogEntry.id)
                ).all()
                current = {row.payment_id: session.get(Payment, row.payment_id).status for row in rows}  # type: ignore[union-attr]
            history: dict[int, list[str]] = {}
            for payment_id, from_status, to_status in rows:
                chain = history.setdefault(payment_id, [])
                assert (from_status is None) == (not chain)
                if chain:
                    assert from_status == chain[-1]
                chain.append(to_status)
            for payment_id, chain in history.items():
                assert chain[0] == "draft"
                for before, after in pairwise(chain):
                    assert PaymentStatus(after) in TRANSITIONS[PaymentStatus(before)]
                assert chain[-1] == current[payment_id]

    run_state_machine_as_test(
        PaymentMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    with session_factory() as session:
        assert verify_audit_chain(session).ok


class SlowGateway(ScriptedGateway):
    """Answers slowly, so racing callers overlap inside the charge."""

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        import time

        time.sleep(0.2)
        return super().charge(request)


def test_racing_chargers_of_one_approved_payment_charge_once(db_engine: Engine) -> None:
    """Two workers picking the same approved payment: the approved → processing CAS lets one through."""
    from concurrent.futures import ThreadPoolExecutor

    session_factory = make_session_factory(db_engine)
    gateway = SlowGateway()
    service = PaymentsService(session_factory=session_factory, gateway=gateway, config=ServiceConfig())
    with session_factory.begin() as session:
        user = make_user(session)
        make_offline_card(session, user=user)
        bill = make_bill(session, user=user, biller=make_biller(session), amount_minor=1000)
        user_id, bill_id = user.id, bill.id
    summary = service.draft_payment(user_id=user_id, bill_id=bill_id, amount_text=None, date_text=None)
    approved, scheduled = service.charging.approve(user_id, summary.payment_id, "yes")
    assert approved and not scheduled
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: service.charging.charge(summary.payment_id), range(8)))
    assert sum(gateway.charges.values()) == 1
    assert {r.status for r in results} <= {PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED}
    assert (
        service.get_payment(user_id=user_id, payment_id=summary.payment_id).status == PaymentStatus.SUCCEEDED
    )
