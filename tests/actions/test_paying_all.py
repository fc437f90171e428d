"""Paying everything that is due through the actions (issue 11 item 5): real Trackers, the real
PaymentsService on a fresh SQLite database of its own (a round pays every bill off, which no other
test may see), and the Stripe sandbox.

The actions run in the order the rules run them: pay_all → action_pay_all, action_pay_next_bill;
a Confirm tap → action_confirm_payment, action_pay_next_bill; a Cancel tap or "stop" →
action_stop_payment, action_stop_paying_all. Slots carry over from one action to the next as in Rasa.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.paying import ActionConfirmPayment, ActionPreparePayment, ActionStopPayment
from actions.paying_all import ActionPayAll, ActionPayNextBill, ActionStopPayingAll
from actions.services import reset_services, set_services
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import Payment, SummaryOffer
from payments.config import ServiceConfig
from payments.service import PaymentsService
from tests.actions.conftest import as_rasa_says, make_tracker, slot_events
from tests.actions.test_confirming import draft_of, tap_entities
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import sandbox_gateway

pytestmark = pytest.mark.sandbox


@pytest.fixture
def own_service(stripe_sandbox: str, tmp_path: Path) -> Iterator[PaymentsService]:
    """A PaymentsService on a fresh SQLite database (rounds commit payments), installed for the actions."""
    url = f"sqlite:///{tmp_path / 'pay-all.db'}"
    upgrade(url)
    engine = make_engine(url)
    service = PaymentsService(
        session_factory=make_session_factory(engine),
        gateway=sandbox_gateway(stripe_sandbox),
        config=ServiceConfig(),
    )
    set_services(service)
    yield service
    reset_services()
    engine.dispose()


class Chat:
    """One conversation: runs actions with the slots the earlier ones set, keeps what was shown."""

    def __init__(self, domain: dict[str, Any], sender: str) -> None:
        self.domain = domain
        self.sender = sender
        self.slots: dict[str, Any] = {}

    async def run(
        self,
        action: Action,
        *,
        intent: str = "pay_all",
        text: str = "",
        entities: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Run `action` on the latest message; return what the user reads (as Rasa sends it)."""
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(
            self.sender,
            slots=dict(self.slots),
            intent=intent,
            entities=entities,
            text=text,
            metadata=metadata,
        )
        events = await action.run(dispatcher, tracker, self.domain)
        self.slots.update(slot_events(events))
        return [as_rasa_says(self.domain, message) for message in dispatcher.messages]

    async def turn(self, *actions: Action, **message: Any) -> list[dict[str, Any]]:
        """One user message and the actions the rules run after it, in order."""
        shown: list[dict[str, Any]] = []
        for action in actions:
            shown += await self.run(action, **message)
        return shown

    async def pay_all(self) -> list[dict[str, Any]]:
        return await self.turn(ActionPayAll(), ActionPayNextBill(), intent="pay_all", text="pay all my bills")

    async def tap(self, summary: dict[str, Any], title: str) -> list[dict[str, Any]]:
        """Tap `title` under `summary` (the front end hands back the text it was under)."""
        payload = next(b["payload"] for b in summary["buttons"] if b["title"] == title)
        intent, entities = tap_entities(payload)
        then = ActionPayNextBill() if intent == "affirm" else ActionStopPayingAll()
        first = ActionConfirmPayment() if intent == "affirm" else ActionStopPayment()
        return await self.turn(
            first,
            then,
            intent=intent,
            text=payload,
            entities=entities,
            metadata={"shown_text": summary["text"]},
        )

    async def say_stop(self) -> list[dict[str, Any]]:
        return await self.turn(ActionStopPayment(), ActionStopPayingAll(), intent="stop", text="stop")


def summary_of(shown: list[dict[str, Any]]) -> dict[str, Any]:
    [summary] = [message for message in shown if message.get("buttons")]
    return summary


def texts(shown: list[dict[str, Any]]) -> str:
    return "\n".join(str(message.get("text")) for message in shown)


def payments_of(service: PaymentsService, user_id: int) -> list[Payment]:
    with service.session_factory() as session:
        return list(
            session.execute(select(Payment).where(Payment.user_id == user_id).order_by(Payment.id)).scalars()
        )


def nonce_of(summary: dict[str, Any]) -> str:
    return str(tap_entities(summary["buttons"][0]["payload"])[1][1]["value"])


async def test_two_bills_are_listed_with_the_total_then_paid_in_turn_each_its_own_payment(
    own_service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, bills = make_paying_user(
        own_service.session_factory, own_service.gateway, bills=(("electricity", 1_250), ("phone", 3_400))
    )
    chat = Chat(domain, f"console-{user_id}-pay_all")

    shown = await chat.pay_all()
    listing = texts(shown[:1])
    assert "€12.50" in listing and "€34.00" in listing and "Total: €46.50" in listing
    first = summary_of(shown)
    assert [b["title"] for b in first["buttons"]] == ["Confirm", "Change", "Cancel"]
    assert "€12.50" in first["text"] and chat.slots["paying_all"] is True
    assert chat.slots["pending_payment_id"] == str(draft_of(first))

    shown = await chat.tap(first, "Confirm")
    assert texts(shown).startswith("Done ✅ Paid €12.50")
    second = summary_of(shown)  # the next bill is offered right after the first one's outcome
    assert "€34.00" in second["text"] and draft_of(second) != draft_of(first)
    assert nonce_of(second) != nonce_of(first)

    shown = await chat.tap(second, "Confirm")
    said = texts(shown)
    assert said.startswith("Done ✅ Paid €34.00")
    assert "€12.50 — paid" in said and "€34.00 — paid" in said and "Nothing from the list is left" in said
    assert not chat.slots["paying_all"] and not chat.slots["pay_all_queue"]
    assert not chat.slots["pending_payment_id"]

    paid = payments_of(own_service, user_id)
    assert [p.status for p in paid] == ["succeeded", "succeeded"]
    assert {p.bill_id for p in paid} == set(bills.values())
    assert len({p.idempotency_key for p in paid}) == 2 and len({p.payment_intent_id for p in paid}) == 2
    assert [p.amount_minor for p in paid] == [1_250, 3_400]
    assert own_service.bills_due(user_id=user_id).bills == []


async def test_cancel_midway_ends_the_round_and_leaves_the_rest_unpaid(
    own_service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, bills = make_paying_user(
        own_service.session_factory,
        own_service.gateway,
        bills=(("water", 1_000), ("internet", 2_000), ("rent", 3_000)),
    )
    chat = Chat(domain, f"console-{user_id}-pay_all")
    shown = await chat.pay_all()
    assert "Total: €60.00" in texts(shown[:1])
    first = summary_of(shown)
    second = summary_of(await chat.tap(first, "Confirm"))

    shown = await chat.tap(second, "Cancel")
    said = texts(shown)
    assert "cancelled that payment" in said
    assert "€10.00 — paid" in said and "Still open:" in said and "Left to pay: €50.00" in said
    assert not chat.slots["paying_all"] and not chat.slots["pending_payment_id"]

    payments = payments_of(own_service, user_id)
    by_bill = {p.bill_id: p.status for p in payments if p.status != "cancelled"}
    assert by_bill == {bills["water"]: "succeeded"}
    # The bill after the cancelled one was never even drafted; the cancelled draft is closed.
    assert not [p for p in payments if p.bill_id == bills["rent"]]
    assert {b.id for b in own_service.bills_due(user_id=user_id).bills} == {bills["internet"], bills["rent"]}

    # After the round, Confirm under the cancelled summary charges nothing.
    shown = await chat.run(ActionConfirmPayment(), intent="affirm", **_tap_message(second, "Confirm"))
    assert "charged" not in texts(shown).lower().replace("nothing was charged", "")
    assert [p.status for p in payments_of(own_service, user_id) if p.bill_id == bills["internet"]] == [
        "cancelled"
    ]


def _tap_message(summary: dict[str, Any], title: str) -> dict[str, Any]:
    payload = next(b["payload"] for b in summary["buttons"] if b["title"] == title)
    _, entities = tap_entities(payload)
    return {"text": payload, "entities": entities, "metadata": {"shown_text": summary["text"]}}


async def test_saying_stop_after_the_first_bill_reports_what_was_paid_and_what_is_left(
    own_service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, _ = make_paying_user(
        own_service.session_factory, own_service.gateway, bills=(("gas", 700), ("tv", 900))
    )
    chat = Chat(domain, f"console-{user_id}-pay_all")
    first = summary_of(await chat.pay_all())
    second = summary_of(await chat.tap(first, "Confirm"))
    said = texts(await chat.say_stop())
    assert "€7.00 — paid" in said and "Left to pay: €9.00" in said
    statuses = {p.id: p.status for p in payments_of(own_service, user_id)}
    assert statuses == {draft_of(first): "succeeded", draft_of(second): "cancelled"}


async def test_an_older_summary_in_the_round_moves_nothing_and_the_live_one_stays(
    own_service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, _ = make_paying_user(
        own_service.session_factory, own_service.gateway, bills=(("electricity", 500), ("phone", 600))
    )
    chat = Chat(domain, f"console-{user_id}-pay_all")
    first = summary_of(await chat.pay_all())
    second = summary_of(await chat.tap(first, "Confirm"))
    live = dict(chat.slots)

    # Confirm under the first (used) summary again: nothing more is charged, no bill is skipped.
    shown = await chat.tap(first, "Confirm")
    assert not [m for m in shown if m.get("buttons")]
    assert "already" in texts(shown) and chat.slots == live
    # Cancel under the first summary: refused, the round and the second summary go on.
    shown = await chat.tap(first, "Cancel")
    assert len(shown) == 1 and not shown[0].get("buttons") and chat.slots == live
    # A summary text other than the one shown is no consent.
    await chat.run(
        ActionConfirmPayment(),
        intent="affirm",
        **{**_tap_message(second, "Confirm"), "metadata": {"shown_text": "Pay €0.01 to someone."}},
    )
    assert chat.slots == live
    assert [p.status for p in payments_of(own_service, user_id)] == ["succeeded", "draft"]

    said = texts(await chat.tap(second, "Confirm"))
    assert "€6.00 — paid" in said and "€5.00 — paid" in said
    with own_service.session_factory() as session:
        offers = session.execute(select(SummaryOffer).where(SummaryOffer.user_id == user_id)).scalars().all()
    assert len(offers) == 2 and all(offer.closed_reason == "used" for offer in offers)


async def test_with_no_open_bills_it_says_so_and_starts_no_round(
    own_service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, _ = make_paying_user(own_service.session_factory, own_service.gateway, bills=())
    chat = Chat(domain, f"console-{user_id}-pay_all")
    shown = await chat.pay_all()
    assert texts(shown) == "There's nothing to pay right now — no open bills 🎉"
    assert not chat.slots["paying_all"] and not chat.slots.get("pending_payment_id")
    assert payments_of(own_service, user_id) == []


async def test_a_round_only_offers_the_users_own_open_bills(
    own_service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, _ = make_paying_user(own_service.session_factory, own_service.gateway, bills=(("water", 800),))
    _, others = make_paying_user(own_service.session_factory, own_service.gateway, bills=(("rent", 900),))
    chat = Chat(domain, f"console-{user_id}-pay_all")
    first = summary_of(await chat.pay_all())
    # Someone else's bill slipped into the round's slots is never drafted: the round just ends.
    chat.slots["pay_all_queue"] = [str(others["rent"])]
    said = texts(await chat.tap(first, "Confirm"))
    assert "€8.00 — paid" in said and not chat.slots["paying_all"]
    assert all(p.bill_id != others["rent"] for p in payments_of(own_service, user_id))


async def test_a_corrected_amount_in_the_round_is_its_own_payment_and_in_the_report(
    own_service: PaymentsService, domain: dict[str, Any]
) -> None:
    user_id, bills = make_paying_user(
        own_service.session_factory, own_service.gateway, bills=(("electricity", 4_000), ("phone", 1_000))
    )
    chat = Chat(domain, f"console-{user_id}-pay_all")
    first = summary_of(await chat.pay_all())
    chat.slots["amount"] = "15"
    corrected = summary_of(
        await chat.run(
            ActionPreparePayment(),
            intent="inform",
            text="make it 15",
            entities=[{"entity": "amount", "value": "15"}],
        )
    )
    assert "€15.00" in corrected["text"] and draft_of(corrected) != draft_of(first)
    second = summary_of(await chat.tap(corrected, "Confirm"))
    assert "€10.00" in second["text"]
    said = texts(await chat.tap(second, "Confirm"))
    assert "€15.00 — paid" in said and "€10.00 — paid" in said and "Left to pay: €25.00" in said
    statuses = {p.id: (p.bill_id, p.status) for p in payments_of(own_service, user_id)}
    assert statuses[draft_of(first)] == (bills["electricity"], "cancelled")
    assert statuses[draft_of(corrected)] == (bills["electricity"], "succeeded")
