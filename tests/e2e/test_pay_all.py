"""Issue 11 item 5 end to end: "pay everything that's due" → the list with its total → one summary
per bill, each confirmed on its own. Console JSON API → paychat channel → Rasa (the trained model
and its rules) → action server → payments → localstripe.

The payer is a fresh test user of the stack's database with bills of their own, so paying them
all off changes nothing another test reads (the demo users' bills stay as they were).
"""

from __future__ import annotations

import json
import random
import string
import uuid
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from db.engine import make_session_factory
from payments.demo import VISA_SUCCEEDS, ensure_card
from rasa_client import AssistantTurn
from tests.helpers.factories import make_bill, make_biller, make_user
from tests.helpers.sandbox import sandbox_gateway
from tests.helpers.stack import AssistantStack, ConsoleAPI

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _rows(stack: AssistantStack, sql: str, **params: object) -> list[dict[str, Any]]:
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def _payer(stack: AssistantStack, bills: tuple[tuple[str, int], ...]) -> tuple[int, dict[str, int]]:
    """A fresh test user with a sandbox Visa and these bills (names and references without digits:
    the channel refuses a shown text whose digits could be a card number)."""
    tag = "".join(random.choices(string.ascii_uppercase, k=8))
    engine = create_engine(stack.database_url)
    try:
        session_factory = make_session_factory(engine)
        bill_ids: dict[str, int] = {}
        with session_factory.begin() as session:
            user = make_user(session, name=f"Payer {tag}")
            for category, amount_minor in bills:
                name = f"{category.title()} {tag}"
                biller = make_biller(session, name=name, category=category, aliases=[name.lower()])
                bill = make_bill(
                    session,
                    user=user,
                    biller=biller,
                    amount_minor=amount_minor,
                    reference=f"REF-{category}-{tag}",
                )
                bill_ids[category] = bill.id
            user_id = user.id
        ensure_card(
            session_factory,
            sandbox_gateway(stack.stripe_api_base),
            user_id=user_id,
            card_number=VISA_SUCCEEDS,
        )
        return user_id, bill_ids
    finally:
        engine.dispose()


def _summary(turn: AssistantTurn) -> tuple[str, dict[str, str]]:
    [reply] = [r for r in turn.replies if r.buttons]
    return reply.text or "", {b.title: b.payload for b in reply.buttons}


def _draft_id(payload: str) -> int:
    return int(json.loads(payload[payload.index("{") :])["draft_id"])


def _said(turn: AssistantTurn) -> str:
    return "\n".join(reply.text or "" for reply in turn.replies)


async def test_pay_everything_thats_due_lists_the_total_then_confirms_each_bill_on_its_own(
    assistant_stack: AssistantStack, console_api: ConsoleAPI
) -> None:
    user_id, bills = _payer(assistant_stack, (("electricity", 1_150), ("phone", 2_300)))
    session = "pay_all_" + uuid.uuid4().hex[:8]

    async def say(message: str, shown_text: str | None = None) -> AssistantTurn:
        return await console_api.achat(session, message, user_id=user_id, shown_text=shown_text)

    listed = await say("pay everything that's due")
    assert listed.parse["intent"]["name"] == "pay_all", listed.parse["intent"]
    said = _said(listed)
    assert "€11.50" in said and "€23.00" in said and "Total: €34.50" in said, said
    first_text, first = _summary(listed)
    assert "€11.50" in first_text and set(first) == {"Confirm", "Change", "Cancel"}
    assert (
        _rows(assistant_stack, "SELECT id FROM payments WHERE user_id = :u AND status != 'draft'", u=user_id)
        == []
    )

    paid_first = await say(first["Confirm"], shown_text=first_text)
    assert "Done ✅ Paid €11.50" in _said(paid_first), _said(paid_first)
    second_text, second = _summary(paid_first)
    assert "€23.00" in second_text and _draft_id(second["Confirm"]) != _draft_id(first["Confirm"])

    paid_second = await say(second["Confirm"], shown_text=second_text)
    said = _said(paid_second)
    assert "Done ✅ Paid €23.00" in said and "Nothing from the list is left to pay" in said, said
    assert not [r for r in paid_second.replies if r.buttons]

    rows = _rows(
        assistant_stack,
        "SELECT id, bill_id, status, amount_minor, idempotency_key, payment_intent_id FROM payments "
        "WHERE user_id = :u ORDER BY id",
        u=user_id,
    )
    assert [(r["bill_id"], r["status"], r["amount_minor"]) for r in rows] == [
        (bills["electricity"], "succeeded", 1_150),
        (bills["phone"], "succeeded", 2_300),
    ]
    assert len({r["idempotency_key"] for r in rows}) == 2 and len({r["payment_intent_id"] for r in rows}) == 2

    # A replayed tap of the first Confirm charges nothing more.
    again = await say(first["Confirm"], shown_text=first_text)
    assert "Done" not in _said(again)
    assert len(_rows(assistant_stack, "SELECT id FROM payments WHERE user_id = :u", u=user_id)) == 2


async def test_stop_in_the_middle_says_what_was_paid_and_what_is_left(
    assistant_stack: AssistantStack, console_api: ConsoleAPI
) -> None:
    user_id, bills = _payer(assistant_stack, (("water", 1_000), ("internet", 2_000)))
    session = "pay_all_stop_" + uuid.uuid4().hex[:8]

    async def say(message: str, shown_text: str | None = None) -> AssistantTurn:
        return await console_api.achat(session, message, user_id=user_id, shown_text=shown_text)

    first_text, first = _summary(await say("can you settle all of them"))
    second_text, _ = _summary(await say(first["Confirm"], shown_text=first_text))
    assert "€20.00" in second_text
    stopped = await say("stop")
    said = _said(stopped)
    assert "€10.00 — paid" in said and "Left to pay: €20.00" in said, said
    statuses = _rows(
        assistant_stack, "SELECT bill_id, status FROM payments WHERE user_id = :u ORDER BY id", u=user_id
    )
    assert [(r["bill_id"], r["status"]) for r in statuses] == [
        (bills["water"], "succeeded"),
        (bills["internet"], "cancelled"),
    ]
