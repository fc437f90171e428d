"""Telegram's rate limit spent on replies first: "typing…" only from spare capacity.

PTB's AIORateLimiter keeps the bot under Telegram's ~30 calls per second for calls to a chat
(sendMessage, sendChatAction, editMessageReplyMarkup...). Under load every call waits for that
budget in turn, so a "typing…" (sendChatAction) took a place a reply could have had: with one per
turn, a plain turn spent two of the 30 and the Telegram path topped out at 15 turns/s (issue 12).
Here a chat action goes out only when the limiter has room for it right now, and is otherwise
skipped (it is a courtesy, renewed every few seconds while a turn lasts); every other call is
limited exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

CHAT_ACTION = "sendChatAction"


class RepliesFirstRateLimiter(AIORateLimiter):
    """AIORateLimiter that drops a chat action instead of queueing it behind the overall limit."""

    skipped_chat_actions: int = 0  # how many "typing…" were not sent for want of capacity

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Skip a chat action (answering True, as Telegram would) when no capacity is free now."""
        limiter = getattr(self, "_base_limiter", None)
        if endpoint == CHAT_ACTION and limiter is not None and not limiter.has_capacity():
            self.skipped_chat_actions += 1
            return True
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
