"""/mydata sends the user's data as a JSON file; /forget (after a Yes) anonymizes and deletes.

The real bot against the fake Bot API, the real payments core and transcripts on both databases,
and a Rasa-shaped SQLite tracker store. The assistant is the stand-in: these commands never reach
Rasa. The end-to-end version with the real Rasa stack is in test_e2e_telegram.py.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text

from bot import texts
from bot.handlers import FORGET_CALLBACK
from bot.rights import PersonalDataRights
from bot.services import BotServices
from db.engine import make_session_factory
from db.models import AuditLogEntry, Conversation, Payment, User
from payments.audit import verify_audit_chain
from payments.service import PaymentsService, ServiceConfig
from tests.bot.conftest import ScriptedAssistant, bot_running, bot_settings
from tests.helpers.factories import make_bill, make_biller, make_offline_card, unique
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.sandbox import sandbox_gateway
from transcripts import record_turn
from transcripts.forgetting import tracker_events

NAME = "Jolanda Privatperson"


def _tracker(path: Path, *senders: str) -> None:
    """A tracker store shaped like Rasa's SQLTrackerStore (table `events`), with events for `senders`."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS events"
                " (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, data TEXT)"
            )
        )
        for sender in senders:
            for kind in ("user", "bot"):
                connection.execute(
                    text("INSERT INTO events (sender_id, type_name, data) VALUES (:s, :k, '{}')"),
                    {"s": sender, "k": kind},
                )
    engine.dispose()


def _customer(service: PaymentsService, telegram_id: int) -> tuple[int, int, int]:
    """A Telegram user with a succeeded payment, a draft and one recorded turn; (user, paid, draft)."""
    view = service.ensure_telegram_user(telegram_user_id=telegram_id, name=NAME, language_code="en")
    with service.session_factory.begin() as session:
        user = session.get(User, view.id)
        assert user is not None
        bill = make_bill(session, user=user, biller=make_biller(session, category="water"), amount_minor=4200)
        card = make_offline_card(session, user=user)
        ids = []
        for status in ("succeeded", "draft"):
            payment = Payment(
                user_id=user.id,
                bill_id=bill.id,
                payment_method_id=card.id,
                amount_minor=2100,
                currency="EUR",
                status=status,
                pay_on=date(2026, 12, 1),
                summary_text="Pay €21.00 to water",
                idempotency_key=unique("k"),
            )
            session.add(payment)
            session.flush()
            ids.append(payment.id)
        record_turn(
            session, sender_id=f"tg-{telegram_id}", channel="telegram", user_id=user.id, is_test=False,
            user_text="pay the water bill, I am Jolanda", turn={"replies": [{"text": "Pay €21.00?"}]},
        )  # fmt: skip
    return view.id, ids[0], ids[1]


def _keyboard_message(fake: FakeTelegram, chat: int) -> Any:
    return next(
        (
            m
            for m in reversed(fake.sent_messages(chat))
            if m.get("reply_markup") and m["text"] == texts.FORGET_ASK
        ),
        None,
    )


async def test_mydata_then_forget_no_then_yes(fake: FakeTelegram, db_engine: Engine, tmp_path: Path) -> None:
    telegram_id = 880000 + (hash(str(tmp_path)) % 10000)
    service = PaymentsService(
        session_factory=make_session_factory(db_engine),
        gateway=sandbox_gateway("http://127.0.0.1:9"),
        config=ServiceConfig(demo_mode=False),
    )
    user_id, paid_id, draft_id = _customer(service, telegram_id)
    tracker = tmp_path / "rasa-tracker.db"
    _tracker(tracker, f"tg-{telegram_id}", "tg-someone-else")
    rights = PersonalDataRights(service, service.session_factory, tracker)
    services = BotServices(
        assistant=ScriptedAssistant(), users=service, session_factory=service.session_factory, rights=rights
    )

    async with bot_running(bot_settings(fake), services):
        await fake.send_text(telegram_id, "/mydata")
        await fake.wait_for(lambda: fake.documents)
        [document] = fake.documents.values()
        data = json.loads(document)
        assert data["user"]["name"] == NAME
        assert {p["id"] for p in data["payments"]} == {paid_id, draft_id}
        assert data["conversations"][0]["turns"][0]["you"] == "pay the water bill, I am Jolanda"
        sent = [c for c in fake.calls if c.method == "sendDocument"]
        assert sent and sent[0].params["caption"] == texts.MYDATA_CAPTION

        await fake.send_text(telegram_id, "/forget")
        ask = await fake.wait_for(lambda: _keyboard_message(fake, telegram_id))
        await fake.tap(telegram_id, ask, FORGET_CALLBACK + "no")
        await fake.wait_for(
            lambda: any(m["text"] == texts.FORGET_KEPT for m in fake.sent_messages(telegram_id))
        )
        assert service.telegram_user(telegram_user_id=telegram_id) == user_id

        await fake.send_text(telegram_id, "/forget")
        ask = await fake.wait_for(
            lambda: (m := _keyboard_message(fake, telegram_id)) and m["message_id"] != ask["message_id"] and m
        )
        await fake.tap(telegram_id, ask, FORGET_CALLBACK + "yes")
        await fake.wait_for(
            lambda: any(m["text"] == texts.FORGOTTEN for m in fake.sent_messages(telegram_id))
        )
        # Writing again makes a new, empty user (the bot knows every user who writes): nothing old.
        await fake.send_text(telegram_id, "/mydata")
        await fake.wait_for(lambda: len(fake.documents) == 2)
        fresh = json.loads(list(fake.documents.values())[-1])
        assert fresh["user"]["id"] != user_id and fresh["payments"] == [] and fresh["conversations"] == []
        assert NAME not in json.dumps(fresh)

    with service.session_factory() as session:
        user = session.get(User, user_id)
        assert user is not None and user.name == "" and user.telegram_user_id is None and user.forgotten_at
        assert (
            session.scalar(select(Conversation.id).where(Conversation.sender_id == f"tg-{telegram_id}"))
            is None
        )
        paid, draft = session.get(Payment, paid_id), session.get(Payment, draft_id)
        assert paid is not None and (paid.status, paid.amount_minor) == (
            "succeeded",
            2100,
        )  # kept, anonymized
        assert draft is not None and draft.status == "cancelled"
        events = session.scalars(select(AuditLogEntry.event).where(AuditLogEntry.user_id == user_id)).all()
        assert "user.forgotten" in events
        assert verify_audit_chain(session).ok
    assert tracker_events(tracker, f"tg-{telegram_id}") == 0
    assert tracker_events(tracker, "tg-someone-else") == 2
    assert [c.params["text"] for c in fake.calls if c.method == "sendMessage"].count(texts.FORGOTTEN) == 1
