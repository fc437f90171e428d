"""The paychat channel's answers that do not need a model (rasa_project/channels/paychat_channel.py),
in the Rasa env: how a turn's action calls decide between "not processed" (`action_server_down`) and
"ran and failed" (`turn_failed`), and how the caller's X-Paychat-Timeout header is read.

The action calls go through the channel's real `ActionServerWatch` on Rasa's own EndpointConfig,
against a small HTTP server that answers once and is then gone (its port refuses connections).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.rasa_script import require_rasa_env, run_tracker_script

SCRIPT = r"""
import asyncio, json, sys
from types import SimpleNamespace
import aiohttp
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig
import channels.paychat_channel as channel

async def action_calls(answered):
    '''The turn's recorded calls: `answered` calls the server answers, then one after it is gone.'''
    async def action(request):
        return web.json_response({"events": [], "responses": []})
    app = web.Application()
    app.router.add_post("/webhook", action)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(url=f"http://127.0.0.1:{port}/webhook")
    channel.ActionServerWatch.of(SimpleNamespace(action_endpoint=endpoint))
    calls = []
    channel._ACTION_CALLS.set(calls)
    for n in range(answered):
        await endpoint.request(json={"next_action": f"action_{n}"}, method="post")
    await runner.cleanup()
    try:
        await endpoint.request(json={"next_action": "action_after"}, method="post")
    except aiohttp.ClientError:
        pass
    return calls

def code(calls):
    answer = channel._failed_calls_answer(calls)
    return None if answer is None else answer["code"]

async def main():
    refused_only = await action_calls(0)
    answered_then_refused = await action_calls(1)
    headers = ["30", "100", "abc", "", "nan", "NaN", "inf", "-inf", None]
    asked = {str(v): SimpleNamespace(headers={channel.TIMEOUT_HEADER: v} if v else {}) for v in headers}
    within = {value: channel._answer_within(request) for value, request in asked.items()}
    print(json.dumps({
        "refused_only": [refused_only, code(refused_only)],
        "answered_then_refused": [answered_then_refused, code(answered_then_refused)],
        "all_answered": code([True, True]),
        "failed_then_refused": code([False, channel.REFUSED]),
        "within": within,
        "max": channel.TURN_ANSWER_MAX_SECONDS,
        "margin": channel.ANSWER_MARGIN_SECONDS,
    }), flush=True)

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What SCRIPT printed (run once for the module's tests)."""
    require_rasa_env()
    result: dict[str, Any] = run_tracker_script(
        SCRIPT, tracker_db=tmp_path_factory.mktemp("channel") / "unused.db"
    )
    return result


def test_not_processed_only_when_no_action_call_of_the_turn_got_an_answer(report: dict[str, Any]) -> None:
    """attack18: a charge answered, then the action server gone before the round's next action:
    the turn ran (turn_failed, "may have acted"), never "not processed" (action_server_down)."""
    assert report["refused_only"] == [["refused"], "action_server_down"]
    assert report["answered_then_refused"] == [[True, "refused"], "turn_failed"]
    assert report["all_answered"] is None
    assert report["failed_then_refused"] == "turn_failed"


def test_the_callers_timeout_header_is_used_only_when_it_is_a_finite_number(report: dict[str, Any]) -> None:
    """A header that is not a number, or is NaN or infinite, gets the default deadline ("nan" made
    every comparison false and the turn's waits return at once)."""
    default = report["max"]
    assert report["within"] == {
        "30": 30 - report["margin"],
        "100": default,
        "abc": default,
        "": default,
        "nan": default,
        "NaN": default,
        "inf": default,
        "-inf": default,
        "None": default,
    }
