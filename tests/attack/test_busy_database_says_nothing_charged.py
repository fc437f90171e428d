"""Item 4: "Nothing was charged" is said for a payment that is then charged.

A busy database at the wrong moment of a Confirm: the draft is approved (consent stored, committed),
then the move approved → processing meets a locked SQLite / dropped PostgreSQL connection. Only the
gateway's *answer* is written with retries (`Charging._record_outcome`); this statement is not, so
the OperationalError escapes the action and `@guarded` answers `utter_error_unexpected`: "Sorry,
something went wrong on my side. Nothing was charged — please try again in a moment." The payment
is left `approved`, and the worker's next round after PAYCHAT_APPROVED_CHARGE_DEADLINE_SECONDS
charges it (the consent is younger than 24 h). The user was told nothing was charged, and is
charged. (Trying again, as told, is refused: "You've already answered that summary".)

The action server's real action, the real payments core on the test database, the Stripe sandbox.
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
from tests.actions.conftest import alex, domain, said, service  # noqa: F401
from tests.actions.test_confirming import draft_of, show_summary, status, tap

pytestmark = pytest.mark.sandbox


@contextmanager
def busy_when_charging_starts(service: PaymentsService) -> Iterator[list[str]]:  # noqa: F811
    """Fail the statement that moves a payment to `processing` once, as a locked database does."""
    engine = service.session_factory.kw["bind"]
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError
    failed: list[str] = []

    def refuse(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if (
            not failed
            and statement.lstrip().upper().startswith("UPDATE PAYMENTS")
            and "processing" in str(parameters)
        ):
            failed.append(statement)
            raise OperationalError(statement, parameters, dbapi_error("database is locked"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


async def test_nothing_charged_is_never_said_of_a_payment_that_is_then_charged(
    service: PaymentsService,  # noqa: F811
    domain: dict[str, Any],  # noqa: F811
    alex: str,  # noqa: F811
) -> None:
    summary, slots = await show_summary(
        domain, alex, {"biller": "phone", "amount": "1"}, [{"entity": "biller", "value": "phone"}]
    )
    payment_id = draft_of(summary)

    with busy_when_charging_starts(service) as failed:
        dispatcher, _ = await tap(domain, alex, slots, summary, "Confirm")
    assert failed, "the database was never busy at the charge"
    told = " ".join(said(domain, dispatcher))

    # The worker's round once the approved payment's deadline has passed (payments.worker).
    later = PaymentsService(
        session_factory=service.session_factory,
        gateway=service.gateway,
        config=dataclasses.replace(service.config),
        clock=lambda: utcnow() + service.config.approved_charge_deadline + timedelta(seconds=5),
    )
    later.settle_overdue_payments()
    final = status(service, alex, payment_id)

    assert not ("Nothing was charged" in told and final == "succeeded"), (told, final)
