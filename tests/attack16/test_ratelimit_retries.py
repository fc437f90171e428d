"""Attack on bot.ratelimit.RepliesFirstRateLimiter (906daa8): the overall limit (30 calls a second to
chats) is now our own AsyncLimiter taken once around PTB's process_request, and PTB's overall limiter
is off. PTB retries a call Telegram answered 429 (RetryAfter) inside process_request, so the retries
no longer pass any overall limit and leave no trace in it: the calls right after them find the limit
empty, and the bot sends far past Telegram's limit right after being told to slow down. PTB's own
AIORateLimiter re-enters its overall limiter for every retry (the yardstick test below).

Real HTTP: PTB's ExtBot against the fake Bot API, which answers Telegram's 429 to the first calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from telegram.ext import AIORateLimiter, BaseRateLimiter, ExtBot

from bot.ratelimit import RepliesFirstRateLimiter
from testing.fake_telegram import FakeTelegram

FLOODED = 30  # Telegram answers 429 (retry after 1 s) to the first 30 sendMessage calls
FRESH = 90  # replies to other users written just after the flood wait
WINDOW = 1.0
# A limit of 30 a second lets at most 30 + 30 x WINDOW calls out in any WINDOW (a full bucket
# then its leak); a little slack for scheduling.
ALLOWED = int(30 + 30 * WINDOW) + 8


class FloodingTelegram(FakeTelegram):
    """The fake Bot API, answering 429 to the first FLOODED sendMessage calls; times every arrival."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.flooded = 0

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "sendMessage":
            self.arrivals.append(time.monotonic())
            if self.flooded < FLOODED:
                self.flooded += 1
                body = {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                }
                return web.json_response(body, status=429)
        return await super()._handle(request)


def busiest_window(arrivals: list[float]) -> int:
    """The most arrivals within any WINDOW seconds."""
    arrivals = sorted(arrivals)
    return max(sum(1 for b in arrivals[i:] if b - a <= WINDOW) for i, a in enumerate(arrivals))


async def _burst(limiter: BaseRateLimiter[Any]) -> int:
    fake = FloodingTelegram()
    await fake.start()
    bot: ExtBot[Any] = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=limiter)
    await bot.initialize()
    try:
        first = [asyncio.create_task(bot.send_message(716100 + n, "reply")) for n in range(FLOODED)]
        await asyncio.sleep(1.25)  # the flood wait (1 s) is over: the retries have just gone out
        fresh = [asyncio.create_task(bot.send_message(716200 + n, "reply")) for n in range(FRESH)]
        await asyncio.gather(*first, *fresh)
    finally:
        await bot.shutdown()
        await fake.stop()
    assert len(fake.arrivals) == FLOODED * 2 + FRESH
    return busiest_window(fake.arrivals)


async def _quietest_burst(make_limiter: Callable[[], BaseRateLimiter[Any]], tries: int = 3) -> int:
    """The busiest window of the quietest of up to `tries` bursts. Arrivals are timed on the test's
    own event loop, so a loop starved by other work on the cores (a CI worker beside it) lets the
    limiter's releases through in a bunch: 79 in a window was seen once that way. A limiter that
    does not count the retries exceeds the limit every time (its retries and the fresh replies go
    out together), so the quietest of three still tells the two apart."""
    busiest = await _burst(make_limiter())
    for _ in range(tries - 1):
        if busiest <= ALLOWED:
            break
        busiest = min(busiest, await _burst(make_limiter()))
    return busiest


async def test_ptbs_own_limiter_keeps_retries_within_the_limit() -> None:
    """The yardstick: PTB's AIORateLimiter with the same overall limit and retries."""
    assert await _quietest_burst(lambda: AIORateLimiter(max_retries=2)) <= ALLOWED


async def test_retries_after_a_flood_wait_stay_within_the_overall_limit() -> None:
    assert await _quietest_burst(lambda: RepliesFirstRateLimiter(max_retries=2)) <= ALLOWED
