"""Attack 17 (no hole found): concurrent confirmations after d977d29 (gate in the offer's
transaction, the audit tail read once per transaction, no re-read after a won compare-and-set).

Four payments of one user, each the live summary of its own conversation, confirmed at once from
four threads, each tapped twice: every payment is charged exactly once, the replays say "used", no
database error escapes, and the audit chain has no fork (audit_log.prev_hash is UNIQUE, so a fork
would surface as an IntegrityError) and verifies.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from db.models import Payment
from payments.audit import verify_audit_chain
from payments.errors import PaymentsError
from payments.service import PaymentsService
from tests.helpers.factories import edge_summary, make_paying_user, unique

pytestmark = pytest.mark.sandbox

CATEGORIES = ("electricity", "gas", "water", "phone")


def test_concurrent_confirmations_of_one_users_payments_charge_each_once(
    payments_service: PaymentsService,
) -> None:
    service = payments_service
    user_id, bills = make_paying_user(
        service.session_factory,
        service.gateway,
        bills=tuple((c, 1_000 + i) for i, c in enumerate(CATEGORIES)),
    )
    shown = []
    for category in CATEGORIES:
        conversation = f"tg-{unique('c')}"
        summary = service.prepare_payment(
            user_id=user_id, biller_text=None, bill_id=bills[category], amount_text=None, date_text=None,
            replacing_payment_id=None, render_summary=edge_summary, conversation=conversation,
        )  # fmt: skip
        shown.append((conversation, summary))

    def tap(index: int) -> tuple[int, str]:
        conversation, summary = shown[index % len(shown)]
        try:
            result = service.confirm_shown_summary(
                user_id=user_id, conversation=conversation, payment_id=summary.payment_id,
                nonce=summary.confirm_nonce, shown_text=summary.summary_text,
            )  # fmt: skip
            return summary.payment_id, str(result.status)
        except PaymentsError as error:
            return summary.payment_id, error.code

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(tap, range(2 * len(shown))))
    for _, summary in shown:
        mine = sorted(outcome for payment_id, outcome in outcomes if payment_id == summary.payment_id)
        assert mine == ["confirmation_used", "succeeded"], outcomes
    with service.session_factory() as session:
        ids = [summary.payment_id for _, summary in shown]
        intents = (
            session.execute(select(Payment.payment_intent_id).where(Payment.id.in_(ids))).scalars().all()
        )
        assert len(set(intents)) == len(ids) and all(intents)
        verification = verify_audit_chain(session)
    assert verification.ok, verification.problems
