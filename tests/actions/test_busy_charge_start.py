"""A database that stays busy when an approved payment's charge should start (issue 10 item 4).

The move approved → processing is retried like the outcome's recording; when the database stays
busy through every attempt, the Confirm answers "on its way, I'll tell you" (the core's
`charge_not_started` pending reason), never "nothing was charged"; the worker charges it later.
Tapping the used-up Confirm again is worded by the payment's real status, not "nothing more was
charged" while nothing was. Real action, real core on the test database, the Stripe sandbox.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from db.models import utcnow
from payments.service import PaymentsService
from tests.actions.conftest import said
from tests.actions.test_confirming import draft_of, show_summary, status, tap
from tests.helpers.factories import edge_summary, make_paying_user

pytestmark = pytest.mark.sandbox


@contextmanager
def busy_at_every_charge_start(service: PaymentsService) -> Iterator[list[str]]:
    """Fail every statement that moves a payment to `processing`, as a database locked for long does."""
    engine = service.session_factory.kw["bind"]
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError
    failed: list[str] = []

    def refuse(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE PAYMENTS") and "processing" in str(parameters):
            failed.append(statement)
            raise OperationalError(statement, parameters, dbapi_error("database is locked"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


async def test_a_charge_that_cannot_start_is_promised_not_denied_and_the_worker_charges_it(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    summary, slots = await show_summary(
        domain, alex, {"biller": "phone", "amount": "1"}, [{"entity": "biller", "value": "phone"}]
    )
    payment_id = draft_of(summary)

    with busy_at_every_charge_start(service) as failed:
        dispatcher, _ = await tap(domain, alex, slots, summary, "Confirm")
    assert len(failed) == service.config.outcome_write_attempts  # retried, then given up
    [message] = dispatcher.messages
    assert message["response"] == "utter_payment_processing", message
    told = " ".join(said(domain, dispatcher))
    assert "nothing was charged" not in told.lower()
    assert status(service, alex, payment_id) == "approved"
    # Tapping the used-up Confirm again: still under way, so not "nothing (more) was charged".
    dispatcher, _ = await tap(domain, alex, slots, summary, "Confirm")
    assert dispatcher.messages[0]["response"] == "utter_error_confirmation_used_pending"
    assert "charged" not in " ".join(said(domain, dispatcher)).replace("is charged", "")

    later = PaymentsService(
        session_factory=service.session_factory,
        gateway=service.gateway,
        config=dataclasses.replace(service.config),
        clock=lambda: utcnow() + service.config.approved_charge_deadline + timedelta(seconds=5),
    )
    later.settle_overdue_payments()
    assert status(service, alex, payment_id) == "succeeded"


def test_the_core_names_why_an_approved_payment_is_not_charged_yet(service: PaymentsService) -> None:
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("phone", 5_000),))
    draft = service.draft_payment(
        user_id=user_id, bill_id=bills["phone"], amount_text="10", date_text=None, render_summary=edge_summary
    )
    with busy_at_every_charge_start(service):
        result = service.confirm_payment(user_id=user_id, payment_id=draft.payment_id, consent_text="y")
    assert result.status == "approved"
    assert result.pending_reason == "charge_not_started"
