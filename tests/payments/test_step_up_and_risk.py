"""Issue 13, items 2 and 5: the user's one-time code (step-up) and the risk check.

Every test runs on SQLite and PostgreSQL (the `payments_service` fixture) against the sandbox.
Clocks are moved as in test_safety_controls: a PaymentsService on the same database with another
`clock`. The code is read the way a front end reads it: from the outbox (`pending_codes_for`).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import stripe
from sqlalchemy import select, text

from db.models import AuditLogEntry, Notification, Payment, RiskDecision, StepUpChallenge, utcnow
from payments import step_up as step_up_module
from payments import worker
from payments.audit import verify_audit_chain
from payments.config import RiskConfig
from payments.errors import (
    RiskRefusedError,
    StepUpCodeWrongError,
    StepUpExpiredError,
    StepUpFailedError,
    StepUpLockedError,
    StepUpNotPendingError,
)
from payments.service import PaymentsService
from payments.statuses import NotificationKind, PaymentStatus
from payments.step_up import code_in
from tests.helpers.factories import edge_summary, make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY

pytestmark = pytest.mark.sandbox

STEP_UP = 50_000
NO_RISK = RiskConfig(enabled=False)
# Risk on, with the card-age rule off (every test user's card was added a moment ago).
RISK = RiskConfig(enabled=True, new_card_age=timedelta(0))


def _service(base: PaymentsService, clock: Callable[[], datetime] = utcnow, **config: Any) -> PaymentsService:
    settings: dict[str, Any] = {"step_up_minor": STEP_UP, "risk": NO_RISK, **config}
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=dataclasses.replace(base.config, **settings),
        clock=clock,
    )


def _draft(service: PaymentsService, user_id: int, bill_id: int, amount: str) -> int:
    return service.draft_payment(
        user_id=user_id, bill_id=bill_id, amount_text=amount, date_text=None, render_summary=edge_summary
    ).payment_id


def _confirm(service: PaymentsService, user_id: int, payment_id: int) -> Any:
    return service.confirm_payment(
        user_id=user_id, payment_id=payment_id, consent_text="y", confirmation="yes"
    )


def _code(service: PaymentsService, user_id: int) -> str:
    """The code from the separate message, as the console's chat (or the bot) delivers it."""
    notes = service.pending_codes_for(user_id=user_id)
    assert len(notes) == 1 and notes[0].kind == NotificationKind.STEP_UP_CODE
    assert notes[0].code is not None and len(notes[0].code) == 6 and notes[0].code.isdigit()
    return notes[0].code


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _status(service: PaymentsService, payment_id: int) -> str:
    with service.session_factory() as session:
        return session.get_one(Payment, payment_id, populate_existing=True).status


def _intents(service: PaymentsService, sandbox_url: str, payment_id: int) -> list[str]:
    with service.session_factory() as session:
        key = session.get_one(Payment, payment_id).idempotency_key
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return [
        str(pi.id)
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("paychat_idempotency_key") == key
    ]


def _audit_events(service: PaymentsService, payment_id: int) -> list[str]:
    with service.session_factory() as session:
        return list(
            session.execute(
                select(AuditLogEntry.event)
                .where(AuditLogEntry.payment_id == payment_id)
                .order_by(AuditLogEntry.id)
            ).scalars()
        )


# --- step-up codes -----------------------------------------------------------------------------------


def test_a_large_payment_waits_for_its_code_and_is_paid_once_it_is_typed(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")

    waiting = _confirm(service, user_id, payment_id)

    assert waiting.status == PaymentStatus.DRAFT and waiting.pending_reason == "step_up_code"
    assert waiting.step_up is not None and waiting.step_up.reasons == ("large_amount",)
    assert waiting.step_up.attempts_left == 3
    assert _intents(service, stripe_sandbox, payment_id) == []
    # Confirming again sends no second code and charges nothing.
    assert _confirm(service, user_id, payment_id).pending_reason == "step_up_code"
    code = _code(service, user_id)
    # Whoever asks, the charging code refuses a payment whose code is not verified.
    service.charging.charge(payment_id)
    assert _status(service, payment_id) == "draft" and _intents(service, stripe_sandbox, payment_id) == []

    paid = service.verify_step_up_code(user_id=user_id, code_text=f"my code is {code[:3]} {code[3:]}")

    assert paid.status == PaymentStatus.SUCCEEDED and paid.payment_id == payment_id
    assert len(_intents(service, stripe_sandbox, payment_id)) == 1
    events = _audit_events(service, payment_id)
    assert (
        events.index("step_up.issued") < events.index("step_up.verified") < events.index("consent.recorded")
    )
    assert service.pending_step_up(user_id=user_id) is None


def test_the_charging_code_refuses_an_approved_payment_whose_code_was_never_verified(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    with service.session_factory.begin() as session:  # a bug (or an intruder) approves it directly
        session.get_one(Payment, payment_id).status = PaymentStatus.APPROVED.value

    result = service.charging.charge(payment_id)

    assert result.status == PaymentStatus.APPROVED
    assert _intents(service, stripe_sandbox, payment_id) == []


def test_three_wrong_codes_cancel_the_payment(payments_service: PaymentsService, stripe_sandbox: str) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "700")
    _confirm(service, user_id, payment_id)
    code = _code(service, user_id)

    for left in (2, 1):
        with pytest.raises(StepUpCodeWrongError) as wrong:
            service.verify_step_up_code(user_id=user_id, code_text=_wrong(code))
        assert wrong.value.params["attempts_left"] == left
        assert _status(service, payment_id) == "draft"
    with pytest.raises(StepUpFailedError):
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(code))

    assert _status(service, payment_id) == "cancelled"
    with pytest.raises(StepUpNotPendingError):  # the right code is too late now
        service.verify_step_up_code(user_id=user_id, code_text=code)
    assert _intents(service, stripe_sandbox, payment_id) == []
    events = _audit_events(service, payment_id)
    assert events.count("step_up.wrong_code") == 3 and "step_up.failed" in events


def test_an_expired_code_cancels_the_payment_and_the_worker_tells_the_user(
    payments_service: PaymentsService,
) -> None:
    now = utcnow()
    service = _service(payments_service, clock=lambda: now)
    later = _service(payments_service, clock=lambda: now + timedelta(minutes=10, seconds=1))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    first = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, first)
    code = _code(service, user_id)

    with pytest.raises(StepUpExpiredError):
        later.verify_step_up_code(user_id=user_id, code_text=code)
    assert _status(service, first) == "cancelled"

    second = _draft(service, user_id, bills["rent"], "550")
    _confirm(service, user_id, second)
    worker.run_round(later)
    assert _status(service, second) == "cancelled"
    with service.session_factory() as session:
        kinds = session.execute(select(Notification.kind).where(Notification.payment_id == second)).scalars()
        assert NotificationKind.EXPIRED.value in set(kinds)


def test_the_code_is_compared_in_constant_time(
    payments_service: PaymentsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    _confirm(service, user_id, _draft(service, user_id, bills["rent"], "600"))
    compared: list[tuple[str, str]] = []
    original = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(step_up_module.hmac, "compare_digest", spy)
    with pytest.raises(StepUpCodeWrongError):
        service.verify_step_up_code(user_id=user_id, code_text=_wrong(_code(service, user_id)))
    assert len(compared) == 1 and all(len(side) == 64 for side in compared[0])


def test_the_code_is_kept_only_as_a_keyed_hash_and_never_audited_or_logged(
    payments_service: PaymentsService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    note = service.pending_codes_for(user_id=user_id)[0]
    code = note.code
    assert code is not None

    with service.session_factory() as session:
        raw = session.execute(
            text("SELECT code_hash, code_sealed FROM step_up_challenges WHERE payment_id = :p"),
            {"p": payment_id},
        ).one()
    assert code not in raw.code_hash and raw.code_sealed and code not in raw.code_sealed  # hashed, encrypted
    assert service.mark_notification_sent(notification_id=note.id)
    with service.session_factory() as session:
        assert (
            session.execute(
                select(StepUpChallenge.code_sealed).where(StepUpChallenge.payment_id == payment_id)
            ).scalar_one()
            is None
        )  # delivered: only the hash stays
    assert service.pending_codes_for(user_id=user_id) == []
    service.verify_step_up_code(user_id=user_id, code_text=code)

    with service.session_factory() as session:
        rows = session.execute(select(AuditLogEntry).where(AuditLogEntry.payment_id == payment_id)).scalars()
        assert all(code not in repr(row.data) for row in rows)
        assert verify_audit_chain(session).ok
    assert code not in caplog.text


def test_cancelling_a_payment_closes_its_pending_code(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    code = _code(service, user_id)

    service.cancel_payment(user_id=user_id, payment_id=payment_id)

    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    assert service.pending_codes_for(user_id=user_id) == []  # an undelivered code is never sent


def test_the_code_comes_before_the_staff_second_approval(payments_service: PaymentsService) -> None:
    service = _service(payments_service, second_approval_minor=80_000)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "850")
    assert _confirm(service, user_id, payment_id).pending_reason == "step_up_code"

    result = service.verify_step_up_code(user_id=user_id, code_text=_code(service, user_id))

    assert result.status == PaymentStatus.AWAITING_APPROVAL


def test_code_in_reads_six_digits_only() -> None:
    assert code_in("482913") == "482913"
    assert code_in("code: 482-913 thanks") == "482913"
    assert code_in("4829131") is None and code_in("48291") is None and code_in("pay 100") is None
    assert code_in("482913 or 123456") is None


# --- risk checks -------------------------------------------------------------------------------------


def _decisions(service: PaymentsService, payment_id: int) -> list[RiskDecision]:
    with service.session_factory() as session:
        return list(
            session.execute(select(RiskDecision).where(RiskDecision.payment_id == payment_id)).scalars()
        )


def test_a_new_payee_and_a_large_amount_asks_for_the_code(payments_service: PaymentsService) -> None:
    service = _service(payments_service, risk=RISK)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "300")  # under the step-up amount itself

    waiting = _confirm(service, user_id, payment_id)

    assert waiting.step_up is not None and waiting.step_up.reasons == ("new_payee_large",)
    [decision] = _decisions(service, payment_id)
    assert (decision.decision, decision.score, decision.reasons) == ("step_up", 40, ["new_payee_large"])
    assert "risk.decided" in _audit_events(service, payment_id)
    paid = service.verify_step_up_code(user_id=user_id, code_text=_code(service, user_id))
    assert paid.status == PaymentStatus.SUCCEEDED
    assert len(_decisions(service, payment_id)) == 1  # verifying does not score again


def test_many_attempts_and_an_unusual_amount_are_refused(payments_service: PaymentsService) -> None:
    service = _service(payments_service, risk=dataclasses.replace(RISK, attempts_max=4))
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("water", 90_000), ("gas", 9_000))
    )
    for amount in ("20", "20", "20"):  # the usual: 20.00, three confirmations within minutes
        assert (
            _confirm(service, user_id, _draft(service, user_id, bills["water"], amount)).status == "succeeded"
        )

    payment_id = _draft(service, user_id, bills["water"], "100")
    with pytest.raises(RiskRefusedError) as refused:
        _confirm(service, user_id, payment_id)

    assert set(refused.value.params["reasons"]) == {"amount_above_usual", "rapid_attempts"}
    assert _status(service, payment_id) == "cancelled"
    [decision] = _decisions(service, payment_id)
    assert decision.decision == "refuse" and decision.score == 100
    flagged = service.staff_flagged_decisions()
    assert flagged[0].payment_id == payment_id and flagged[0].decision == "refuse"


def test_a_card_added_minutes_ago_alone_is_allowed_but_recorded(payments_service: PaymentsService) -> None:
    service = _service(payments_service, risk=dataclasses.replace(RISK, new_card_age=timedelta(minutes=30)))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("phone", 9_000),))
    payment_id = _draft(service, user_id, bills["phone"], "30")

    assert _confirm(service, user_id, payment_id).status == PaymentStatus.SUCCEEDED

    [decision] = service.staff_risk_decisions(payment_id=payment_id)
    assert decision.decision == "allow" and decision.reasons == ("new_card",) and decision.score == 30


def test_a_new_card_and_a_new_payee_with_a_large_amount_ask_for_the_code(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service, risk=dataclasses.replace(RISK, new_card_age=timedelta(minutes=30)))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")

    waiting = _confirm(service, user_id, payment_id)

    assert waiting.step_up is not None
    assert waiting.step_up.reasons == ("large_amount", "new_card", "new_payee_large")


def test_forgetting_the_user_closes_their_pending_code(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    code = _code(service, user_id)

    service.forget_user(user_id=user_id)

    with service.session_factory() as session:
        challenge = session.execute(
            select(StepUpChallenge).where(StepUpChallenge.payment_id == payment_id)
        ).scalar_one()
        assert (challenge.status, challenge.confirmation, challenge.code_sealed) == ("cancelled", "", None)
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)


def test_too_many_failed_codes_lock_new_codes_until_the_oldest_failure_leaves_the_window(
    payments_service: PaymentsService,
) -> None:
    start = utcnow()
    service = _service(payments_service, step_up_lock_failures=1, step_up_lock_window=timedelta(hours=2))
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    failed = _draft(service, user_id, bills["rent"], "700")
    _confirm(service, user_id, failed)
    code = _code(service, user_id)
    for _ in range(3):
        with pytest.raises((StepUpCodeWrongError, StepUpFailedError)):
            service.verify_step_up_code(user_id=user_id, code_text=_wrong(code))

    locked = _draft(service, user_id, bills["rent"], "700")
    with pytest.raises(StepUpLockedError) as refused:
        _confirm(service, user_id, locked)

    assert refused.value.code == "step_up_locked" and isinstance(refused.value, RiskRefusedError)
    assert refused.value.params["reasons"] == ["too_many_failed_codes"]
    assert refused.value.params["until"].time_text  # the user is told when they can try again
    assert _status(service, locked) == "cancelled"
    assert "step_up.locked" in _audit_events(service, locked)
    assert service.pending_codes_for(user_id=user_id) == []  # no new code to guess
    small = _draft(service, user_id, bills["rent"], "10")  # a payment that needs no code goes on
    assert _confirm(service, user_id, small).status == PaymentStatus.SUCCEEDED
    # Once the failure is older than the window, a code is asked again.
    later = _service(service, clock=lambda: start + timedelta(hours=3), step_up_lock_failures=1,
                     step_up_lock_window=timedelta(hours=2))  # fmt: skip
    again = _draft(later, user_id, bills["rent"], "700")
    assert _confirm(later, user_id, again).pending_reason == "step_up_code"
