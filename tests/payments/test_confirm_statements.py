"""Issue 12: the SQL statements one chat confirmation costs, counted and kept within a budget.

`confirm_shown_summary` of a shown summary (offer, step-up gate, approval with consent, charge,
outcome) on the real database and the sandbox, counted with an SQLAlchemy `before_cursor_execute`
listener (every statement the DBAPI runs, BEGIN IMMEDIATE on SQLite and advisory locks on
PostgreSQL included). Every safety rule still runs: the offer's compare-and-set, the user's and the
bill's row locks, the risk decision, the signed consent and its audit rows, the outbox. Before the
issue 12 cut this confirmation cost 68 statements on SQLite and 69 on PostgreSQL (five
transactions; the payment and the user re-read in each, the audit tail read before every row).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from payments.config import RiskConfig
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import PaymentStatus
from tests.helpers.factories import edge_summary, make_paying_user, unique

pytestmark = pytest.mark.sandbox

# Statements per confirmation that charges at once, by dialect (BEGIN IMMEDIATE is a statement on
# SQLite; PostgreSQL's audit appends take an advisory lock instead). 50, not 49, since attack 17:
# approval sums what the user pays the biller within the step-up period again under the user's lock
# (`StepUp.recheck`), as the gate's sum committed before it may miss a part approved concurrently.
BUDGET = {"sqlite": 50, "postgresql": 50}


@contextmanager
def recorded(engine: Engine) -> Iterator[list[str]]:
    """The SQL the engine runs inside the block, in order."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _confirm_counted(service: PaymentsService, db_engine: Engine) -> list[str]:
    user_id, bills = make_paying_user(service.session_factory, service.gateway)
    conversation = f"tg-{unique('c')}"
    # A first payment to the biller, so the confirmation below is not held by the new-biller time lock.
    for amount_text in ("1", "2"):
        summary = service.prepare_payment(
            user_id=user_id, biller_text=None, bill_id=bills["electricity"], amount_text=amount_text,
            date_text=None, render_summary=edge_summary, conversation=conversation,
        )  # fmt: skip
        with recorded(db_engine) as statements:
            result = service.confirm_shown_summary(
                user_id=user_id, conversation=conversation, payment_id=summary.payment_id,
                nonce=summary.confirm_nonce, shown_text=summary.summary_text, confirmation="/affirm",
            )  # fmt: skip
        assert result.status == PaymentStatus.SUCCEEDED, result
    return statements


def test_a_confirmation_that_charges_stays_within_its_statement_budget(
    payments_service: PaymentsService, db_engine: Engine
) -> None:
    # The checks the deployed default runs (settings: risk check on, step-up codes from 500.00).
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=ServiceConfig(risk=RiskConfig(enabled=True), step_up_minor=50_000),
    )
    statements = _confirm_counted(service, db_engine)
    budget = BUDGET[db_engine.dialect.name]
    listing = "\n".join(f"{n:3} {sql}" for n, sql in enumerate(statements, 1))
    print(f"{len(statements)} statements per confirmation ({db_engine.dialect.name}):\n{listing}")
    assert len(statements) <= budget, listing
