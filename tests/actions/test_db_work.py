"""Database work per action, counted (observability.statements): one payment conversation's turns.

The budgets are what the actions need after the hot-path work of issue 12 (bench/results/profile.md
has the counts before and after); a change that adds statements to a turn fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.bills import ActionCheckBills
from actions.forms import ValidatePayBillForm
from actions.paying import ActionConfirmPayment, ActionPreparePayment
from observability.statements import counting
from payments.service import PaymentsService
from tests.actions.conftest import make_tracker, slot_events

pytestmark = pytest.mark.sandbox

# Statements per action run, after the cuts (and before them, for the record). The summary offer
# (one-time nonce), the period-based approval sum, the charge deadline, the consent receipt and
# its audit row, and the held in-turn outcome (issues 10 and 13) added statements to prepare
# (10 -> 12) and confirm (33 -> 54-55) after the cuts were measured: the budget holds the new level.
BUDGET = {
    "validate_pay_bill_form": 5,  # before: 7 (the sender resolved again by every action)
    "action_prepare_payment": 12,  # before the cuts: 16 (+ the biller matched a second time)
    # before the cuts: 35, with fewer safety checks; 55 before issue 13's step-up gate; 61 before
    # issue 12's confirm cut (the gate in the offer's transaction, no re-read after a transition,
    # the audit tail read once per transaction, the payment and user read once per transaction)
    "action_confirm_payment": 42,
    "action_check_bills": 3,  # before: 10 (one outstanding sum per bill)
}


async def payment_turns(domain: dict[str, Any], sender: str) -> dict[str, int]:
    """'pay my electricity bill' (form validation, then the summary), then Confirm: statements each."""
    said = [{"entity": "biller", "value": "electricity"}]
    asked = make_tracker(
        sender,
        slots={"biller": "electricity", "requested_slot": "biller"},
        entities=said,
        events=[
            {"event": "active_loop", "name": "pay_bill_form"},
            {"event": "user", "text": "pay my electricity bill"},
            {"event": "slot", "name": "biller", "value": "electricity"},
        ],
        active_loop="pay_bill_form",
    )
    counts: dict[str, int] = {}
    with counting() as work:
        validated = slot_events(await ValidatePayBillForm().run(CollectingDispatcher(), asked, domain))
    counts["validate_pay_bill_form"] = work.statements
    # Rasa hands the next action the tracker with the validator's slots applied and its events.
    drafted_from = make_tracker(
        sender,
        slots={"biller": validated["biller"], "bill_id": validated["bill_id"], "amount": "1"},
        entities=said,
        events=[
            {"event": "user", "text": "pay my electricity bill"},
            {"event": "slot", "name": "biller", "value": validated["biller"]},
            {"event": "slot", "name": "bill_id", "value": validated["bill_id"]},
        ],
    )
    with counting() as work:
        drafted = slot_events(await ActionPreparePayment().run(CollectingDispatcher(), drafted_from, domain))
    counts["action_prepare_payment"] = work.statements
    with counting() as work:
        await ActionConfirmPayment().run(
            CollectingDispatcher(), make_tracker(sender, slots=drafted, intent="affirm"), domain
        )
    counts["action_confirm_payment"] = work.statements
    with counting() as work:
        await ActionCheckBills().run(
            CollectingDispatcher(), make_tracker(sender, intent="check_bills"), domain
        )
    counts["action_check_bills"] = work.statements
    return counts


async def test_a_payment_conversation_stays_within_its_statement_budget(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    await payment_turns(domain, alex)  # the process has seen this sender (a user resolves once)
    counts = await payment_turns(domain, alex)
    print("statements per action:", counts)
    assert counts == {name: min(n, BUDGET[name]) for name, n in counts.items()}, (counts, BUDGET)


async def test_statements_of_an_action_run_in_its_worker_thread_are_counted(
    service: PaymentsService, domain: dict[str, Any], alex: str
) -> None:
    with counting() as work:
        await ActionCheckBills().run(CollectingDispatcher(), make_tracker(alex, intent="check_bills"), domain)
    assert work.statements >= 1
