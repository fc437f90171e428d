"""Telling users on Telegram how a payment ended when it settled after their chat turn.

payments/ writes a notification row in the same transaction as the status change (the outbox);
this loop reads the undelivered ones every few seconds, sends each as a message and then marks it
sent. Delivery is at least once: a send that fails (or a crash between send and mark) leaves the
row for the next round, and one chat's failure never holds up the others in the round. A user who
blocked the bot (Telegram answers 403 Forbidden) is recorded as unreachable: the outbox then holds
their rows, unsent and without retries, until they unblock the bot or write again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from babel.dates import format_date
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, TelegramError

from bot import texts
from bot.coalesce import LatestWins
from rasa_client.wording import failure_reason

log = logging.getLogger(__name__)


class NotificationSource(Protocol):
    """The part of `payments.service.PaymentsService` the notifier uses."""

    def pending_notifications(self, *, limit: int = 50) -> list[Any]:
        """Undelivered notifications of users reachable on Telegram, oldest first."""
        ...

    def mark_notification_sent(self, *, notification_id: int) -> bool:
        """Record one as delivered; False when it already was."""
        ...

    def set_telegram_reachable(self, *, telegram_user_id: int, reachable: bool) -> bool:
        """Record that a user blocked the bot (False) or came back (True)."""
        ...

    def turn_outcomes(self, *, user_id: int, since: datetime) -> list[Any]:
        """Outcomes reached in the user's chat turns since `since` and not yet told."""
        ...

    def acknowledge_turn_outcomes(
        self, *, user_id: int, since: datetime, payment_ids: Collection[int]
    ) -> int:
        """The user's turn since `since` reached them, telling `payment_ids`: those held outcomes
        need no message."""
        ...


def notification_text(note: Any) -> str:
    """The message for one `payments.views.NotificationView` (with the receipt of a succeeded payment)."""
    reason = failure_reason(getattr(note, "failure_code", None), note.failure_message)
    template = texts.NOTIFICATIONS[str(note.kind)]
    if getattr(note, "autopay", False):  # an automatic charge under a standing mandate (issue 13, item 8)
        template = texts.AUTOPAY_NOTIFICATIONS.get(str(note.kind), template)
    if getattr(note, "mandate_id", None) is not None and str(note.kind) == "step_up_code":
        # the code that switches an autopay on, or widens a live one
        template = texts.MANDATE_CHANGE_STEP_UP_CODE if note.mandate_change else texts.MANDATE_STEP_UP_CODE
    due_date = getattr(note, "due_date", None)
    due = format_date(due_date, format="long", locale=note.locale) if due_date is not None else ""
    text = template.format(
        amount=note.amount_text,
        biller=note.biller_name,
        reason=reason,
        due=due,
        code=getattr(note, "code", None) or "",
        when=getattr(note, "when_text", None) or "",
    )
    receipt = getattr(note, "receipt", None)
    return f"{text}\n\n{receipt_text(receipt)}" if receipt is not None else text


# --- issue 13 items 4 and 8 (a bill's messages: reminders, bills a mandate could not pay) ---
# "Pay now" payload: pay_bill naming the bill (rasa_project rules send it to action_pay_reminded_bill,
# whatever message carried it). It fits Telegram's 64-byte callback_data, so it needs no in-memory key
# and survives a bot restart; a tap counts only when it is a button under that very message
# (bot.handlers.not_offered), and payments drafts only the tapping user's own, still open bill.


def pay_now_payload(bill_id: int) -> str:
    """The callback data of a "Pay now" button for bill `bill_id`."""
    return '/pay_bill{"reminded_bill_id":' + str(int(bill_id)) + "}"


def notification_keyboard(note: Any) -> InlineKeyboardMarkup | None:
    """The buttons under a notification: "Pay now" under a message the core offers paying its bill
    from (`pay_bill_id`: a reminder, a bill a standing mandate could not pay), none under the others."""
    bill_id = getattr(note, "pay_bill_id", None)
    if bill_id is None:
        return None
    button = InlineKeyboardButton(texts.PAY_NOW, callback_data=pay_now_payload(bill_id))
    return InlineKeyboardMarkup([[button]])


# --- end reminders ---


def receipt_text(receipt: Any) -> str:
    """A `payments.views.Receipt` worded for the user to keep."""
    return texts.RECEIPT.format(
        reference=receipt.reference,
        amount=receipt.amount_text,
        biller=receipt.biller_name,
        bill_reference=receipt.bill_reference,
        card_brand=receipt.card_brand.capitalize(),
        card_last4=receipt.card_last4,
        paid_at=receipt.paid_at_text,
        timezone=receipt.timezone,
        payment_intent_id=receipt.payment_intent_id or "",
    )


def _forget_nobody(telegram_user_id: int) -> None:
    """The default for `blocked`: nothing cached to forget."""


async def _record_blocked(
    source: NotificationSource,
    telegram_user_id: int,
    reachability: LatestWins[int, bool] | None,
    seen: int | None,
) -> None:
    """Record that a send found the user blocking the bot — unless an unblock (or any newer state)
    was taken for them while the send ran (`reachability`, the bot's latest-wins order; attack20)."""

    async def write(reachable: bool) -> None:
        await asyncio.to_thread(
            source.set_telegram_reachable, telegram_user_id=telegram_user_id, reachable=reachable
        )

    if reachability is None:
        await write(False)
    else:
        await reachability.put_if_unchanged(telegram_user_id, False, seen, write)


async def deliver_pending(
    bot: Bot,
    source: NotificationSource,
    blocked: Callable[[int], None] = _forget_nobody,
    reachability: LatestWins[int, bool] | None = None,
) -> int:
    """Send every pending notification once; returns how many were sent and marked.

    `blocked(telegram_user_id)` is called for a user found to have blocked the bot; the finding is
    written through `reachability` (when given) so it never overwrites a newer unblock.
    """
    delivered = 0
    unreachable: set[int] = set()
    for note in await asyncio.to_thread(source.pending_notifications):
        if note.telegram_user_id is None or note.telegram_user_id in unreachable:
            continue
        if str(note.kind) == "step_up_code" and not getattr(note, "code", None):
            # The code's payment was closed before delivery (cancelled, expired): nothing to send.
            await asyncio.to_thread(source.mark_notification_sent, notification_id=note.id)
            continue
        seen = reachability.last(note.telegram_user_id) if reachability is not None else None
        try:
            await bot.send_message(
                chat_id=note.telegram_user_id,
                text=notification_text(note),
                reply_markup=notification_keyboard(note),
            )
        except Forbidden:
            log.info(
                "user %s blocked the bot: notification %s waits until they are back", note.user_id, note.id
            )
            unreachable.add(note.telegram_user_id)
            await _record_blocked(source, note.telegram_user_id, reachability, seen)
            blocked(note.telegram_user_id)
            continue
        except TelegramError as error:
            # Left unsent: the next round tries again. No message text in the log, only ids.
            log.warning("notification %s to user %s not sent: %s", note.id, note.user_id, error)
            continue
        if await asyncio.to_thread(source.mark_notification_sent, notification_id=note.id):
            delivered += 1
    return delivered


async def tell_turn_outcomes(
    bot: Bot, source: NotificationSource, *, user_id: int, chat_id: int, since: datetime
) -> int:
    """A turn's reply was lost: tell the outcomes reached in it now; returns how many were told.

    A payment confirmed in a turn whose answer never arrived (the assistant's connection reset
    after it acted, an answer slower than our timeout) was still paid or declined: the user reads
    that instead of "not processed" (payments queued the outcome, held, in the same transaction).
    """
    told = 0
    for note in await asyncio.to_thread(source.turn_outcomes, user_id=user_id, since=since):
        try:
            await bot.send_message(chat_id=chat_id, text=notification_text(note))
        except TelegramError as error:
            log.warning("turn outcome %s to user %s not sent: %s", note.id, note.user_id, error)
            continue
        await asyncio.to_thread(source.mark_notification_sent, notification_id=note.id)
        told += 1
    return told


async def run_notifier(
    bot: Bot,
    source: NotificationSource,
    interval_seconds: float,
    blocked: Callable[[int], None] = _forget_nobody,
    reachability: LatestWins[int, bool] | None = None,
) -> None:
    """Deliver pending notifications every `interval_seconds` until cancelled."""
    while True:
        try:
            await deliver_pending(bot, source, blocked, reachability)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database hiccup must not end the loop: the rows wait for the next round.
            log.exception("notification round failed")
        await asyncio.sleep(interval_seconds)
