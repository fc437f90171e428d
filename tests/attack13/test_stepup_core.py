"""Attack on issue 13 items 2 and 5 (step-up codes, risk checks) through the real core.

Every test runs on SQLite and PostgreSQL (`payments_service`) against the Stripe sandbox; the code is
read the way a front end reads it (the outbox, `pending_codes_for`). Strict xfails are holes found
on today's code; the others are probes that held ("holds").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Bill, Biller, Payment, StepUpChallenge, User, utcnow
from payments.config import RiskConfig
from payments.errors import (
    RiskRefusedError,
    StepUpCodeWrongError,
    StepUpExpiredError,
    StepUpFailedError,
    StepUpNotPendingError,
)
from payments.service import PaymentsService
from payments.statuses import NotificationKind, PaymentStatus
from tests.helpers.factories import edge_summary, make_paying_user, unique

pytestmark = pytest.mark.sandbox

STEP_UP = 50_000
NO_RISK = RiskConfig(enabled=False)
RISK = RiskConfig(enabled=True, new_card_age=timedelta(0))
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))


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
    notes = [n for n in service.pending_codes_for(user_id=user_id) if n.kind == NotificationKind.STEP_UP_CODE]
    assert notes and notes[-1].code is not None
    return notes[-1].code


def _wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 10**6:06d}"


def _status(service: PaymentsService, payment_id: int) -> str:
    with service.session_factory() as session:
        return session.get_one(Payment, payment_id, populate_existing=True).status


def _attempts(service: PaymentsService, payment_id: int) -> int:
    with service.session_factory() as session:
        return session.execute(
            select(StepUpChallenge.attempts).where(StepUpChallenge.payment_id == payment_id)
        ).scalar_one()


# --- holes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [FULLWIDTH, ARABIC_INDIC], ids=["fullwidth", "arabic_indic"])
def test_stepup_the_right_code_in_unicode_digits_is_accepted(
    payments_service: PaymentsService, stripe_sandbox: str, digits: dict[int, int]
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    assert _confirm(service, user_id, payment_id).pending_reason == "step_up_code"
    code = _code(service, user_id)

    paid = service.verify_step_up_code(user_id=user_id, code_text=code.translate(digits))

    assert paid.status == PaymentStatus.SUCCEEDED


def test_stepup_a_large_amount_split_in_two_still_needs_a_code(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service, risk=RISK)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    for _ in range(2):
        part = _draft(service, user_id, bills["rent"], "190")
        assert _confirm(service, user_id, part).status == PaymentStatus.SUCCEEDED
    third = _draft(service, user_id, bills["rent"], "190")

    result = _confirm(service, user_id, third)

    # 570.00 to one biller in a minute is over the 500.00 step-up threshold: the last part waits.
    assert result.pending_reason == "step_up_code", result


def test_stepup_restarting_payments_to_guess_codes_is_stopped(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service, risk=RISK)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    # The user paid this biller once before (so new_payee_large is not in play, as for any regular biller).
    known = _draft(service, user_id, bills["rent"], "10")
    assert _confirm(service, user_id, known).status == PaymentStatus.SUCCEEDED
    for _ in range(6):
        payment_id = _draft(service, user_id, bills["rent"], "600")
        assert _confirm(service, user_id, payment_id).pending_reason == "step_up_code"
        code = _code(service, user_id)
        for n in (1, 2, 3):
            with pytest.raises((StepUpCodeWrongError, StepUpFailedError)):
                service.verify_step_up_code(user_id=user_id, code_text=_wrong(code, n))
        assert _status(service, payment_id) == "cancelled"

    payment_id = _draft(service, user_id, bills["rent"], "600")
    # After 18 wrong guesses, the next try to pay a large amount is refused (or locked), not re-challenged.
    with pytest.raises(RiskRefusedError):
        _confirm(service, user_id, payment_id)


def _mandate_user(service: PaymentsService) -> tuple[int, str]:
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("phone", 1000),))
    with service.session_factory.begin() as session:
        user = session.get_one(User, user_id)
        user.telegram_user_id = 9_000_000_000 + user_id
        bill = session.get_one(Bill, bills["phone"])
        bill.status = "void"
        return user_id, session.get_one(Biller, bill.biller_id).name


def test_stepup_autopay_cannot_move_a_large_amount_without_any_code(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service, risk=RISK, second_approval_minor=10_000_000)
    user_id, biller = _mandate_user(service)
    offer = service.mandates.propose(
        user_id=user_id, biller_text=biller, cap_text="1000", expiry_text="December", budget_text=None
    )
    service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    bill_id = service.autopay.issue_bill(
        user_id=user_id, biller_name=biller, reference=unique("B"), amount_minor=90_000,
        due_date=date.today() + timedelta(days=10),
    ).id  # fmt: skip

    service.run_mandates()

    with service.session_factory() as session:
        payments = list(session.execute(select(Payment).where(Payment.bill_id == bill_id)).scalars())
        codes = (
            session.execute(select(StepUpChallenge).where(StepUpChallenge.user_id == user_id)).scalars().all()
        )
    charged = [p for p in payments if p.status == PaymentStatus.SUCCEEDED.value]
    # Either the mandate's setup or the large automatic charge must have been proved with a code.
    assert not charged or codes, f"900.00 charged by autopay, {len(codes)} codes ever asked"


# --- probes that held ----------------------------------------------------------------------------


def test_stepup_holds_another_users_payment_id_is_not_pending_for_me(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service)
    victim, vbills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    attacker, _ = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    victim_payment = _draft(service, victim, vbills["rent"], "600")
    _confirm(service, victim, victim_payment)
    code = _code(service, victim)

    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=attacker, code_text=code, payment_id=victim_payment)
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=attacker, code_text=code)
    assert _attempts(service, victim_payment) == 0 and _status(service, victim_payment) == "draft"


def test_stepup_holds_a_verified_code_is_worthless_afterwards(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 190_000),))
    first = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, first)
    code = _code(service, user_id)
    assert service.verify_step_up_code(user_id=user_id, code_text=code).status == PaymentStatus.SUCCEEDED
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    # A second payment gets its own code; the old one (HMAC bound to its payment) does not fit it.
    second = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, second)
    new_code = _code(service, user_id)
    if new_code != code:
        with pytest.raises(StepUpCodeWrongError):
            service.verify_step_up_code(user_id=user_id, code_text=code)


def test_stepup_holds_the_code_is_dead_at_the_exact_expiry_instant(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    start = utcnow()
    service = _service(payments_service, clock=lambda: start)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    code = _code(service, user_id)
    edge = _service(payments_service, clock=lambda: start + service.config.step_up_ttl)

    with pytest.raises(StepUpExpiredError):
        edge.verify_step_up_code(user_id=user_id, code_text=code)
    assert _status(service, payment_id) == "cancelled"
    # Not re-opened by a late Confirm tap on the old summary either.
    try:
        late = _confirm(edge, user_id, payment_id)
        assert late.status == PaymentStatus.CANCELLED, late
    except StepUpNotPendingError:
        pass
    except Exception as refused:  # any refusal (payment not pending) is fine
        assert getattr(refused, "code", None), refused
    assert _status(service, payment_id) == "cancelled"


def test_stepup_holds_a_forgotten_user_gets_no_code_and_it_no_longer_verifies(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    code = _code(service, user_id)

    service.forget_user(user_id=user_id)

    assert not [n for n in service.pending_codes_for(user_id=user_id) if n.code]
    with pytest.raises(StepUpNotPendingError):
        service.verify_step_up_code(user_id=user_id, code_text=code)
    assert _status(service, payment_id) == "cancelled"
    with service.session_factory() as session:
        challenge = session.execute(
            select(StepUpChallenge).where(StepUpChallenge.payment_id == payment_id)
        ).scalar_one()
        assert challenge.code_sealed is None and challenge.status == "cancelled"
