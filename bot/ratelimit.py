"""Telegram's rate limit spent on replies first: "typing…" only from spare capacity.

PTB's AIORateLimiter keeps the bot under Telegram's ~30 calls per second for calls to a chat
(sendMessage, sendChatAction, editMessageReplyMarkup...). Under load every call waits for that
budget in turn, so a "typing…" (sendChatAction) took a place a reply could have had: with one per
turn, a plain turn spent two of the 30 and the Telegram path topped out at 15 turns/s (issue 12).
Here a chat action goes out only when the limiter has room for it right now and no call is queued
for that room, and is otherwise skipped (it is a courtesy, renewed every few seconds while a turn
lasts); every other call is limited exactly as before.

The overall limit is this class's own aiolimiter.AsyncLimiter (`overall`, whose `has_capacity` is
public), not AIORateLimiter's private one: PTB's overall limiter is switched off and ours applies to
the same calls (those to a chat), so nothing here reads PTB's internals. It is taken by every
attempt (PTB retries a call Telegram answered 429 inside its process_request), as PTB's own is, so
the retries after a flood wait count against the limit like any other call.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.constants import FloodLimit
from telegram.ext import AIORateLimiter

CHAT_ACTION = "sendChatAction"


class RepliesFirstRateLimiter(AIORateLimiter):
    """AIORateLimiter that drops a chat action instead of queueing it behind the overall limit."""

    skipped_chat_actions: int = 0  # how many "typing…" were not sent for want of capacity
    waiting: int = 0  # calls queued for the overall limit right now (they go before any "typing…")

    def __init__(
        self,
        overall_max_rate: float = FloodLimit.MESSAGES_PER_SECOND,
        overall_time_period: float = 1,
        **options: Any,
    ) -> None:
        super().__init__(overall_max_rate=0, overall_time_period=0, **options)  # ours below instead
        limited = bool(overall_max_rate and overall_time_period)
        self.overall = AsyncLimiter(overall_max_rate, overall_time_period) if limited else None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Skip a chat action (answering True, as Telegram would) when no capacity is free now;
        otherwise PTB's (group limits, retries), each attempt of a call to a chat taking its place
        in the overall limit: PTB retries a 429 (RetryAfter) inside its process_request."""
        to_chat = data.get("chat_id") is not None
        if (
            endpoint == CHAT_ACTION
            and self.overall is not None
            and (self.waiting or not self.overall.has_capacity())
        ):
            self.skipped_chat_actions += 1
            return True
        overall = self.overall
        if not to_chat or overall is None:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)

        async def attempt(*a: Any, **kw: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
            self.waiting += 1  # a freed place is theirs: has_capacity alone does not see waiters
            try:
                await overall.acquire()  # every attempt, so PTB's RetryAfter retries pass the limit too
            finally:
                self.waiting -= 1
            return await callback(*a, **kw)

        return await super().process_request(attempt, args, kwargs, endpoint, data, rate_limit_args)
