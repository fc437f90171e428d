"""The bot under load (issue 12), real PTB long-polling the fake Bot API over HTTP:

- "typing…" only for a turn that is slow (or queued), so a quick turn spends one Telegram call;
- a turn queued behind the bound on calls at Rasa (rasa_client.admission) keeps "typing…" and is
  answered, not timed out;
- a message refused because the queue is full gets the clear "busy, not read yet" answer with a Try
  again button, and that button sends it: nothing lost;
- under Telegram's rate limit a "typing…" gives way to replies (bot.ratelimit).

Checks are on the calls made and the messages sent, never on durations.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.constants import ChatAction
from telegram.ext import ExtBot

from bot import texts
from bot.app import build_application
from bot.ratelimit import RepliesFirstRateLimiter
from bot.services import BotServices
from rasa_client import RasaClient
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, bot_settings
from tests.helpers.fake_telegram import FakeTelegram, polling
from tests.rasa_client.standin import standin_rasa

ALICE = 515101
BOB = 515102


async def test_typing_shows_only_for_a_slow_turn(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    assistant.delays["slow"] = 3.0
    await fake.send_text(ALICE, "quick")
    await fake.wait_for_messages(ALICE, 1)
    assert fake.calls_to("sendChatAction", ALICE) == []

    await fake.send_text(BOB, "slow")
    await fake.wait_for_messages(BOB, 1)
    [action, *_] = fake.calls_to("sendChatAction", BOB)
    assert action.params["action"] == ChatAction.TYPING


async def test_turns_queued_for_rasa_keep_typing_and_are_answered_not_timed_out(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    # Rasa answers one call at a time, 1 s each; the client's Rasa timeout is 3 s and one call may
    # be at Rasa at once. Four users write at once: the last waits about 3 s for its slot, which
    # does not count, then Rasa answers it in 1 s (at Rasa all at once, it would have waited 4 s).
    users = [ALICE, BOB, 515103, 515104]
    async with standin_rasa(seconds=1.0, serial=True) as rasa:
        client = RasaClient(rasa.url, "s", 3.0, max_in_flight=1, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        async with polling(build_application(bot_settings(fake), services)):
            for user in users:
                await fake.send_text(user, f"hi from {user}")
            replies = [(await fake.wait_for_messages(user, 1))[0]["text"] for user in users]
        await client.aclose()
    assert replies == [f"echo: hi from {user}" for user in users]
    assert rasa.peak == 1 and client.admission.peak_in_flight == 1
    # The turns that waited showed "typing…" while they waited.
    assert sum(1 for user in users if fake.calls_to("sendChatAction", user)) >= 2


async def test_a_message_refused_as_busy_is_kept_and_try_again_sends_it(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=1, max_waiting=0)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        async with polling(build_application(bot_settings(fake), services)):
            try:
                await fake.send_text(ALICE, "first")
                await fake.wait_for(lambda: rasa.received == ["first"])
                await fake.send_text(BOB, "pay my phone bill")
                [busy] = await fake.wait_for_messages(BOB, 1)
            finally:
                release.set()
            assert busy["text"] == texts.BUSY
            assert rasa.received == ["first"]  # Bob's message was not sent: "not read yet" is true
            await fake.wait_for_messages(ALICE, 1)
            [[retry]] = busy["reply_markup"]["inline_keyboard"]
            assert retry["text"] == texts.TRY_AGAIN
            await fake.tap(BOB, busy, retry["callback_data"])
            answered = await fake.wait_for_messages(BOB, 2)
        await client.aclose()
    assert answered[-1]["text"] == "echo: pay my phone bill"
    assert rasa.received == ["first", "pay my phone bill"]


async def test_a_typing_action_gives_way_to_replies_when_the_rate_limit_is_spent(fake: FakeTelegram) -> None:
    # A budget of one call to a chat per hour: the reply takes it, the "typing…" after it is
    # skipped rather than queued behind the limit (and answered True, as Telegram would).
    limiter = RepliesFirstRateLimiter(overall_max_rate=1, overall_time_period=3600)
    bot: ExtBot[Any] = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=limiter)
    await bot.initialize()
    try:
        await bot.send_message(ALICE, "a reply")
        assert await bot.send_chat_action(ALICE, ChatAction.TYPING) is True
    finally:
        await bot.shutdown()
    assert [m["text"] for m in fake.sent_messages(ALICE)] == ["a reply"]
    assert fake.calls_to("sendChatAction", ALICE) == []
    assert limiter.skipped_chat_actions == 1


async def test_a_typing_action_does_not_take_room_a_queued_reply_waits_for(fake: FakeTelegram) -> None:
    # The first reply spends the budget; the second queues for it. When room appears before the
    # limiter wakes the queued reply (here: the budget is raised while it waits), a "typing…" must
    # not take that room ahead of it.
    limiter = RepliesFirstRateLimiter(overall_max_rate=1, overall_time_period=3600)
    assert limiter.overall is not None
    bot: ExtBot[Any] = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=limiter)
    await bot.initialize()
    try:
        await bot.send_message(ALICE, "first reply")
        queued = asyncio.create_task(bot.send_message(BOB, "queued reply"))
        for _ in range(500):  # until the second reply is queued for the budget
            if limiter.waiting:
                break
            await asyncio.sleep(0.01)
        limiter.overall.max_rate = 2
        assert limiter.overall.has_capacity()
        assert await bot.send_chat_action(ALICE, ChatAction.TYPING) is True
        queued.cancel()
    finally:
        await bot.shutdown()
    assert fake.calls_to("sendChatAction", ALICE) == []
    assert limiter.skipped_chat_actions == 1


async def test_with_capacity_left_a_typing_action_is_sent(fake: FakeTelegram) -> None:
    limiter = RepliesFirstRateLimiter(overall_max_rate=30, overall_time_period=1)
    bot: ExtBot[Any] = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=limiter)
    await bot.initialize()
    try:
        assert await bot.send_chat_action(ALICE, ChatAction.TYPING) is True
    finally:
        await bot.shutdown()
    assert len(fake.calls_to("sendChatAction", ALICE)) == 1
    assert limiter.skipped_chat_actions == 0


async def test_a_message_rasa_took_but_never_answered_is_not_called_unprocessed(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    # Rasa holds the call past the client's timeout: it has the message and may still act on it,
    # so the answer must not say "not processed" (texts.BRAIN_DOWN); Try again sends it again.
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 1.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        async with polling(build_application(bot_settings(fake), services)):
            try:
                await fake.send_text(ALICE, "pay my phone bill")
                [late] = await fake.wait_for_messages(ALICE, 1)
            finally:
                release.set()
            assert late["text"] == texts.NO_ANSWER
            [[retry]] = late["reply_markup"]["inline_keyboard"]
            await fake.tap(ALICE, late, retry["callback_data"])
            answered = await fake.wait_for_messages(ALICE, 2)
        await client.aclose()
    assert answered[-1]["text"] == "echo: pay my phone bill"
    assert rasa.received == ["pay my phone bill", "pay my phone bill"]
