"""The conversation and the payment the current work is about, carried in contextvars.

A conversation is named by `conversation_ref(sender_id)`, a short hash of Rasa's sender id, so a
log line ties the bot's, Rasa's, the action server's and the payments core's lines of one turn
together without writing a Telegram id or a console session key into the log. Every process
computes the same reference from the sender id it already has. `asyncio.to_thread` copies the
context, so ids bound in an action are seen by the payments code it calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_conversation: ContextVar[str | None] = ContextVar("paychat_conversation", default=None)
_payment: ContextVar[int | None] = ContextVar("paychat_payment", default=None)
REF_CHARS = 12


def conversation_ref(sender_id: str) -> str:
    """The conversation's id in logs: `c-` and 12 hex digits of sha256(sender id)."""
    return "c-" + hashlib.sha256(sender_id.encode("utf-8", "surrogatepass")).hexdigest()[:REF_CHARS]


@contextmanager
def conversation(sender_id: str) -> Iterator[str]:
    """Mark the block as work on `sender_id`'s conversation (and no payment yet)."""
    ref = conversation_ref(sender_id)
    token, payment_token = _conversation.set(ref), _payment.set(None)
    try:
        yield ref
    finally:
        _payment.reset(payment_token)
        _conversation.reset(token)


@contextmanager
def payment(payment_id: int | None) -> Iterator[None]:
    """Mark the block as work on payment `payment_id`."""
    token = _payment.set(payment_id)
    try:
        yield
    finally:
        _payment.reset(token)


def bind_payment(payment_id: int | None) -> None:
    """From here to the end of the current context (a thread's task), work is on this payment."""
    _payment.set(payment_id)


def current() -> dict[str, Any]:
    """The ids bound now, for a log line (absent ones left out)."""
    ids: dict[str, Any] = {}
    if (ref := _conversation.get()) is not None:
        ids["conversation_id"] = ref
    if (payment_id := _payment.get()) is not None:
        ids["payment_id"] = payment_id
    return ids
