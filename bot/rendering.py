"""Turning the assistant's replies into Telegram messages, and button taps back into payloads.

Telegram limits a message to 4096 characters and a button's callback_data to 64 bytes. A long
list (bills, history) is shown page by page (bot.pages); other long texts are split (the keyboard
goes under the last part). A payload that does not fit, or that starts with one of our prefixes,
is kept in a bounded in-memory map and the button carries a short random key bound to the user.
Such keys do not survive a restart: a tap on one then answers that the button has expired, which
is safe (nothing is sent to the assistant).

Telegram does not check a tap's callback_data against the keyboard: a client can send any data for
any message with buttons. A tap counts only when its data is one of the buttons under the tapped
message as Telegram holds it (`offered_data`); anything else is answered and goes nowhere.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot import texts
from bot.pages import PAGE_PREFIX, PageStore, paged
from bot.userstore import UserBoundStore
from rasa_client import AssistantTurn, Button

MAX_MESSAGE_CHARS = 4096
MAX_CALLBACK_BYTES = 64
KEY_PREFIX = "k:"
ONE_ROW_MAX_BUTTONS = 3
ONE_ROW_MAX_TITLE = 20


# A button payload naming a payment summary's one-time confirmation (docs/contracts.md).
SUMMARY_PAYLOAD_MARK = '"confirm_nonce"'
# What the "My payments" button sends: the /history command's intent (bot.handlers.COMMAND_PAYLOADS).
PAYMENT_STATUS_PAYLOAD = "/payment_history"


@dataclass(frozen=True)
class OutgoingMessage:
    """One Telegram message to send: its text, maybe an inline keyboard, and whether it is a payment
    summary (its buttons confirm a draft: an older summary's keyboard goes when a new one is sent)."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    # The key of the paged list this message shows (PageStore.sent_as records where it went).
    page_key: str | None = None
    is_summary: bool = False


def is_summary_payload(payload: str) -> bool:
    """True for a payload that confirms or cancels a payment summary (it carries a nonce)."""
    return SUMMARY_PAYLOAD_MARK in payload


def summary_tap(payload: str) -> tuple[int, str] | None:
    """(draft id, nonce) a payment summary's Confirm or Cancel payload carries
    (`/affirm{"draft_id": 12, "confirm_nonce": "…"}`), or None for any other payload."""
    if not is_summary_payload(payload) or "{" not in payload:
        return None
    try:
        entities = json.loads(payload[payload.index("{") :])
        draft_id, nonce = entities["draft_id"], entities["confirm_nonce"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(draft_id, bool) or not isinstance(draft_id, int) or not isinstance(nonce, str) or not nonce:
        return None
    return draft_id, nonce


def with_nonce(payload: str, nonce: str) -> str:
    """A summary tap's payload carrying `nonce` instead of its own (the same summary offered again,
    payments.confirming.Confirmations.reissue_unanswered_offer); other payloads as they are."""
    tap = summary_tap(payload)
    if tap is None:
        return payload
    offer = json.dumps({"draft_id": tap[0], "confirm_nonce": nonce}, separators=(",", ":"))
    return payload[: payload.index("{")] + offer


def is_summary_reply(buttons: list[Button]) -> bool:
    """True when the buttons confirm or cancel a payment summary."""
    return any(is_summary_payload(button.payload) for button in buttons)


@dataclass(frozen=True)
class Tap:
    """What a button tap sends: its payload, and for a retried tap the message first tapped.

    A "Try again" after an outage re-sends the original tap as it was: the summary text the
    Confirm was under (`shown_text`, the consent payments compares) and that summary's message id
    (whether a newer summary replaced it), not the text and id of the error message (issue 10).
    """

    payload: str
    shown_text: str | None = None
    message_id: int | None = None
    is_retry: bool = False


class PayloadStore:
    """Short callback keys for payloads that do not fit in callback_data.

    Each user keeps at most `per_user` keys (their own oldest forgotten first), so one user's
    chatter never pushes out another's buttons; `capacity` bounds the whole store (bot.userstore).
    """

    def __init__(self, capacity: int = 10_000, per_user: int = 300) -> None:
        self._entries: UserBoundStore[Tap] = UserBoundStore(capacity=capacity, per_user=per_user)

    def callback_data(self, user_id: int, payload: str) -> str:
        """The callback_data for a button of `user_id` that should send `payload`."""
        reserved = payload.startswith((KEY_PREFIX, PAGE_PREFIX))
        if len(payload.encode()) <= MAX_CALLBACK_BYTES and not reserved:
            return payload
        return self.keep(user_id, payload)

    def keep(self, user_id: int, payload: str, *, retry_of: Tap | None = None) -> str:
        """Store `payload` for `user_id` under a new short key and return the key; `retry_of`: the
        tap (or typed message) a "Try again" button re-sends."""
        key = KEY_PREFIX + secrets.token_urlsafe(9)
        self._entries.put(key, user_id, retry_of or Tap(payload))
        return key

    def resolve(self, user_id: int, data: str) -> str | None:
        """The payload behind a tapped button's data, or None when the key is unknown or not theirs."""
        tap = self.resolve_tap(user_id, data)
        return None if tap is None else tap.payload

    def resolve_tap(self, user_id: int, data: str) -> Tap | None:
        """The tap behind a button's data (payload, and what a retry re-sends), or None when unknown."""
        if not data.startswith(KEY_PREFIX):
            return Tap(data)
        found = self._entries.get(data)
        return found[1] if found is not None and found[0] == user_id else None


def offered_data(message: object) -> frozenset[str] | None:
    """The callback_data of the buttons under a tapped message, as Telegram sends it with the tap
    (the server's copy, not the client's word); None when the message has no keyboard (it was used
    or replaced, or the message is too old for Telegram to show)."""
    if not isinstance(message, Message) or message.reply_markup is None:
        return None
    rows = message.reply_markup.inline_keyboard
    data = frozenset(b.callback_data for row in rows for b in row if isinstance(b.callback_data, str))
    return data or None


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split text into parts of at most `limit` characters, preferring line breaks."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not parts:
        parts.append(text)
    return parts


def keyboard(buttons: list[Button], *, user_id: int, payloads: PayloadStore) -> InlineKeyboardMarkup:
    """An inline keyboard: short choices side by side, long ones one per row."""
    keys = [
        InlineKeyboardButton(b.title, callback_data=payloads.callback_data(user_id, b.payload))
        for b in buttons
    ]
    short = all(len(b.title) <= ONE_ROW_MAX_TITLE for b in buttons)
    side_by_side = short and len(keys) <= ONE_ROW_MAX_BUTTONS
    return InlineKeyboardMarkup([keys] if side_by_side else [[k] for k in keys])


def render_turn(
    turn: AssistantTurn, *, user_id: int, payloads: PayloadStore, pages: PageStore | None = None
) -> list[OutgoingMessage]:
    """The Telegram messages that show one assistant turn, in order (long lists paged with `pages`)."""
    messages: list[OutgoingMessage] = []
    for reply in turn.replies:
        text = reply.text or (texts.CHOOSE if reply.buttons else "")
        if not text:
            continue
        markup = keyboard(reply.buttons, user_id=user_id, payloads=payloads) if reply.buttons else None
        listing = paged(text) if pages is not None else None
        if pages is not None and listing is not None:
            key = pages.keep(user_id, listing, markup)
            first = pages.page(key, 1)
            summary = is_summary_reply(reply.buttons)
            messages.append(OutgoingMessage(first.text, first.keyboard, page_key=key, is_summary=summary))
            continue
        parts = split_text(text)
        messages.extend(OutgoingMessage(part) for part in parts[:-1])
        messages.append(OutgoingMessage(parts[-1], markup, is_summary=is_summary_reply(reply.buttons)))
    return messages


def status_keyboard(*, user_id: int, payloads: PayloadStore) -> InlineKeyboardMarkup:
    """A button that asks what the user paid (/history): what to tap instead of confirming again."""
    data = payloads.callback_data(user_id, PAYMENT_STATUS_PAYLOAD)
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.PAYMENT_STATUS, callback_data=data)]])


def retry_keyboard(
    text: str,
    *,
    user_id: int,
    payloads: PayloadStore,
    shown_text: str | None = None,
    message_id: int | None = None,
) -> InlineKeyboardMarkup:
    """A "Try again" button that re-sends the user's unprocessed message (kept under a key); for a
    tapped button, with the text and id of the message it was under, so the retry is that tap."""
    retry = Tap(text, shown_text=shown_text, message_id=message_id, is_retry=True)
    key = payloads.keep(user_id, text, retry_of=retry)
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.TRY_AGAIN, callback_data=key)]])
