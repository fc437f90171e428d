"""Settling payments whose outcome is late, lost or never coming (issue 10, items 3 to 5).

Real database (SQLite and PostgreSQL), real localstripe through the stripe SDK. A charge that is
still in flight is played by `HeldGateway`: the sandbox gateway whose charge waits until the test
lets it go, so reconciliation can run while the call is still out. A database that is busy when
the gateway's answer comes back is played by failing the charging thread's statements the way a
locked SQLite or a dropped PostgreSQL connection does (the driver's own OperationalError).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from db.models import AuditLogEntry, Notification, Payment, utcnow
from payments import worker
from payments.demo import VISA_3DS
from payments.gateway import ChargeOutcome, ChargeRequest, PaymentGateway
from payments.service import PaymentsService
from payments.statuses import TERMINAL, NotificationKind, PaymentStatus
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY, SilentServer, sandbox_gateway

pytestmark = pytest.mark.sandbox
P = PaymentStatus


class HeldGateway:
    """The sandbox gateway, except that each charge waits for `release` before it is sent.

    With `lose_answer` the charge is made at the sandbox but its answer never comes back.
    """

    def __init__(self, inner: PaymentGateway, *, lose_answer: bool = False) -> None:
        self.inner = inner
        self.lose_answer = lose_answer
        self.entered = threading.Event()
        self.release = threading.Event()

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        self.entered.set()
        assert self.release.wait(60), "the test never released the charge"
        outcome = self.inner.charge(request)
        if self.lose_answer:
            raise ConnectionResetError("the answer was lost on its way back")
        return outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _service(
    base: PaymentsService,
    *,
    gateway: Any = None,
    shift: timedelta = timedelta(0),
    **config: Any,
) -> PaymentsService:
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=gateway or base.gateway,
        config=dataclasses.replace(base.config, **config),
        clock=lambda: utcnow() + shift,
    )


def _intents(sandbox_url: str, service: PaymentsService, payment_id: int) -> list[Any]:
    """Every PaymentIntent in the sandbox carrying this payment's idempotency key."""
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        key = payment.idempotency_key
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return [
        pi
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("paychat_idempotency_key") == key
    ]


def _notifications(service: PaymentsService, payment_id: int) -> list[Notification]:
    with service.session_factory() as session:
        return list(
            session.execute(
                select(Notification).where(Notification.payment_id == payment_id).order_by(Notification.id)
            ).scalars()
        )


def _audit(service: PaymentsService, payment_id: int) -> list[AuditLogEntry]:
    with service.session_factory() as session:
        return list(
            session.execute(
                select(AuditLogEntry).where(AuditLogEntry.payment_id == payment_id).order_by(AuditLogEntry.id)
            ).scalars()
        )


def _draft(
    service: PaymentsService, card_number: str | None = None, amount_minor: int = 8420
) -> tuple[int, int]:
    extra = {"card_number": card_number} if card_number else {}
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("electricity", amount_minor),), **extra
    )
    summary = service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text=None
    )
    return user_id, summary.payment_id


# --- item 3: reconciliation never fails a charge that may still be in flight -----------------------


def test_reconciliation_leaves_a_charge_in_flight_alone(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    held = HeldGateway(payments_service.gateway)
    slow = _service(payments_service, gateway=held)
    user_id, payment_id = _draft(slow)
    with ThreadPoolExecutor(max_workers=1) as pool:
        confirming = pool.submit(
            slow.confirm_payment, user_id=user_id, payment_id=payment_id, consent_text="y"
        )
        assert held.entered.wait(10)
        # The worker's round runs while the charge call is still out (its answer comes later).
        report = payments_service.reconcile_unknown_payments(older_than=timedelta(0))
        assert payment_id not in report.settled
        assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == P.PROCESSING
        held.release.set()
        result = confirming.result(timeout=60)
    assert result.status == P.SUCCEEDED
    assert len(_intents(stripe_sandbox, payments_service, payment_id)) == 1
    # The bill is paid; nothing reopened it for a second charge meanwhile.
    assert payments_service.open_bills(user_id=user_id) == []


def test_a_late_success_corrects_a_failure_record_with_an_alert(
    payments_service: PaymentsService, stripe_sandbox: str, caplog: pytest.LogCaptureFixture
) -> None:
    held = HeldGateway(payments_service.gateway)
    slow = _service(payments_service, gateway=held)
    user_id, payment_id = _draft(slow)
    # Past the charge's deadline (its timeout plus the grace) the sandbox has nothing under the key.
    later = _service(payments_service, shift=payments_service.config.charge_deadline + timedelta(seconds=5))
    with ThreadPoolExecutor(max_workers=1) as pool:
        confirming = pool.submit(
            slow.confirm_payment, user_id=user_id, payment_id=payment_id, consent_text="y"
        )
        assert held.entered.wait(10)
        report = later.reconcile_unknown_payments(older_than=timedelta(0))
        assert report.settled[payment_id] == P.FAILED
        with caplog.at_level(logging.WARNING, logger="paychat.alerts"):
            held.release.set()
            result = confirming.result(timeout=60)
    assert result.status == P.SUCCEEDED
    assert len(_intents(stripe_sandbox, payments_service, payment_id)) == 1
    corrected = [row for row in _audit(payments_service, payment_id) if row.event == "payment.corrected"]
    assert [(row.from_status, row.to_status) for row in corrected] == [("failed", "succeeded")]
    assert [n.kind for n in _notifications(payments_service, payment_id)][
        -1
    ] == NotificationKind.SUCCEEDED_LATE
    assert any(str(payment_id) in record.getMessage() for record in caplog.records)


def test_reconciliation_finds_a_charge_made_after_it_failed_the_payment(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    held = HeldGateway(payments_service.gateway, lose_answer=True)
    slow = _service(payments_service, gateway=held)
    user_id, payment_id = _draft(slow)
    later = _service(payments_service, shift=payments_service.config.charge_deadline + timedelta(seconds=5))
    with ThreadPoolExecutor(max_workers=1) as pool:
        confirming = pool.submit(
            slow.confirm_payment, user_id=user_id, payment_id=payment_id, consent_text="y"
        )
        assert held.entered.wait(10)
        assert later.reconcile_unknown_payments(older_than=timedelta(0)).settled[payment_id] == P.FAILED
        held.release.set()  # the charge reaches the sandbox now; its answer is lost
        confirming.result(timeout=60)
    assert len(_intents(stripe_sandbox, payments_service, payment_id)) == 1
    # The next round looks again at what it failed and finds the charge.
    report = later.reconcile_unknown_payments(older_than=timedelta(0))
    assert report.settled[payment_id] == P.SUCCEEDED
    result = payments_service.get_payment(user_id=user_id, payment_id=payment_id)
    assert result.status == P.SUCCEEDED and result.payment_intent_id
    assert NotificationKind.SUCCEEDED_LATE in [n.kind for n in _notifications(payments_service, payment_id)]


# --- item 4: a busy database when the answer comes back never loses a charge -----------------------


@contextmanager
def busy_database(service: PaymentsService, gateway: HeldGateway, *, failures: int) -> Iterator[list[int]]:
    """Fail the charging thread's next `failures` statements after its gateway answer, as a locked DB does."""
    engine = service.session_factory.kw["bind"]
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError
    state = {"left": 0, "thread": 0}
    failed: list[int] = []
    charge = gateway.charge

    def answered_then_busy(request: ChargeRequest) -> ChargeOutcome:
        outcome = charge(request)
        state["left"], state["thread"] = failures, threading.get_ident()
        return outcome

    def refuse(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if state["left"] > 0 and threading.get_ident() == state["thread"]:
            state["left"] -= 1
            failed.append(1)
            # What SQLAlchemy raises when the driver reports a locked (or lost) database.
            raise OperationalError(statement, parameters, dbapi_error("database is locked"))

    gateway.charge = answered_then_busy  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def test_an_outcome_is_recorded_once_the_database_is_free_again(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    held = HeldGateway(payments_service.gateway)
    held.release.set()
    slow = _service(payments_service, gateway=held)
    user_id, payment_id = _draft(slow)
    with busy_database(slow, held, failures=3) as failed:
        result = slow.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    assert len(failed) == 3
    assert result.status == P.SUCCEEDED and result.payment_intent_id
    assert len(_intents(stripe_sandbox, payments_service, payment_id)) == 1


def test_an_outcome_that_cannot_be_written_is_never_reported_as_nothing_charged(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    held = HeldGateway(payments_service.gateway)
    held.release.set()
    slow = _service(payments_service, gateway=held)
    user_id, payment_id = _draft(slow)
    with busy_database(slow, held, failures=10_000):
        result = slow.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    # Charged, but not recorded: "we'll tell you", never "declined" or "nothing was charged".
    assert result.status == P.PROCESSING
    assert result.pending_reason == "outcome_not_recorded"
    assert len(_intents(stripe_sandbox, payments_service, payment_id)) == 1
    # The reconciliation round after the deadline finds it through the gateway and tells the user.
    later = _service(payments_service, shift=payments_service.config.charge_deadline + timedelta(seconds=5))
    assert later.reconcile_unknown_payments().settled[payment_id] == P.SUCCEEDED
    assert [n.kind for n in _notifications(payments_service, payment_id)] == [NotificationKind.SUCCEEDED]


def test_an_outcome_told_in_the_turn_waits_in_the_outbox_until_the_reply_is_delivered(
    payments_service: PaymentsService,
) -> None:
    def telegram_user() -> tuple[int, int]:
        user_id, payment_id = _draft(payments_service)
        with payments_service.session_factory.begin() as session:
            from db.models import User

            user = session.get(User, user_id)
            assert user is not None
            user.telegram_user_id = 7_000_000_000 + user_id
        return user_id, payment_id

    delivered_user, delivered = telegram_user()
    lost_user, lost = telegram_user()
    for user_id, payment_id in ((delivered_user, delivered), (lost_user, lost)):
        assert (
            payments_service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y").status
            == P.SUCCEEDED
        )
    pending = {n.payment_id for n in payments_service.pending_notifications(limit=500)}
    assert delivered not in pending and lost not in pending  # held while the turn's reply is on its way
    # The front end delivered the first turn's reply: its held outcome is dropped.
    assert (
        payments_service.acknowledge_turn_outcomes(
            user_id=delivered_user, since=utcnow() - timedelta(minutes=1), payment_ids=[delivered]
        )
        == 1
    )
    after_hold = _service(payments_service, shift=payments_service.config.outcome_hold + timedelta(seconds=1))
    pending = {n.payment_id: n for n in after_hold.pending_notifications(limit=500)}
    assert delivered not in pending
    assert pending[lost].kind == NotificationKind.SUCCEEDED


# --- item 5: every waiting state has a deadline and a way to a final status ------------------------


def test_an_abandoned_3d_secure_challenge_is_cancelled_and_frees_the_bill(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = _draft(payments_service, card_number=VISA_3DS)
    result = payments_service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    assert result.status == P.REQUIRES_ACTION
    assert payments_service.open_bills(user_id=user_id) == []  # reserved while the bank waits
    worker.run_round(payments_service)
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == P.REQUIRES_ACTION
    later = _service(
        payments_service, shift=payments_service.config.authentication_deadline + timedelta(minutes=1)
    )
    worker.run_round(later)
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == P.CANCELLED
    (intent,) = _intents(stripe_sandbox, payments_service, payment_id)
    assert intent.status == "canceled"  # the bank's link can no longer complete it
    assert payments_service.open_bills(user_id=user_id)[0].outstanding.amount_minor == 8420
    assert [n.kind for n in _notifications(payments_service, payment_id)] == [NotificationKind.EXPIRED]


def test_an_approved_payment_left_by_a_crash_is_charged_while_its_consent_holds(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = _draft(payments_service)
    # A crash between approval and charge: approved, never sent to the gateway.
    assert payments_service.charging.approve(user_id, payment_id, "y") == (True, False)
    worker.run_round(payments_service)
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == P.APPROVED
    later = _service(
        payments_service, shift=payments_service.config.approved_charge_deadline + timedelta(seconds=1)
    )
    worker.run_round(later)
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == P.SUCCEEDED
    assert len(_intents(stripe_sandbox, payments_service, payment_id)) == 1
    assert [n.kind for n in _notifications(payments_service, payment_id)] == [NotificationKind.SUCCEEDED]


def test_an_approved_payment_past_its_consent_is_cancelled_and_frees_the_bill(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    user_id, payment_id = _draft(payments_service)
    assert payments_service.charging.approve(user_id, payment_id, "y") == (True, False)
    later = _service(payments_service, shift=payments_service.config.consent_validity + timedelta(minutes=1))
    worker.run_round(later)
    assert payments_service.get_payment(user_id=user_id, payment_id=payment_id).status == P.CANCELLED
    assert _intents(stripe_sandbox, payments_service, payment_id) == []
    assert payments_service.open_bills(user_id=user_id)[0].outstanding.amount_minor == 8420
    assert [n.kind for n in _notifications(payments_service, payment_id)] == [NotificationKind.EXPIRED]


WAITING = [P.DRAFT, P.AWAITING_APPROVAL, P.APPROVED, P.PROCESSING, P.UNKNOWN, P.REQUIRES_ACTION]


def _payment_in(service: PaymentsService, status: PaymentStatus, silent_url: str) -> tuple[int, int]:
    """A fresh user's payment left in `status` the way it happens in production."""
    if status == P.REQUIRES_ACTION:
        user_id, payment_id = _draft(service, card_number=VISA_3DS)
        service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    elif status == P.AWAITING_APPROVAL:
        user_id, payment_id = _draft(service, amount_minor=150_000)
        service.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    elif status == P.UNKNOWN:
        silent = _service(service, gateway=sandbox_gateway(silent_url, timeout_seconds=0.3))
        user_id, payment_id = _draft(service)
        silent.confirm_payment(user_id=user_id, payment_id=payment_id, consent_text="y")
    else:
        user_id, payment_id = _draft(service)
        if status in (P.APPROVED, P.PROCESSING):
            service.charging.approve(user_id, payment_id, "y")
        if status == P.PROCESSING:  # a crash while the charge call was out (it never reached Stripe)
            now = utcnow()
            with service.session_factory.begin() as session:
                session.execute(
                    update(Payment)
                    .where(Payment.id == payment_id)
                    .values(
                        status="processing",
                        charge_started_at=now,
                        charge_deadline_at=now + timedelta(seconds=70),
                    )
                )
    assert service.get_payment(user_id=user_id, payment_id=payment_id).status == status
    return user_id, payment_id


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(states=st.lists(st.sampled_from(WAITING), min_size=1, max_size=4))
def test_after_every_deadline_a_worker_round_leaves_no_payment_waiting(
    payments_service: PaymentsService, silent_server: SilentServer, states: list[PaymentStatus]
) -> None:
    made = [_payment_in(payments_service, status, silent_server.base_url) for status in states]
    config = payments_service.config
    longest = max(
        config.draft_expiry,
        timedelta(hours=config.approval_expiry_hours),
        config.consent_validity,
        config.charge_deadline,
        config.authentication_deadline,
    )
    worker.run_round(_service(payments_service, shift=longest + timedelta(minutes=1)))
    final = {
        payment_id: payments_service.get_payment(user_id=u, payment_id=payment_id).status
        for u, payment_id in made
    }
    assert all(status in TERMINAL for status in final.values()), final
    for user_id, _ in made:  # and nothing is left holding a bill
        assert all(
            b.outstanding.amount_minor == b.amount_due.amount_minor
            for b in payments_service.open_bills(user_id=user_id)
        )


def test_a_scheduled_payment_whose_run_stopped_half_way_is_charged(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    from db.models import ScheduledPayment

    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    summary = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text=None, date_text="in 2 days"
    )
    payments_service.confirm_payment(user_id=user_id, payment_id=summary.payment_id, consent_text="y")
    day = timedelta(days=2, hours=1)
    # On its day the run took the schedule up, then crashed before the charge.
    with payments_service.session_factory.begin() as session:
        session.execute(
            update(ScheduledPayment)
            .where(ScheduledPayment.payment_id == summary.payment_id)
            .values(status="executed", updated_at=utcnow() + day)
        )
    worker.run_round(_service(payments_service, shift=day))  # just taken up: left to that run
    assert payments_service.get_payment(user_id=user_id, payment_id=summary.payment_id).status == P.APPROVED
    worker.run_round(
        _service(
            payments_service,
            shift=day + payments_service.config.approved_charge_deadline + timedelta(seconds=5),
        )
    )
    assert payments_service.get_payment(user_id=user_id, payment_id=summary.payment_id).status == P.SUCCEEDED
    assert len(_intents(stripe_sandbox, payments_service, summary.payment_id)) == 1


def test_a_webhook_for_a_charge_made_after_the_payment_failed_corrects_it(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    held = HeldGateway(payments_service.gateway, lose_answer=True)
    slow = _service(payments_service, gateway=held)
    user_id, payment_id = _draft(slow)
    later = _service(payments_service, shift=payments_service.config.charge_deadline + timedelta(seconds=5))
    with ThreadPoolExecutor(max_workers=1) as pool:
        confirming = pool.submit(
            slow.confirm_payment, user_id=user_id, payment_id=payment_id, consent_text="y"
        )
        assert held.entered.wait(10)
        assert later.reconcile_unknown_payments(older_than=timedelta(0)).settled[payment_id] == P.FAILED
        held.release.set()
        confirming.result(timeout=60)
    (intent,) = _intents(stripe_sandbox, payments_service, payment_id)
    # Stripe's payment_intent.succeeded names the intent, and our key in its metadata.
    assert payments_service.record_webhook_event(
        event_id=f"evt_late_{payment_id}_{intent.id}",
        event_type="payment_intent.succeeded",
        payment_intent_id=intent.id,
        idempotency_key=intent.metadata.to_dict()["paychat_idempotency_key"],
    )
    result = payments_service.get_payment(user_id=user_id, payment_id=payment_id)
    assert result.status == P.SUCCEEDED and result.payment_intent_id == intent.id
    corrected = [row for row in _audit(payments_service, payment_id) if row.event == "payment.corrected"]
    assert len(corrected) == 1 and corrected[0].data["found_by"] == "payment.webhook"
