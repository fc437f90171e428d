"""Issue 15, item 4: a user who blocked the bot is unreachable until they come back; nothing is lost.

The real bot (PTB long polling the fake Telegram server) and the real payments service on the test
database and the sandbox. Blocking is seen two ways: Telegram's `my_chat_member` update (the bot
was "kicked") or a 403 Forbidden answer to a message. While blocked, the outbox holds the user's
notification unsent and the notifier does not retry it; unblocking (`my_chat_member` → member) or
writing again releases it, and it is delivered once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.services import BotServices
from db.models import AuditLogEntry, Conversation, Notification, User
from payments.service import PaymentsService
from tests.bot.conftest import ScriptedAssistant, bot_running, bot_settings
from tests.bot.test_notifications import BlockingTelegram, _approving_service, _awaiting_approval
from tests.helpers.fake_telegram import FakeTelegram

ROUND_SECONDS = 0.1


def _services(service: PaymentsService) -> BotServices:
    """The bot on the real payments service: it is both the user directory and the outbox."""
    return BotServices(
        assistant=ScriptedAssistant(),
        users=service,
        session_factory=None,
        notifications=service,
    )


def _unreachable_since(service: PaymentsService, telegram_id: int) -> Any:
    with service.session_factory() as session:
        return session.scalar(
            select(User.telegram_unreachable_since).where(User.telegram_user_id == telegram_id)
        )


def _unsent(service: PaymentsService, payment_id: int) -> list[Notification]:
    with service.session_factory() as session:
        query = select(Notification).where(
            Notification.payment_id == payment_id, Notification.sent_at.is_(None)
        )
        return list(session.scalars(query))


def _audit_events(service: PaymentsService, telegram_id: int) -> list[str]:
    with service.session_factory() as session:
        user_id = session.scalar(select(User.id).where(User.telegram_user_id == telegram_id))
        query = select(AuditLogEntry.event).where(AuditLogEntry.user_id == user_id).order_by(AuditLogEntry.id)
        return [e for e in session.scalars(query) if e.startswith("user.telegram")]


async def test_blocking_holds_notifications_and_unblocking_delivers_them_once(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    service = _approving_service(payments_service)
    telegram_id, payment_id = await asyncio.to_thread(_awaiting_approval, service)
    settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
    async with bot_running(settings, _services(service)):
        await fake.member_status(telegram_id, "member", "kicked")
        await fake.wait_for(lambda: _unreachable_since(service, telegram_id) is not None)

        await asyncio.to_thread(service.approve_payment, payment_id=payment_id, approver="staff:ana")
        await asyncio.sleep(15 * ROUND_SECONDS)
        assert fake.calls_to("sendMessage", telegram_id) == []  # not even tried while blocked
        assert len(await asyncio.to_thread(_unsent, service, payment_id)) == 1  # kept, not lost

        await fake.member_status(telegram_id, "kicked", "member")
        [told] = await fake.wait_for_messages(telegram_id, 1)
        await asyncio.sleep(10 * ROUND_SECONDS)

    assert "went through" in told["text"] and "€84.20" in told["text"]
    assert len(fake.calls_to("sendMessage", telegram_id)) == 1
    assert _unreachable_since(service, telegram_id) is None
    assert await asyncio.to_thread(_unsent, service, payment_id) == []
    assert _audit_events(service, telegram_id) == ["user.telegram_unreachable", "user.telegram_reachable"]


async def test_a_403_stops_the_retries_and_writing_again_delivers_the_notification(
    payments_service: PaymentsService,
) -> None:
    service = _approving_service(payments_service)
    telegram_id, payment_id = await asyncio.to_thread(_awaiting_approval, service)
    await asyncio.to_thread(service.reject_payment, payment_id=payment_id, approver="a", reason="x")
    fake = BlockingTelegram()  # 403 Forbidden: bot was blocked by the user
    fake.blocked.add(telegram_id)
    await fake.start()
    try:
        settings = bot_settings(fake, TELEGRAM_NOTIFY_INTERVAL_SECONDS=str(ROUND_SECONDS))
        async with bot_running(settings, _services(service)):
            await fake.wait_for(lambda: _unreachable_since(service, telegram_id) is not None)
            await asyncio.sleep(15 * ROUND_SECONDS)
            assert len(fake.calls_to("sendMessage", telegram_id)) == 1  # one refusal, then no retries
            assert len(await asyncio.to_thread(_unsent, service, payment_id)) == 1

            fake.blocked.clear()
            await fake.send_text(telegram_id, "hello again")  # writing again: reachable
            messages = await fake.wait_for_messages(telegram_id, 2)
            await asyncio.sleep(10 * ROUND_SECONDS)
    finally:
        await fake.stop()

    texts = [m["text"] for m in fake.sent_messages(telegram_id)]
    assert "echo: hello again" in texts
    assert sum("was not approved, nothing was charged" in t for t in texts) == 1, messages
    assert _unreachable_since(service, telegram_id) is None
    assert await asyncio.to_thread(_unsent, service, payment_id) == []


async def test_a_403_to_a_reply_marks_the_user_unreachable_without_an_apology(
    payments_service: PaymentsService,
) -> None:
    service = _approving_service(payments_service)
    telegram_id, _ = await asyncio.to_thread(_awaiting_approval, service)
    fake = BlockingTelegram()
    await fake.start()
    try:
        async with bot_running(bot_settings(fake), _services(service)):
            fake.blocked.add(telegram_id)  # blocked while their message was on its way
            await fake.send_text(telegram_id, "what do I owe?")
            await fake.wait_for(lambda: _unreachable_since(service, telegram_id) is not None)
            await asyncio.sleep(0.5)
    finally:
        await fake.stop()
    assert len(fake.calls_to("sendMessage", telegram_id)) == 1  # the reply; no "something went wrong"


async def test_a_demo_users_conversation_is_recorded_as_a_test_conversation_for_staff(
    payments_service: PaymentsService, fake: FakeTelegram
) -> None:
    assert payments_service.config.demo_mode
    services = BotServices(
        assistant=ScriptedAssistant(),
        users=payments_service,
        session_factory=payments_service.session_factory,
        demo_mode=True,
    )
    telegram_id = 761_000_001 + fake.port  # one of its own for every run
    async with bot_running(bot_settings(fake), services):
        await fake.send_text(telegram_id, "/start")
        await fake.send_text(telegram_id, "what do I owe?")
        [welcome, _] = await fake.wait_for_messages(telegram_id, 2)
        await asyncio.sleep(0.3)  # the transcript is written after the reply
    with payments_service.session_factory() as session:
        conversation = session.scalar(
            select(Conversation).where(Conversation.sender_id == f"tg-{telegram_id}")
        )
        demo = session.scalar(select(User.is_demo).where(User.telegram_user_id == telegram_id))
    assert "demo bills and a test card" in welcome["text"]
    assert demo is True
    assert conversation is not None and conversation.is_test  # the console lists it as "test"
