"""Attack 18b: a refused message is lost silently when the one "slow down" answer of the interval
was not delivered.

bot.updates.OrderedUpdateProcessor.answer_refused notes the user as told (`_told[key] = now`) BEFORE
sending texts.SLOW_DOWN, and a TelegramError of that send is only logged. So when that one answer
fails (Telegram answering 5xx once, a network blip), every further message the user sends while over
the cap within `slow_down_every` seconds is refused and NOT answered either: the module promises
"every refused private message is covered by an answer sent after it", yet the user is told nothing
and both messages are dropped (neither reached the assistant).

Real PTB long-polling the fake Bot API (failing the first sendMessage of SLOW_DOWN with a 502), the
real Rasa client against the stand-in Rasa channel holding the user's first turn.

Fixed (fix18b): an over-cap answer counts as told only once delivered, one attempt in flight per
user (bot.updates.OrderedUpdateProcessor.tell_over_cap).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot import texts
from bot.app import build_application
from bot.services import BotServices
from bot.updates import OrderedUpdateProcessor
from rasa_client import RasaClient
from testing import fake_telegram as fake_module
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa


def _fail_first_slow_down(fake: FakeTelegram) -> list[int]:
    """Make the first sendMessage of texts.SLOW_DOWN fail once with a 502; returns the failures."""
    failed: list[int] = []
    answer = fake._answer

    def failing(method: str, params: dict[str, Any]) -> Any:
        if method == "sendMessage" and params.get("text") == texts.SLOW_DOWN and not failed:
            failed.append(int(params["chat_id"]))
            raise fake_module._ApiError(502, "Bad Gateway")
        return answer(method, params)

    fake._answer = failing  # type: ignore[method-assign]
    return failed


async def test_a_refused_message_is_answered_even_when_the_previous_slow_down_was_not_delivered(
    fake: FakeTelegram, directory: RecordingDirectory
) -> None:
    user = 718801
    release = asyncio.Event()
    failed = _fail_first_slow_down(fake)
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        application = build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=1), services)
        processor = application.update_processor
        assert isinstance(processor, OrderedUpdateProcessor)
        processor.slow_down_every = 60.0  # the interval outlasts the test: only the rule decides
        async with polling(application):
            try:
                await fake.send_text(user, "pay bill")
                await fake.wait_for(lambda: len(rasa.received) == 1)  # held: the user is at the cap
                await fake.send_text(user, "pay the phone bill")  # refused; its answer fails
                await fake.wait_for(lambda: processor.refused == 1 and failed, within=10.0)
                await fake.send_text(user, "and the electricity one")  # refused too
                await fake.wait_for(lambda: processor.refused == 2, within=10.0)
                told = await fake.wait_polled(lambda: fake.sent_messages(user), within=5.0)
                delivered = [m["text"] for m in fake.sent_messages(user)]
            finally:
                release.set()
            await fake.wait_for(lambda: fake.sent_messages(user))
        await client.aclose()
    assert failed == [user]  # the first slow-down answer did fail
    assert rasa.received == ["pay bill"]  # both later messages were dropped
    assert told and delivered == [texts.SLOW_DOWN], (
        f"two refused messages, no slow-down answer delivered while over the cap: {delivered}"
    )
