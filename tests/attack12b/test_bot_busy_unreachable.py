"""attack12b: in the bot, "busy, I haven't read it" (AssistantBusyError) can't happen at the defaults.

bot/app.py runs updates through OrderedUpdateProcessor(max_concurrent_updates=64): at most 64
updates are in handlers at once, so at most 64 calls ever reach the Rasa client's admission, and
with RASA_MAX_IN_FLIGHT + RASA_MAX_WAITING = 16 + 1000 the queue is never full. Updates beyond 64
wait inside PTB instead: without limit, without "typing…" and without the busy answer.
Here with a queue of 1 + 70 (still above 64) and 80 users writing while Rasa is held: 9 messages are
beyond the queue, yet nobody is told "busy"; 16 updates sit in PTB, unseen by the admission control.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

from bot import texts
from bot.app import build_application
from bot.services import BotServices
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

USERS = [616000 + i for i in range(80)]


async def test_messages_beyond_the_queue_are_told_busy_in_the_bot(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=1, max_waiting=70)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        async with polling(build_application(bot_settings(fake), services)):
            try:
                for user in USERS:
                    await fake.send_text(user, f"hello from {user}")

                def state() -> tuple[int, int]:
                    """(calls in flight or queued at the admission control, users told "busy")."""
                    told = [u for u in USERS if any(m["text"] == texts.BUSY for m in fake.sent_messages(u))]
                    return client.admission.in_flight + client.admission.waiting, len(told)

                # 71 messages held at or queued for Rasa, 9 refused unsent with the busy answer.
                with suppress(AssertionError):
                    await fake.wait_for(lambda: state() == (71, 9), within=10.0)
                assert state() == (71, 9), state()
            finally:
                release.set()
        await client.aclose()
