"""Attack on a Confirm tap whose turn RAN inside Rasa but failed there: the paychat channel answers
503 {"error": "action server unavailable"} when an action call failed (rasa_project/channels/
paychat_channel.py: `if not all(calls)`; e.g. the action server took longer than the 25 s action
timeout while it was charging) and 503 {"error": "assistant produced no reply"} for a silent turn.
Both are answers to a turn that ran and may have charged. The Rasa client maps every 5xx but
conversation_unreadable to AssistantUnavailableError ("not processed"), so the bot says it did not
act and offers "Try again", which sends the same Confirm again: the rule that landed in 1b3251f (a
Confirm left unanswered points to "My payments", never "Try again") covers the read timeout only.

Real PTB long-polling the fake Bot API over HTTP, the real Rasa client against a stand-in paychat
channel over loopback HTTP that answers the Confirm exactly as the real channel does after it ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from bot import texts
from bot.app import build_application
from bot.services import BotServices
from rasa_client import CHANNEL_PATH, RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling

CONFIRM = '/affirm{"draft_id": 7, "confirm_nonce": "n-7"}'
CANCEL = '/deny{"draft_id": 7, "confirm_nonce": "n-7"}'
SUMMARY = [
    {
        "text": "Pay 40.00 EUR to Phone Co from Visa •4242 today?",
        "buttons": [{"title": "Confirm", "payload": CONFIRM}, {"title": "Cancel", "payload": CANCEL}],
    }
]


@asynccontextmanager
async def channel_failing_the_confirm(error: str) -> AsyncIterator[tuple[str, list[str]]]:
    """A paychat channel on loopback: the summary for the first message; for the Confirm, the 503
    the real channel answers after the turn ran (`error`)."""
    received: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body["message"])
        if body["message"] == CONFIRM:
            await asyncio.sleep(0.2)  # the turn ran: the action was called (and may have charged)
            return web.json_response({"error": error}, status=503)
        replies = (
            SUMMARY if body["message"] == "pay my phone bill" else [{"text": f"echo: {body['message']}"}]
        )
        return web.json_response({"replies": replies})

    app = web.Application()
    app.router.add_post(CHANNEL_PATH, answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("error", ["action server unavailable", "assistant produced no reply"])
async def test_a_confirm_whose_turn_ran_but_failed_is_never_offered_again(
    fake: FakeTelegram, directory: RecordingDirectory, error: str
) -> None:
    user = 716020
    async with channel_failing_the_confirm(error) as (url, received):
        client = RasaClient(url, "s", 10.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        async with polling(build_application(bot_settings(fake), services)):
            await fake.send_text(user, "pay my phone bill")
            [summary] = await fake.wait_for_messages(user, 1)
            [[confirm, _cancel]] = summary["reply_markup"]["inline_keyboard"]
            await fake.tap(user, summary, confirm["callback_data"])
            _, answer = await fake.wait_for_messages(user, 2)
            buttons = [
                b for row in (answer.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
            ]
            for button in buttons:  # the user follows the answer
                await fake.tap(user, answer, button["callback_data"])
            await asyncio.sleep(1.5)
        await client.aclose()
    # The Confirm reached Rasa once; the answer does not say it was not processed.
    assert received.count(CONFIRM) == 1, received
    assert answer["text"] != texts.BRAIN_DOWN
