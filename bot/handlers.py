"""Telegram handlers: one small coroutine per kind of update, wired together in bot.app.

Commands send the matching intent payloads so the wording stays in rasa_project/domain.yml. A
message that looks like a card number is deleted and never reaches the assistant, a transcript
or a log line; no handler logs message text. The bot talks in private chats only: in a group or
a channel nothing reaches the assistant, the payments core or the transcripts (a group would see
one member's bills, and a member could act for another).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, MessageEntityType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, ContextTypes

from bot import texts
from bot.cardnumbers import delete_messages
from bot.commands import help_text
from bot.relay import known_user, relay, services_of, set_reachable
from bot.rendering import MAX_MESSAGE_CHARS, is_summary_payload, offered_data
from bot.updates import OrderedUpdateProcessor
from rasa_client import is_sendable

log = logging.getLogger(__name__)

# The commands the assistant answers, as intent payloads; /start and /help the bot answers itself.
COMMAND_PAYLOADS = {
    "bills": "/check_bills",
    "history": "/payment_history",
    "cancel": "/stop",
}


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Create or link the user's customer record and say in two lines what the bot does."""
    assert update.effective_user is not None and update.effective_message is not None
    services = services_of(context)
    await known_user(services, update.effective_user, update.update_id)
    welcome = f"{texts.WELCOME}\n\n{texts.DEMO_MODE}" if services.demo_mode else texts.WELCOME
    await update.effective_message.reply_text(welcome)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands of the menu (the same table) in the user's language."""
    assert update.effective_user is not None and update.effective_message is not None
    await update.effective_message.reply_text(help_text(update.effective_user.language_code))


async def on_private_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Know the user before anything else runs (a user who had blocked the bot is back); not for an
    update refused for their cap, which is answered "slow down" and nothing else (attack19)."""
    assert update.effective_user is not None
    processor = context.application.update_processor
    if isinstance(processor, OrderedUpdateProcessor) and processor.is_refused(update):
        return
    try:
        await known_user(services_of(context), update.effective_user, update.update_id)
    except Exception:
        # Best effort: the handler that answers tries again, and reports a failure once.
        log.warning(
            "could not look up user %s ahead of their update", update.effective_user.id, exc_info=True
        )


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A user blocked the bot (kicked) or unblocked it (member): hold or release their notifications."""
    change = update.my_chat_member
    assert change is not None
    status = change.new_chat_member.status
    # Only the user's own chat with the bot says whether they can be reached (not a group's admin).
    if change.chat.type == ChatType.PRIVATE and status in {ChatMemberStatus.BANNED, ChatMemberStatus.MEMBER}:
        await record_reachable(
            context, change.from_user.id, status == ChatMemberStatus.MEMBER, update.update_id
        )


async def record_reachable(
    context: ContextTypes.DEFAULT_TYPE, telegram_user_id: int, reachable: bool, update_id: int
) -> None:
    """Record the user's latest blocked/unblocked state (by update id), one write at a time per user:
    a flood of blocks and unblocks writes the first and the last, not each (attack19)."""
    services = services_of(context)

    async def write(value: bool) -> None:
        await set_reachable(services, telegram_user_id, value)

    await services.reachability.put(telegram_user_id, reachable, update_id, write)


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send /bills, /history or /cancel to the assistant as its intent payload."""
    assert update.effective_message is not None and update.effective_message.text is not None
    command = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
    await relay(update, context, COMMAND_PAYLOADS[command])


# --- issue 13 item 4 (reminders) ---
# `/reminders on|off`: the same intents as "remind me again" / "stop reminding me" (wording in the domain).
REMINDER_SWITCH_PAYLOADS = {"on": "/reminders_on", "off": "/reminders_off"}


async def on_reminders(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Switch bill reminders with `/reminders on|off` (sent as its intent); say how without an argument."""
    assert update.effective_message is not None and update.effective_message.text is not None
    words = update.effective_message.text.split()
    payload = REMINDER_SWITCH_PAYLOADS.get(words[1].lower()) if len(words) == 2 else None
    if payload is None:
        await update.effective_message.reply_text(texts.REMINDERS_USAGE)
    else:
        await relay(update, context, payload)


# --- end reminders ---


async def on_card_number(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete a message holding a card number, explain how cards are saved, and stop there. Every
    one is deleted; the explanation is limited where a flood could spend the bot's Telegram budget:
    past the user's cap as "slow down" is (bot.updates), in a group once per GROUP_ANSWER_EVERY_SECONDS."""
    message = update.effective_message
    assert message is not None
    processor = context.application.update_processor
    if isinstance(processor, OrderedUpdateProcessor):  # deleting since the update arrived (bot.cardnumbers)
        deleted = await processor.card_deleted(update, message)
    else:
        deleted = bool(await delete_messages(context.bot, message.chat_id, [message.message_id]))
    answer = texts.CARD_NUMBER_REFUSED if deleted else texts.CARD_NUMBER_NOT_DELETED
    if isinstance(processor, OrderedUpdateProcessor) and processor.is_refused(update):
        await processor.tell_over_cap(update, context.bot, answer)
    elif message.chat.type == ChatType.PRIVATE or _group_answer_due(context.bot_data, message, CARD_ANSWERS):
        await context.bot.send_message(message.chat_id, answer)
    raise ApplicationHandlerStop


class OutsidePrivateChatHandler(BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]):
    """Matches every update from a chat that is not a one-to-one chat with the bot."""

    def check_update(self, update: object) -> bool:
        """True for a group, supergroup or channel (message, edit, post or button tap)."""
        chat = update.effective_chat if isinstance(update, Update) else None
        return chat is not None and chat.type != ChatType.PRIVATE


def addressed_to_bot(message: Message, bot: Bot) -> bool:
    """True for a command (not another bot's), a mention of this bot, or a reply to it."""
    text = message.text or message.caption or ""
    mention = f"@{bot.username}".lower()
    if message.entities and message.entities[0].type == MessageEntityType.BOT_COMMAND:
        words = text.split()  # a command entity over blank text has no command (was an IndexError)
        command = words[0].lower() if words else ""
        return command.startswith("/") and ("@" not in command or command.endswith(mention))
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    return mention in text.lower()


# One "private chats only" message per group this often, the rest skipped: Telegram allows a bot 20
# messages a minute in a group, and answers queued for that budget held processor slots (attack18).
GROUP_ANSWER_EVERY_SECONDS = 10.0
GROUP_ANSWERS = "paychat:group-answers"  # bot_data key: group chat id -> when last answered (monotonic)
CARD_ANSWERS = "paychat:group-card-answers"  # the same for the card-number explanation
GROUPS_REMEMBERED = 1024  # groups (and, under "<key>:users", users) remembered per kind of answer


async def on_outside_private_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say "private chats only" to a tap, or to a message addressed to the bot unless the group, or
    its sender in any group, got that answer in the last GROUP_ANSWER_EVERY_SECONDS; then stop there."""
    if update.callback_query is not None:
        await update.callback_query.answer(texts.PRIVATE_ONLY)  # no chat's message budget
    elif (
        update.message is not None
        and addressed_to_bot(update.message, context.bot)
        and _group_answer_due(context.bot_data, update.message, GROUP_ANSWERS)
    ):
        await update.message.reply_text(texts.PRIVATE_ONLY)
    raise ApplicationHandlerStop


def _group_answer_due(bot_data: dict, message: Message, answers: str) -> bool:
    """True (and noted) when neither the message's group nor its sender (in any group) got an answer
    of the kind `answers` (GROUP_ANSWERS, CARD_ANSWERS: its bot_data key) in the last interval: one
    user in many groups draws one answer per interval, not one per group (attack19)."""
    sender = message.from_user.id if message.from_user is not None else None
    whose = [(answers, message.chat_id)] + ([(f"{answers}:users", sender)] if sender is not None else [])
    now = time.monotonic()
    for kind, key in whose:
        last = bot_data.get(kind, {}).get(key)
        if last is not None and now - last < GROUP_ANSWER_EVERY_SECONDS:
            log.info("no answer (%s) to %s: answered %.1f s ago", kind, key, now - last)
            return False
    for kind, key in whose:
        answered: OrderedDict[int, float] = bot_data.setdefault(kind, OrderedDict())
        answered[key] = now
        answered.move_to_end(key)
        while len(answered) > GROUPS_REMEMBERED:  # the longest answered: their interval is over first
            answered.popitem(last=False)
    return True


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forward a text message to the assistant, unless it is too long."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if len(message.text) > MAX_MESSAGE_CHARS:
        await message.reply_text(texts.TOO_LONG.format(limit=MAX_MESSAGE_CHARS))
    elif not is_sendable(message.text):  # blank: Telegram does not send one, a client might
        await message.reply_text(texts.TEXT_ONLY)
    else:
        await relay(update, context, message.text)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a command the bot does not have (typed intent payloads are not passed on)."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(texts.UNKNOWN_COMMAND)


async def on_edited_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask for an edit to be sent again as a new message; the edit never reaches the assistant."""
    assert update.edited_message is not None
    await update.edited_message.reply_text(texts.EDITED_MESSAGE)


async def on_other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a message without text (photo, sticker, voice...)."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(texts.TEXT_ONLY)


FORGET_CALLBACK = "paychat:forget:"  # + "yes" or "no": answered by on_forget_answer, never by Rasa


async def on_forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask before forgetting the user (Yes / No buttons)."""
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.FORGET_YES, callback_data=FORGET_CALLBACK + "yes"),
          InlineKeyboardButton(texts.FORGET_NO, callback_data=FORGET_CALLBACK + "no")]]
    )  # fmt: skip
    await update.effective_message.reply_text(texts.FORGET_ASK, reply_markup=keyboard)


async def on_forget_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Forget the user after their Yes (once per keyboard); keep everything after No."""
    query = update.callback_query
    assert query is not None
    if query.message is None:  # an inline-mode button: the bot never sends one (was an AssertionError)
        await query.answer(texts.BUTTON_EXPIRED)
        return
    refusal = not_offered(query, tapped=False)
    if refusal is not None:  # "forget me" data under a message that never asked (a forged tap)
        await query.answer(refusal)
        return
    await query.answer()
    if not await remove_keyboard(query.message):
        return
    rights = services_of(context).rights
    if query.data != FORGET_CALLBACK + "yes":
        reply = texts.FORGET_KEPT
    elif rights is None:
        reply = texts.NOT_AVAILABLE
    else:
        services_of(context).known_users.pop(query.from_user.id, None)
        reply = texts.FORGOTTEN if await rights.forget(query.from_user.id) else texts.NOTHING_TO_FORGET
    await context.bot.send_message(query.message.chat.id, reply)


async def on_mydata(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the user everything paychat keeps about them as a JSON file."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    rights = services_of(context).rights
    document = await rights.export(user.id) if rights is not None else None
    if document is None:
        await message.reply_text(texts.NO_DATA if rights is not None else texts.NOT_AVAILABLE)
        return
    await message.reply_document(document, filename="paychat-my-data.json", caption=texts.MYDATA_CAPTION)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send a tapped button's payload to the assistant, at most once per keyboard."""
    query = update.callback_query
    assert query is not None
    services = services_of(context)
    tap = services.payloads.resolve_tap(query.from_user.id, query.data or "")
    # No message: a button of an inline-mode message, which the bot never sends (was an AssertionError).
    if tap is None or query.message is None:
        await query.answer(texts.BUTTON_EXPIRED)
        return
    payload = tap.payload
    chat_id, message_id = query.message.chat.id, query.message.message_id
    # A "Try again" re-sends the tap it stands for: that summary's message and text, not its own.
    tapped_id = tap.message_id if tap.message_id is not None else message_id
    if is_summary_payload(payload) and services.replaced_summary(chat_id, tapped_id):
        await query.answer(texts.SUMMARY_OUT_OF_DATE)
        return
    refusal = not_offered(query, tapped=services.was_tapped(chat_id, message_id))
    if refusal is not None:  # before the tap is recorded: a forged tap does not use up the keyboard
        await query.answer(refusal)
        return
    first = services.first_tap(chat_id, message_id)
    if not first or not await remove_keyboard(query.message):
        await query.answer(texts.ALREADY_DONE)
        return
    await query.answer()
    if tap.is_retry:  # exactly what the first attempt sent: None for a typed message
        shown = tap.shown_text
    else:
        shown = query.message.text if isinstance(query.message, Message) else None
    await relay(update, context, payload, shown_text=shown, tapped_message_id=tapped_id)


def not_offered(query: CallbackQuery, *, tapped: bool) -> str | None:
    """What to answer a tap whose data is not a button under the tapped message, or None when it is
    one. Telegram passes on whatever data a client sends; the message (and its keyboard) in the tap
    is Telegram's own copy. A private chat's messages are tapped by that chat's user only.
    `tapped`: this process already took a tap on that message's keyboard."""
    message = query.message
    if message is not None and message.chat.id != query.from_user.id:
        return texts.BUTTON_NOT_OFFERED
    offered = offered_data(message)
    if offered is None:  # no keyboard left: used by an earlier tap, replaced, or never there
        return texts.ALREADY_DONE if tapped else texts.BUTTON_EXPIRED
    return None if query.data in offered else texts.BUTTON_NOT_OFFERED


async def on_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Turn a long list to the page a Previous / Next button asks for, after checking the tap."""
    query = update.callback_query
    assert query is not None
    message = query.message
    if not isinstance(message, Message):
        await query.answer(texts.PAGE_EXPIRED)
        return
    page = services_of(context).pages.turn(
        query.data or "", user_id=query.from_user.id, chat_id=message.chat.id, message_id=message.message_id
    )
    if isinstance(page, str):
        await query.answer(page)
        return
    await query.answer()
    try:
        await message.edit_text(page.text, reply_markup=page.keyboard)
    except BadRequest as err:
        if "not modified" not in err.message.lower():  # a double tap shows the same page again
            raise


async def remove_keyboard(message: object) -> bool:
    """Remove the keyboard under a message; False when it was already gone (an earlier tap)."""
    if not isinstance(message, Message):
        return True  # too old to edit; the in-memory tap record is the guard
    try:
        await message.edit_reply_markup(reply_markup=None)
    except BadRequest as err:
        if "not modified" in err.message.lower():
            return False
        log.warning("could not remove keyboard of message %s: %s", message.message_id, err.message)
    return True


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure first (never the message text), then apologise to the user if there is one."""
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(context.error, Forbidden) and isinstance(update, Update) and update.effective_user:
        # Telegram refused to message them: they blocked the bot. Nobody to apologise to.
        log.warning("update %s: user %s blocked the bot", update_id, update.effective_user.id)
        await record_reachable(context, update.effective_user.id, False, update.update_id)
        return
    log.error("update %s failed", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WENT_WRONG)
        except TelegramError:
            log.warning("could not tell chat %s about the failure", update.effective_chat.id)
