"""Issue 13 item 8 end to end: console JSON API → paychat channel → Rasa (trained model) → action
server → payments, then the worker's round → localstripe through the stripe SDK → the outbox.

The user sets up an autopay in chat (summary first, then Confirm); a bill arrives within it and the
worker pays it and tells the user (as autopay); a bill over its cap is not paid: the user is asked.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.notify import notification_text
from db.models import Consent, Payment, User
from payments import worker
from payments.service import PaymentsService, build_service
from payments.statuses import NotificationKind
from payments.testusers import TestCard
from rasa_client import AssistantTurn
from tests.helpers.stack import AssistantStack, ConsoleAPI

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _said(turn: AssistantTurn) -> str:
    return "\n".join(reply.text or "" for reply in turn.replies)


def _telegram_test_user(service: PaymentsService) -> int:
    """A fresh test user (sandbox card that succeeds), reachable by the outbox on Telegram."""
    user = service.create_test_user(name="Autopay E2E", card=TestCard.SUCCEEDS, created_by="e2e")
    with service.session_factory.begin() as session:
        row = session.get(User, user.id)
        assert row is not None
        row.telegram_user_id = 7_700_000_000 + user.id
    return user.id


async def test_autopay_set_up_in_chat_pays_a_bill_within_it_and_asks_about_one_over_it(
    assistant_stack: AssistantStack, console_api: ConsoleAPI
) -> None:
    service = build_service(assistant_stack.settings)
    user_id, session = _telegram_test_user(service), "autopay_" + uuid.uuid4().hex[:8]

    async def say(message: str, shown_text: str | None = None) -> AssistantTurn:
        return await console_api.achat(session, message, user_id=user_id, shown_text=shown_text)

    offered = await say("pay my phone bill every month up to 40 € until June")
    [summary] = [reply for reply in offered.replies if reply.buttons]
    text, buttons = summary.text or "", {b.title: b.payload for b in summary.buttons}
    assert "Vodafone" in text and "€40.00" in text and "30 Jun" in text, text
    assert set(buttons) == {"Confirm", "Cancel"}
    confirmed = await say(buttons["Confirm"], shown_text=text)
    assert "Autopay is on" in _said(confirmed), _said(confirmed)
    listed = await say("show my autopays")
    assert "Vodafone" in _said(listed) and "€40.00" in _said(listed), _said(listed)

    due = date.today() + timedelta(days=14)
    within = service.autopay.issue_bill(
        user_id=user_id, biller_name="Vodafone", reference="E2E-" + session, amount_minor=3550, due_date=due
    )
    over = service.autopay.issue_bill(
        user_id=user_id,
        biller_name="Vodafone",
        reference="E2E-over-" + session,
        amount_minor=4500,
        due_date=due,
    )
    worker.run_round(service)

    with service.session_factory() as db:
        [payment] = db.execute(select(Payment).where(Payment.bill_id == within.id)).scalars()
        assert payment.status == "succeeded" and payment.mandate_id is not None and payment.payment_intent_id
        consent = db.execute(select(Consent).where(Consent.payment_id == payment.id)).scalar_one()
        assert consent.receipt is not None and consent.receipt["mandate"]["id"] == payment.mandate_id
        assert db.execute(select(Payment).where(Payment.bill_id == over.id)).first() is None
    notes = [n for n in service.pending_notifications(limit=500) if n.user_id == user_id]
    [told] = [n for n in notes if n.payment_id == payment.id]
    assert told.kind == NotificationKind.SUCCEEDED and "Autopay" in notification_text(told)
    [asked] = [n for n in notes if n.bill_id == over.id and n.kind == NotificationKind.BILL_NEEDS_YOU]
    assert "autopay could not pay" in notification_text(asked) and "€45.00" in notification_text(asked)

    worker.run_round(service)  # nothing more: each bill is decided once
    assert [n.id for n in service.pending_notifications(limit=500) if n.user_id == user_id] == [
        n.id for n in notes
    ]
    stopped = await say("stop paying my phone bill automatically")
    assert "stopped" in _said(stopped), json.dumps([r.text for r in stopped.replies])
