"""transcripts (the package) on SQLite and PostgreSQL: recording, payment status, filters, card scrubbing;
and the transcript pages that render them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from db.models import Bill, Biller, ConversationTurn, Payment, SavedPaymentMethod, StripeCustomer
from tests.console.conftest import Seed, channel_body, login

BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _payment(session: Session, user_id: int) -> int:
    customer = StripeCustomer(user_id=user_id, stripe_customer_id=f"cus_{user_id}")
    biller = Biller(name="Stadtwerke", category="electricity", currency="EUR", aliases=["electricity"])
    session.add_all([customer, biller])
    session.flush()
    card = SavedPaymentMethod(
        user_id=user_id,
        customer_id=customer.id,
        stripe_payment_method_id=f"pm_{user_id}",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
    )
    bill = Bill(
        user_id=user_id,
        biller_id=biller.id,
        reference="E-1",
        amount_due_minor=8420,
        currency="EUR",
        due_date=date(2030, 1, 1),
    )
    session.add_all([card, bill])
    session.flush()
    payment = Payment(
        user_id=user_id,
        bill_id=bill.id,
        payment_method_id=card.id,
        amount_minor=8420,
        currency="EUR",
        status="draft",
        pay_on=date(2030, 1, 1),
        summary_text="Pay",
        idempotency_key=f"k{user_id}",
    )
    session.add(payment)
    session.flush()
    return payment.id


def _record(session: Session, sender: str, user_id: int, said: str, **body: object) -> transcripts.TurnView:
    return transcripts.record_turn(
        session,
        sender_id=sender,
        channel="console",
        user_id=user_id,
        is_test=True,
        user_text=said,
        turn=channel_body(**body),  # type: ignore[arg-type]
    )


@BACKENDS
def test_record_turn_tracks_the_payment_and_its_status_change(
    session_factory: sessionmaker[Session], seed: Seed
) -> None:
    with session_factory.begin() as session:
        payment_id = _payment(session, seed.alex_id)
        first = _record(
            session,
            "console-1-a",
            seed.alex_id,
            "pay my electricity bill",
            intent="pay_bill",
            slots={"pending_payment_id": str(payment_id)},
            events=[
                {"event": "action", "name": "action_pay_bill"},
                {"event": "slot", "name": "pending_payment_id", "value": str(payment_id)},
            ],
        )
        session.execute(update(Payment).where(Payment.id == payment_id).values(status="succeeded"))
        # The confirm turn clears the slot after charging: the previous turn's slots name the payment.
        second = _record(
            session,
            "console-1-a",
            seed.alex_id,
            "/affirm",
            intent="affirm",
            slots={"pending_payment_id": None},
            events=[
                {"event": "action", "name": "action_confirm_payment"},
                {"event": "slot", "name": "pending_payment_id", "value": None},
            ],
        )
        later = _record(session, "console-1-a", seed.alex_id, "thanks", intent="thank", slots={})
    assert (first.seq, first.payment_id, first.payment_status, first.previous_payment_status) == (
        1,
        payment_id,
        "draft",
        None,
    )
    assert (second.seq, second.payment_status, second.previous_payment_status) == (2, "succeeded", "draft")
    assert second.actions == ["action_confirm_payment"]
    assert later.payment_id is None  # the payment is over: later turns are not about it
    with session_factory() as session:
        detail = transcripts.get_conversation(session, first.conversation_id)
    assert detail is not None
    assert [t.payment_status for t in detail.turns] == ["draft", "succeeded", None]
    assert detail.turns[1].previous_payment_status == "draft"
    assert detail.summary.payment_statuses == ["draft", "succeeded"]
    assert detail.summary.user_name == "Alex Demo"


@BACKENDS
def test_card_numbers_never_reach_the_database(session_factory: sessionmaker[Session], seed: Seed) -> None:
    card = "4000 0027 6000 3184"
    with session_factory.begin() as session:
        _record(
            session,
            "tg-100001",
            seed.alex_id,
            f"my card is {card} 12/29",
            intent="inform",
            events=[{"event": "user", "text": f"my card is {card} 12/29", "parse_data": {"text": card}}],
            entities=[{"entity": "amount", "value": card}],
        )
    with session_factory() as session:
        row = session.scalars(select(ConversationTurn)).one()
        stored = repr((row.user_text, row.replies, row.ranking, row.entities, row.slots, row.events))
    assert "3184" not in stored and "4000" not in stored
    assert transcripts.CARD_PLACEHOLDER in row.user_text


@BACKENDS
def test_list_conversations_filters(session_factory: sessionmaker[Session], seed: Seed) -> None:
    with session_factory.begin() as session:
        payment_id = _payment(session, seed.alex_id)
        paid = _record(
            session,
            "console-1-paid",
            seed.alex_id,
            "pay",
            intent="pay_bill",
            confidence=0.95,
            slots={"pending_payment_id": payment_id},
        )
        vague = _record(
            session, "console-2-vague", seed.other_test_id, "hmm", intent="nlu_fallback", confidence=0.3
        )
        live = transcripts.record_turn(
            session,
            sender_id="tg-555",
            channel="telegram",
            user_id=seed.customer_id,
            is_test=False,
            user_text="hello",
            turn=channel_body(intent="greet", confidence=0.55),
        )
    with session_factory() as session:

        def ids(**filters: object) -> set[int]:
            return {c.id for c in transcripts.list_conversations(session, **filters)}  # type: ignore[arg-type]

        everything = {paid.conversation_id, vague.conversation_id, live.conversation_id}
        assert ids() == everything
        assert ids(intent="pay_bill") == {paid.conversation_id}
        assert ids(below_confidence=0.6) == {vague.conversation_id, live.conversation_id}
        assert ids(below_confidence=0.5) == {vague.conversation_id}
        assert ids(fallback_only=True) == {vague.conversation_id}
        assert ids(payment_status="draft") == {paid.conversation_id}
        assert ids(payment_status="succeeded") == set()
        assert ids(user_id=seed.customer_id) == {live.conversation_id}
        assert ids(is_test=False) == {live.conversation_id}
        assert ids(channel="console") == {paid.conversation_id, vague.conversation_id}
        now = datetime.now(UTC)
        assert ids(since=now - timedelta(hours=1), until=now + timedelta(hours=1)) == everything
        assert ids(since=now + timedelta(days=1)) == set()
        assert ids(until=now - timedelta(days=1)) == set()
        summary = next(c for c in transcripts.list_conversations(session) if c.id == vague.conversation_id)
        assert (summary.fallback_count, summary.min_confidence, summary.turn_count) == (1, 0.3, 1)
        assert transcripts.list_intents(session) == ["greet", "nlu_fallback", "pay_bill"]


def test_transcript_pages_filter_and_render_annotations(
    client: TestClient, seed: Seed, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        payment_id = _payment(session, seed.alex_id)
        paid = _record(
            session,
            "console-1-paid",
            seed.alex_id,
            "pay my electricity bill",
            intent="pay_bill",
            text="Pay Stadtwerke 84,20 €?",
            slots={"pending_payment_id": payment_id, "biller": "electricity"},
            buttons=[{"title": "Confirm", "payload": "/affirm"}],
            entities=[{"entity": "biller", "value": "electricity"}],
            events=[{"event": "action", "name": "action_pay_bill"}],
        )
        vague = _record(
            session,
            "console-2-vague",
            seed.other_test_id,
            "hmm <script>",
            intent="nlu_fallback",
            confidence=0.3,
        )
    login(client, "viewer")
    listing = client.get("/transcripts", params={"fallback": "1"})
    assert listing.status_code == 200
    assert f'href="/transcripts/{vague.conversation_id}"' in listing.text
    assert f'href="/transcripts/{paid.conversation_id}"' not in listing.text
    junk = client.get("/transcripts", params={"from": "not-a-date", "threshold": "x", "user_id": "-1"})
    assert junk.status_code == 200
    detail = client.get(f"/transcripts/{paid.conversation_id}")
    assert detail.status_code == 200
    for shown in (
        "pay my electricity bill",
        "Pay Stadtwerke 84,20 €?",
        "Confirm",
        "pay_bill 0.97",
        f"payment #{payment_id}: draft",
        "biller=electricity",
        "action_pay_bill",
    ):
        assert shown in detail.text
    escaped = client.get(f"/transcripts/{vague.conversation_id}")
    assert "hmm &lt;script&gt;" in escaped.text
    api = client.get("/api/transcripts", params={"intent": "pay_bill"}).json()
    assert [c["id"] for c in api] == [paid.conversation_id]
    assert client.get("/api/transcripts", params={"from": "nope"}).status_code == 422
    one = client.get(f"/api/transcripts/{paid.conversation_id}").json()
    assert one["turns"][0]["payment_status"] == "draft"
    assert client.get("/api/transcripts/999").status_code == 404
