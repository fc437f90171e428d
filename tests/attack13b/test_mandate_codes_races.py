"""Attack on issue 13 (autopay step-up): racing the code against itself and against Cancel, in
threads (real PostgreSQL where the race needs it, the Stripe sandbox for cards).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from db.models import AuditLogEntry, Mandate, MandateConsent
from payments.audit import AUDIT_LOCK_KEY
from payments.errors import PaymentsError
from payments.mandates import MandateStatus, MandateView
from payments.service import PaymentsService
from tests.payments.test_mandate_step_up import Clock, _confirm, _mandate_code, _offer, _service, _user

pytestmark = pytest.mark.sandbox


def _try(service: PaymentsService, user_id: int, code: str) -> str:
    try:
        got = service.verify_step_up_code(user_id=user_id, code_text=code)
        return "live" if isinstance(got, MandateView) else "other"
    except PaymentsError as refused:
        return refused.code


def test_mandate_codes_holds_two_racing_right_codes_sign_once(payments_service: PaymentsService) -> None:
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    offer = _offer(service, user_id, biller, "500")
    view = _confirm(service, user_id, offer)
    code = _mandate_code(service, user_id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: _try(service, user_id, code), range(4)))

    with service.session_factory() as session:
        consented = session.execute(
            select(func.count()).where(
                AuditLogEntry.user_id == user_id, AuditLogEntry.event == "mandate.consented"
            )
        ).scalar_one()
    assert outcomes.count("live") == 1, outcomes
    assert consented == 1
    assert service.mandates.list_mandates(user_id=user_id)[0].id == view.id


def _waiting(engine: Engine, at_least: int) -> None:
    """Until `at_least` other backends wait on a lock (the race is lined up), at most 10 s."""
    for _ in range(200):
        with engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
        if waiting >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("the race did not line up")


def test_mandate_codes_cancel_racing_the_right_code_leaves_a_live_autopay_after_cancelled(
    payments_service: PaymentsService, db_engine: Engine
) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("the interleaving needs PostgreSQL's row locks")
    service = _service(payments_service, Clock())
    user_id, biller, _ = _user(service)
    offer = _offer(service, user_id, biller, "500")
    view = _confirm(service, user_id, offer)
    code = _mandate_code(service, user_id)
    results: dict[str, Any] = {}

    def verify() -> None:
        results["verify"] = _try(service, user_id, code)

    def cancel() -> None:
        try:
            service.mandates.cancel_offer(user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce)
            results["cancel"] = "cancelled"  # the chat then says utter_mandate_offer_cancelled
        except PaymentsError as refused:
            results["cancel"] = refused.code

    # Hold the audit chain's lock: the verify stops right after marking its code verified.
    with db_engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
        first = threading.Thread(target=verify)
        first.start()
        _waiting(db_engine, 1)
        second = threading.Thread(target=cancel)  # the user taps Cancel in the same instant
        second.start()
        _waiting(db_engine, 2)
        holder.rollback()  # let both go on
    first.join(20)
    second.join(20)

    with service.session_factory() as session:
        mandate = session.get_one(Mandate, view.id)
        consent = session.get_one(MandateConsent, offer.offer_id)
    told_cancelled = results.get("cancel") == "cancelled"
    live = mandate.status == MandateStatus.ACTIVE.value
    # Exactly one of the two may win: a live autopay the user was told is cancelled is the hole.
    assert not (told_cancelled and live), (results, mandate.status, consent.closed_reason, consent.signature)
