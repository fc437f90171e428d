"""Issue 10 items 2 and 9 end to end: console JSON API → paychat channel → Rasa (trained model) →
action server → payments → localstripe through the stripe SDK.

Summary A, a correction, summary B; Confirm tapped under A charges nothing and is answered "out of
date"; Confirm under B charges once. Amounts the gateway would not take never reach a summary.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import stripe
from sqlalchemy import create_engine, text

from payments.demo import ALEX
from rasa_client import AssistantTurn
from tests.helpers.sandbox import SANDBOX_KEY
from tests.helpers.stack import AssistantStack, ConsoleAPI

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _rows(stack: AssistantStack, sql: str, **params: object) -> list[dict[str, Any]]:
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def _alex(stack: AssistantStack) -> int:
    [row] = _rows(stack, "SELECT id FROM users WHERE demo_key = :k", k=ALEX)
    return int(row["id"])


def _intents_of(stack: AssistantStack, payment_ids: set[int]) -> list[str]:
    """Every PaymentIntent in the sandbox made for one of these payments (by the metadata we send)."""
    client = stripe.StripeClient(
        SANDBOX_KEY, base_addresses={"api": stack.stripe_api_base}, max_network_retries=0
    )
    found: list[str] = []
    page = client.v1.payment_intents.list({"limit": 100})
    while True:
        found += [
            pi.id
            for pi in page.data
            if int(pi.metadata.to_dict().get("paychat_payment_id", 0)) in payment_ids
        ]
        if not page.has_more:
            return found
        page = client.v1.payment_intents.list({"limit": 100, "starting_after": page.data[-1].id})


def _summary(turn: AssistantTurn) -> tuple[str, dict[str, str]]:
    """The summary's text and its buttons' payloads by title."""
    [reply] = [r for r in turn.replies if r.buttons]
    return reply.text or "", {b.title: b.payload for b in reply.buttons}


def _draft_id(payload: str) -> int:
    return int(json.loads(payload[payload.index("{") :])["draft_id"])


def _said(turn: AssistantTurn) -> str:
    return "\n".join(reply.text or "" for reply in turn.replies)


async def test_confirm_under_an_older_summary_charges_nothing_then_the_live_one_charges_once(
    assistant_stack: AssistantStack, console_api: ConsoleAPI
) -> None:
    user_id, session = _alex(assistant_stack), "stale_" + uuid.uuid4().hex[:8]

    async def say(message: str, shown_text: str | None = None) -> AssistantTurn:
        return await console_api.achat(session, message, user_id=user_id, shown_text=shown_text)

    a_text, a_buttons = _summary(await say("pay 2 euros to vodafone"))
    b_text, b_buttons = _summary(await say("actually make it 3"))
    assert "€2.00" in a_text and "€3.00" in b_text
    a, b = _draft_id(a_buttons["Confirm"]), _draft_id(b_buttons["Confirm"])
    assert a != b

    stale = await say(a_buttons["Confirm"], shown_text=a_text)  # the tap under summary A

    assert "out of date" in _said(stale) and "nothing was charged" in _said(stale)
    statuses = _rows(assistant_stack, "SELECT id, status FROM payments WHERE id IN (:a, :b)", a=a, b=b)
    assert {row["id"]: row["status"] for row in statuses} == {a: "cancelled", b: "draft"}
    assert _intents_of(assistant_stack, {a, b}) == []

    paid = await say(b_buttons["Confirm"], shown_text=b_text)  # the tap under summary B

    assert "Done" in _said(paid) and "€3.00" in _said(paid)
    [row] = _rows(assistant_stack, "SELECT status, amount_minor FROM payments WHERE id = :b", b=b)
    assert row == {"status": "succeeded", "amount_minor": 300}
    assert len(_intents_of(assistant_stack, {a, b})) == 1

    again = await say(b_buttons["Confirm"], shown_text=b_text)  # a replayed tap
    assert "Done" not in _said(again)
    assert len(_intents_of(assistant_stack, {a, b})) == 1


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("pay 0.30 of the phone bill", "smallest card payment"),
        ("pay minus 20 to vodafone", "zero or less"),
        ("pay -20 to vodafone", "zero or less"),
        ("pay 3000 yen to vodafone", "That bill is in EUR"),
        ("pay $20 to vodafone", "That bill is in EUR"),
        ("pay 2.499 of the phone bill", "more decimals"),
    ],
)
async def test_amounts_the_gateway_would_not_take_are_questioned_not_summarised(
    assistant_stack: AssistantStack, console_api: ConsoleAPI, message: str, answer: str
) -> None:
    user_id, session = _alex(assistant_stack), "amount_" + uuid.uuid4().hex[:8]
    before = _rows(assistant_stack, "SELECT count(*) AS n FROM payments")[0]["n"]
    turn = await console_api.achat(session, message, user_id=user_id)
    assert answer in _said(turn), _said(turn)
    assert not any(reply.buttons and "Confirm" in [b.title for b in reply.buttons] for reply in turn.replies)
    assert _rows(assistant_stack, "SELECT count(*) AS n FROM payments")[0]["n"] == before
