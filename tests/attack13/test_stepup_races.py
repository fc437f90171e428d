"""Attack on issue 13 item 2: racing verifications of one code (both databases, real sandbox).

Probes that held ("holds"): the user's row lock serializes tries, so no 4th guess slips through and
two right codes at once charge once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe
from sqlalchemy import func, select

from db.models import AuditLogEntry, Payment, StepUpChallenge
from payments.errors import PaymentsError
from payments.service import PaymentsService
from tests.attack13.test_stepup_core import _code, _confirm, _draft, _service, _status, _wrong
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY

pytestmark = pytest.mark.sandbox


def _intents(service: PaymentsService, sandbox_url: str, payment_id: int) -> list[str]:
    with service.session_factory() as session:
        key = session.get_one(Payment, payment_id).idempotency_key
    client = stripe.StripeClient(SANDBOX_KEY, base_addresses={"api": sandbox_url}, max_network_retries=0)
    return [
        str(pi.id)
        for pi in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
        if pi.metadata.to_dict().get("paychat_idempotency_key") == key
    ]


def _try(service: PaymentsService, user_id: int, text: str) -> str:
    try:
        return str(service.verify_step_up_code(user_id=user_id, code_text=text).status)
    except PaymentsError as refused:
        return refused.code


def test_stepup_holds_six_racing_wrong_guesses_count_at_most_three(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    code = _code(service, user_id)
    guesses = [_wrong(code, n) for n in range(1, 6)] + [code]  # the right one among them, last

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda text: _try(service, user_id, text), guesses))

    with service.session_factory() as session:
        wrong = session.execute(
            select(func.count()).where(
                AuditLogEntry.payment_id == payment_id, AuditLogEntry.event == "step_up.wrong_code"
            )
        ).scalar_one()
        challenge = session.execute(
            select(StepUpChallenge).where(StepUpChallenge.payment_id == payment_id)
        ).scalar_one()
    assert wrong <= 3 and challenge.attempts <= 3, outcomes
    paid = _status(service, payment_id) == "succeeded"
    # Paid only if the right code came before the third wrong one; then exactly one charge.
    assert paid == (challenge.status == "verified"), (outcomes, challenge.status)
    assert len(_intents(service, stripe_sandbox, payment_id)) == (1 if paid else 0)


def test_stepup_holds_two_racing_right_codes_charge_once(
    payments_service: PaymentsService, stripe_sandbox: str
) -> None:
    service = _service(payments_service)
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("rent", 90_000),))
    payment_id = _draft(service, user_id, bills["rent"], "600")
    _confirm(service, user_id, payment_id)
    code = _code(service, user_id)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda text: _try(service, user_id, text), [code, code]))

    assert sorted(outcomes) == ["step_up_not_pending", "succeeded"], outcomes
    assert len(_intents(service, stripe_sandbox, payment_id)) == 1
