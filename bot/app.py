"""Building and running the Telegram Application: wiring only, no behaviour.

Long polling by default; with TELEGRAM_WEBHOOK_URL set, a webhook server (behind an HTTPS proxy)
that checks Telegram's X-Telegram-Bot-Api-Secret-Token header against TELEGRAM_WEBHOOK_SECRET.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any, Final
from urllib.parse import urlparse

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import handlers
from bot.cardnumbers import CARD_NUMBERS
from bot.commands import register_commands
from bot.logs import configure_logging
from bot.notify import run_notifier
from bot.pages import PAGE_PREFIX
from bot.ratelimit import RepliesFirstRateLimiter
from bot.relay import SERVICES
from bot.services import BotServices, build_services
from bot.updates import (
    MemorySeenUpdates,
    OrderedUpdateProcessor,
    OverCapHandler,
    RedisSeenUpdates,
    SeenUpdates,
)
from observability import metrics
from settings import Settings, get_settings

log = logging.getLogger(__name__)

NOTIFIER: Final = "notifier"  # bot_data key of the task delivering the notifications outbox
HTTP_VERSION: Final = "1.1"  # PTB warns about HTTP/2 against a non-official base_url (tests, proxies)


def seen_updates_for(settings: Settings) -> SeenUpdates:
    """Where replayed update ids are remembered: Redis when configured, else memory."""
    if settings.redis_url:
        return RedisSeenUpdates(settings.redis_url, namespace=f"paychat:tg-update:{settings.environment}")
    return MemorySeenUpdates()


# Updates in handlers beyond the Rasa admission queue: ones that never reach Rasa (taps, commands)
# and a user's later updates waiting behind their earlier one.
UPDATE_HEADROOM = 64


def concurrent_updates_for(settings: Settings) -> int:
    """How many updates PTB hands to handlers at once: RASA_MAX_IN_FLIGHT + RASA_MAX_WAITING + headroom.

    With fewer (PTB's 64 before attack12b), the admission queue never filled: updates beyond that
    waited inside PTB without limit, without "typing…" and never told "busy". With this many, every
    message reaches the admission control, which queues it (bounded) or refuses it with the busy answer.
    """
    return settings.rasa_max_in_flight + settings.rasa_max_waiting + UPDATE_HEADROOM


def build_application(settings: Settings, services: BotServices | None = None) -> Application:  # type: ignore[type-arg]
    """The bot's Application; services are built in post_init unless given (tests)."""

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        built = application.bot_data[SERVICES] = services or build_services(settings)
        await register_commands(application.bot)
        if built.notifications is not None:
            application.bot_data[NOTIFIER] = asyncio.create_task(
                run_notifier(
                    application.bot,
                    built.notifications,
                    settings.telegram_notify_interval_seconds,
                    blocked=lambda telegram_user_id: built.known_users.pop(telegram_user_id, None),
                    reachability=built.reachability,
                ),
                name="paychat-notifier",
            )

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        notifier: asyncio.Task[None] | None = application.bot_data.pop(NOTIFIER, None)
        if notifier is not None:
            notifier.cancel()
            with suppress(asyncio.CancelledError):
                await notifier
        built: BotServices | None = application.bot_data.pop(SERVICES, None)
        if built is not None and services is None:
            await built.aclose()

    processor = OrderedUpdateProcessor(
        seen_updates_for(settings),
        concurrent_updates_for(settings),
        max_updates_per_user=settings.bot_max_updates_per_user,
    )
    application = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base)
        .http_version(HTTP_VERSION)
        .get_updates_http_version(HTTP_VERSION)
        .rate_limiter(RepliesFirstRateLimiter(max_retries=2))
        .concurrent_updates(processor)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    # Group -2 runs before anything else: the user is known, and back if they had blocked the bot.
    private_user = filters.ChatType.PRIVATE & filters.USER
    application.add_handler(MessageHandler(private_user, handlers.on_private_message), group=-2)
    # Group -1 runs next for every update: a card number stops there (in any chat), and so does an
    # update past its user's cap (answered cheaply, or not at all in a group), and anything else from
    # a group or a channel — private chats only.
    application.add_handler(MessageHandler(CARD_NUMBERS, handlers.on_card_number), group=-1)
    application.add_handler(OverCapHandler(processor), group=-1)
    application.add_handler(handlers.OutsidePrivateChatHandler(handlers.on_outside_private_chat), group=-1)
    # Edits are not new turns: they are answered and never reach the assistant (a pending summary
    # stays as it was). The chat filter repeats the rule above per handler.
    new_message = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
    edited = filters.UpdateType.EDITED_MESSAGE & filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(edited, handlers.on_edited_message))
    application.add_handler(CommandHandler("start", handlers.on_start, filters=new_message))
    application.add_handler(CommandHandler("help", handlers.on_help, filters=new_message))
    application.add_handler(
        CommandHandler(list(handlers.COMMAND_PAYLOADS), handlers.on_command, filters=new_message)
    )
    application.add_handler(CommandHandler("forget", handlers.on_forget, filters=new_message))
    application.add_handler(CommandHandler("mydata", handlers.on_mydata, filters=new_message))
    application.add_handler(CommandHandler("reminders", handlers.on_reminders, filters=new_message))
    application.add_handler(MessageHandler(new_message & filters.COMMAND, handlers.on_unknown_command))
    application.add_handler(MessageHandler(new_message & filters.TEXT, handlers.on_text))
    application.add_handler(
        CallbackQueryHandler(handlers.on_forget_answer, pattern=f"^{handlers.FORGET_CALLBACK}")
    )
    application.add_handler(CallbackQueryHandler(handlers.on_page, pattern=f"^{PAGE_PREFIX}"))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_handler(ChatMemberHandler(handlers.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(
        MessageHandler(new_message & ~filters.StatusUpdate.ALL, handlers.on_other_message)
    )
    application.add_error_handler(handlers.on_error)
    return application


def main() -> None:
    """Run the bot: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set."""
    settings = get_settings()
    application = prepare(settings, log_level=logging.getLevelName(settings.log_level.upper()))
    if metrics.serve(settings.metrics_host, settings.bot_metrics_port):
        log.info("metrics on http://%s:%s/metrics", settings.metrics_host, settings.bot_metrics_port)
    if not settings.telegram_webhook_url:
        log.info("starting long polling")
        application.run_polling(allowed_updates=Update.ALL_TYPES)
        return
    log.info("starting webhook on %s:%s", settings.telegram_webhook_listen, settings.telegram_webhook_port)
    application.run_webhook(**webhook_options(settings))


def prepare(
    settings: Settings, services: BotServices | None = None, log_level: int = logging.INFO
) -> Application:  # type: ignore[type-arg]
    """What main() runs before starting: logging (card numbers redacted), then the Application."""
    configure_logging(log_level)
    if not settings.telegram_bot_token:
        raise SystemExit("TELEGRAM_BOT_TOKEN is not set: the Telegram bot has nothing to run as")
    return build_application(settings, services)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments for run_webhook/start_webhook; refuses a webhook without a secret token."""
    if not settings.telegram_webhook_secret:
        raise SystemExit("TELEGRAM_WEBHOOK_SECRET must be set with TELEGRAM_WEBHOOK_URL")
    return {
        "listen": settings.telegram_webhook_listen,
        "port": settings.telegram_webhook_port,
        "url_path": urlparse(settings.telegram_webhook_url).path.lstrip("/"),
        "webhook_url": settings.telegram_webhook_url,
        "secret_token": settings.telegram_webhook_secret,
        "allowed_updates": Update.ALL_TYPES,
    }
