"""End to end: real python-telegram-bot (long polling the fake Telegram API), the real Rasa server,
action server, Stripe sandbox and database (the `assistant_stack`).

Each test is a different Telegram user, so each gets its own demo bills (demo mode provisions them
on first contact).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot import texts
from bot.app import build_application
from db.engine import make_engine
from db.models import Consent, Conversation, ConversationTurn, Payment, User
from payments.audit import verify_audit_chain
from payments.config import service_config_from
from payments.consent import verify_receipt
from settings import Settings
from tests.helpers.fake_telegram import FakeTelegram, fake_telegram_server, polling
from tests.helpers.stack import AssistantStack
from transcripts.forgetting import tracker_events

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TURN_WAIT = 90.0  # a cold Rasa turn with an action call and a Stripe charge on 2 shared cores


@pytest.fixture
def engine(assistant_stack: AssistantStack) -> Iterator[Engine]:
    """An engine on the stack's database, for checking what the conversation did."""
    engine = make_engine(assistant_stack.database_url)
    yield engine
    engine.dispose()


def bot_settings(stack: AssistantStack, fake: FakeTelegram, rasa_url: str | None = None) -> Settings:
    """The stack's settings with Telegram pointed at the fake server."""
    return stack.settings.model_copy(
        update={
            "telegram_bot_token": fake.token,
            "telegram_api_base": fake.base_url,
            "redis_url": "",
            "rasa_url": rasa_url or stack.rasa_url,
            "rasa_timeout_seconds": TURN_WAIT,
        }
    )


@asynccontextmanager
async def bot_on(settings: Settings) -> AsyncIterator[Any]:
    """The real bot, with the services it builds itself from settings, long polling."""
    async with polling(build_application(settings)) as application:
        yield application


def button(message: dict[str, Any], title: str) -> str:
    """The callback_data of the button called `title` under a message."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return str(next(b["callback_data"] for row in rows for b in row if b["text"] == title))


def with_keyboard(fake: FakeTelegram, chat_id: int, title: str) -> Any:
    """A predicate: the latest message to the chat that has a button called `title`."""

    def find() -> dict[str, Any] | None:
        for message in reversed(fake.sent_messages(chat_id)):
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if any(b["text"] == title for row in rows for b in row):
                return dict(message)
        return None

    return find


def payments_of(engine: Engine, telegram_user_id: int) -> list[Payment]:
    """The payments of a Telegram user."""
    with Session(engine) as session:
        user_id = session.scalar(select(User.id).where(User.telegram_user_id == telegram_user_id))
        return list(session.scalars(select(Payment).where(Payment.user_id == user_id)))


def user_texts(engine: Engine, telegram_user_id: int) -> list[str]:
    """The user texts of the recorded transcript turns of a Telegram user, in order."""
    with Session(engine) as session:
        query = (
            select(ConversationTurn.user_text)
            .join(Conversation, Conversation.id == ConversationTurn.conversation_id)
            .where(Conversation.sender_id == f"tg-{telegram_user_id}")
            .order_by(ConversationTurn.seq)
        )
        return list(session.scalars(query))


async def summary_for_electricity(fake: FakeTelegram, user: int) -> dict[str, Any]:
    """Ask to pay the electricity bill and return the summary message with Confirm/Cancel."""
    await fake.send_text(user, "pay my electricity bill")
    summary: dict[str, Any] = await fake.wait_for(with_keyboard(fake, user, "Confirm"), TURN_WAIT)
    assert "Stadtwerke" in summary["text"]
    # Cancel (like Confirm) names the draft and its one-time nonce (issue 10 item 2).
    assert button(summary, "Cancel").startswith('/deny{"draft_id":')
    return summary


async def test_a_whole_payment_with_button_taps(assistant_stack: AssistantStack, engine: Engine) -> None:
    user = 555001
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        await fake.send_text(user, "/start")
        await fake.wait_for_messages(user, 1, TURN_WAIT)
        summary = await summary_for_electricity(fake, user)
        confirm = button(summary, "Confirm")
        tapped = await fake.tap(user, summary, confirm)
        paid = lambda: any(p.status == "succeeded" for p in payments_of(engine, user))  # noqa: E731
        await fake.wait_for(paid, TURN_WAIT)
        # Rasa sends a text's paragraphs as separate messages: the receipt is its own message, to keep.
        receipt_sent = lambda: any("🧾 Receipt" in m["text"] for m in fake.sent_messages(user))  # noqa: E731
        await fake.wait_for(receipt_sent, TURN_WAIT)
        sent = fake.sent_messages(user)

    [payment] = payments_of(engine, user)
    assert payment.status == "succeeded"
    assert (payment.payment_intent_id or "").startswith("pi_")
    assert "reply_markup" not in sent[1]  # the Confirm/Cancel keyboard was removed by the tap
    assert any("84" in m["text"] for m in sent[2:])  # the receipt names the amount
    [receipt] = [m["text"] for m in sent[2:] if m["text"].startswith("🧾 Receipt PAY-")]
    assert "Card: Visa •••• 4242" in receipt and "Stadtwerke, bill " in receipt
    assert receipt.endswith(f"Payment provider reference: {payment.payment_intent_id}")
    assert user_texts(engine, user) == ["pay my electricity bill", confirm]
    with Session(engine) as session:  # the consent receipt names the tap that confirmed it
        consent = session.scalars(select(Consent).where(Consent.payment_id == payment.id)).one()
        assert (consent.receipt or {})["callback_id"] == tapped["callback_query"]["id"]
        assert (consent.receipt or {})["tapped_at"]


async def test_a_double_tap_charges_once(assistant_stack: AssistantStack, engine: Engine) -> None:
    user = 555002
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        summary = await summary_for_electricity(fake, user)
        confirm = button(summary, "Confirm")
        await fake.tap(user, summary, confirm)
        await fake.tap(user, summary, confirm)
        await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 2, TURN_WAIT)
        await fake.send_text(user, "/bills")  # processed after both taps (one user, in order)
        await fake.wait_for(lambda: len(user_texts(engine, user)) == 3, TURN_WAIT)

    assert user_texts(engine, user) == ["pay my electricity bill", confirm, "/check_bills"]
    assert [p.status for p in payments_of(engine, user)] == ["succeeded"]
    assert fake.calls_to("answerCallbackQuery")[1].params["text"] == texts.ALREADY_DONE


async def test_a_replayed_update_is_handled_once(
    assistant_stack: AssistantStack, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    user = 555003
    caplog.set_level(logging.INFO, logger="bot.updates")
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        update = await fake.send_text(user, "/bills")
        await fake.wait_for(lambda: len(user_texts(engine, user)) == 1, TURN_WAIT)
        first_delivery = [dict(m) for m in fake.sent_messages(user)]  # sent before the turn is recorded
        await fake.push_update(update)  # the same update_id delivered again

        def settled() -> bool:
            """The replay was skipped, or it made the bot answer again."""
            skipped = f"update {update['update_id']} was delivered again" in caplog.text
            return skipped or len(fake.sent_messages(user)) > len(first_delivery)

        await fake.wait_for(settled, TURN_WAIT)
        await asyncio.sleep(0.5)  # room for a wrongly handled replay to answer anyway
        after_replay = [dict(m) for m in fake.sent_messages(user)]
        await fake.send_text(user, "/history")
        await fake.wait_for(lambda: len(user_texts(engine, user)) == 2, TURN_WAIT)

    assert first_delivery  # /bills was answered
    assert after_replay == first_delivery  # the replay produced no message at all
    assert user_texts(engine, user) == ["/check_bills", "/payment_history"]


async def test_a_card_number_is_deleted_and_never_reaches_rasa_or_the_transcript(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    user = 555004
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        update = await fake.send_text(user, "here is my card 4242 4242 4242 4242 exp 12/29")
        [refusal] = await fake.wait_for_messages(user, 1, TURN_WAIT)
        await fake.send_text(user, "/bills")
        await fake.wait_for(lambda: len(user_texts(engine, user)) == 1, TURN_WAIT)

    assert refusal["text"] == texts.CARD_NUMBER_REFUSED
    assert [c.params["message_id"] for c in fake.calls_to("deleteMessage", user)] == [
        update["message"]["message_id"]
    ]
    # Rasa's tracker saw only /bills: the turn's events hold no other user message.
    assert user_texts(engine, user) == ["/check_bills"]
    with Session(engine) as session:
        stored = session.scalars(select(ConversationTurn.events)).all()
    assert "4242 4242" not in str(stored)


class TcpProxy:
    """A loopback TCP proxy that can be switched off (refusing and cutting connections) and on."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (on the same port as before, after a stop)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every open connection."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def test_rasa_down_then_back(assistant_stack: AssistantStack, engine: Engine) -> None:
    user = 555005
    host, port = assistant_stack.rasa_url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    async with (
        fake_telegram_server() as fake,
        bot_on(bot_settings(assistant_stack, fake, f"http://127.0.0.1:{proxy.port}")),
    ):
        await fake.send_text(user, "/bills")
        await fake.wait_for(lambda: len(user_texts(engine, user)) == 1, TURN_WAIT)

        await proxy.stop()
        await fake.send_text(user, "pay my electricity bill")
        down = await fake.wait_for(with_keyboard(fake, user, texts.TRY_AGAIN), TURN_WAIT)
        assert down["text"] == texts.BRAIN_DOWN

        await proxy.start()
        await fake.tap(user, down, button(down, texts.TRY_AGAIN))
        summary = await fake.wait_for(with_keyboard(fake, user, "Confirm"), TURN_WAIT)
    await proxy.stop()

    assert "Stadtwerke" in summary["text"]
    assert user_texts(engine, user) == ["/check_bills", "pay my electricity bill"]


async def test_action_server_down_then_back(assistant_stack: AssistantStack, engine: Engine) -> None:
    user = 555006
    supervisor = assistant_stack.supervisor
    action_server = assistant_stack.process("action-server")
    spec = action_server.spec
    try:
        async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
            await fake.send_text(user, "/bills")
            await fake.wait_for(lambda: len(user_texts(engine, user)) == 1, TURN_WAIT)

            # Off a worker thread: stopping and health-checking block, and the bot keeps polling.
            await asyncio.to_thread(supervisor.stop, action_server)
            await fake.send_text(user, "pay my electricity bill")
            down = await fake.wait_for(with_keyboard(fake, user, texts.TRY_AGAIN), TURN_WAIT)
            assert down["text"] == texts.BRAIN_DOWN
            assert payments_of(engine, user) == []  # nothing drafted, nothing charged

            await asyncio.to_thread(supervisor.start, spec)
            await fake.tap(user, down, button(down, texts.TRY_AGAIN))
            summary = await fake.wait_for(with_keyboard(fake, user, "Confirm"), TURN_WAIT)
    finally:
        # Later tests need the action server whatever happened above.
        if not any(p.spec.name == spec.name for p in supervisor.running):
            supervisor.start(spec)

    assert "Stadtwerke" in summary["text"]
    assert [p.status for p in payments_of(engine, user)] == ["draft"]  # waiting for Confirm, not charged
    assert user_texts(engine, user) == ["/check_bills", "pay my electricity bill"]


async def test_a_new_summary_retires_the_old_keyboard_and_a_stale_tap_charges_nothing(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    """Summary A → "make it 5" → summary B: A loses its keyboard; a tap still arriving for A (sent
    before the keyboard went) is refused as out of date and nothing is charged; B's tap charges once."""
    user = 555009
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        a = await summary_for_electricity(fake, user)
        await fake.send_text(user, "make it 5")
        latest = with_keyboard(fake, user, "Confirm")
        b = await fake.wait_for(
            lambda: (m := latest()) and m["message_id"] != a["message_id"] and m, TURN_WAIT
        )
        assert "€5.00" in b["text"]
        edits = lambda: fake.calls_to("editMessageReplyMarkup", user)  # noqa: E731
        await fake.wait_for(edits, TURN_WAIT)  # sent right after the new summary
        assert [c.params["message_id"] for c in edits()] == [a["message_id"]]
        assert "reply_markup" not in fake.messages[(user, a["message_id"])]

        await fake.tap(user, a, button(a, "Confirm"))
        await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 1, TURN_WAIT)
        assert fake.calls_to("answerCallbackQuery")[0].params["text"] == texts.SUMMARY_OUT_OF_DATE
        assert sorted(p.status for p in payments_of(engine, user)) == ["cancelled", "draft"]
        assert not any(p.payment_intent_id for p in payments_of(engine, user))

        await fake.tap(user, b, button(b, "Confirm"))
        paid = lambda: any(p.status == "succeeded" for p in payments_of(engine, user))  # noqa: E731
        await fake.wait_for(paid, TURN_WAIT)

    statuses = sorted((p.status, p.amount_minor) for p in payments_of(engine, user))
    assert statuses == [("cancelled", 8420), ("succeeded", 500)]
    assert user_texts(engine, user) == ["pay my electricity bill", "make it 5", button(b, "Confirm")]


async def test_forget_after_a_payment_empties_tracker_and_transcripts(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    """/mydata, then /forget + Yes: tracker and transcripts gone, the payment kept, the evidence verifies."""
    user = 555019
    sender = f"tg-{user}"
    tracker = Path(assistant_stack.process("rasa").spec.env["RASA_TRACKER_DB"])
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        summary = await summary_for_electricity(fake, user)
        confirm = button(summary, "Confirm")
        await fake.tap(user, summary, confirm)
        await fake.wait_for(
            lambda: any(p.status == "succeeded" for p in payments_of(engine, user)), TURN_WAIT
        )
        await fake.wait_for(
            lambda: user_texts(engine, user) == ["pay my electricity bill", confirm], TURN_WAIT
        )
        assert tracker_events(tracker, sender) > 0

        await fake.send_text(user, "/mydata")
        await fake.wait_for(lambda: fake.documents, TURN_WAIT)
        [document] = fake.documents.values()
        assert [p["status"] for p in json.loads(document)["payments"]] == ["succeeded"]

        await fake.send_text(user, "/forget")
        ask = await fake.wait_for(with_keyboard(fake, user, texts.FORGET_YES), TURN_WAIT)
        [payment] = payments_of(engine, user)
        await fake.tap(user, ask, button(ask, texts.FORGET_YES))
        await fake.wait_for(
            lambda: any(m["text"] == texts.FORGOTTEN for m in fake.sent_messages(user)), TURN_WAIT
        )

    assert tracker_events(tracker, sender) == 0
    with Session(engine) as session:
        assert session.scalar(select(Conversation.id).where(Conversation.sender_id == sender)) is None
        forgotten = session.get(User, payment.user_id)
        assert forgotten is not None and forgotten.name == "" and forgotten.telegram_user_id is None
        kept = session.get(Payment, payment.id)
        assert kept is not None and (kept.status, kept.amount_minor) == ("succeeded", payment.amount_minor)
        assert verify_audit_chain(session).ok
        consent_id = session.scalars(select(Consent.id).where(Consent.payment_id == payment.id)).one()
        check = verify_receipt(
            session,
            consent_id=consent_id,
            key=service_config_from(assistant_stack.settings).consent_signing_key,
        )
        assert check is not None and check.ok
