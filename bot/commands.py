"""The bot's commands, from one table (`texts.COMMANDS`): the menu Telegram shows and what /help lists.

At start-up `register_commands` sends the menu with `setMyCommands` once per language the table
words (the default, "", for every other language), scoped to private chats, the only chats the
bot talks in. /help renders the same table in the user's language, so the two cannot drift apart.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats
from telegram.error import TelegramError

from bot import texts

log = logging.getLogger(__name__)


def descriptions(language_code: str | None) -> dict[str, str]:
    """Command → short description in the user's language ("pt-br" → "pt"), else the default."""
    language = (language_code or "").split("-")[0].lower()
    return texts.COMMANDS.get(language) or texts.COMMANDS[""]


def menu(language_code: str | None = None) -> list[BotCommand]:
    """The command menu in one language, in the table's order."""
    return [BotCommand(command, text) for command, text in descriptions(language_code).items()]


def help_text(language_code: str | None) -> str:
    """What /help says: the same commands as the menu, then how to talk to the bot."""
    lines = "\n".join(f"/{command} — {text}" for command, text in descriptions(language_code).items())
    return texts.HELP.format(commands=lines)


async def register_commands(bot: Bot) -> None:
    """Send the menu to Telegram for every language in the table; a failure is logged, not fatal."""
    scope = BotCommandScopeAllPrivateChats()
    for language in texts.COMMANDS:
        try:
            await bot.set_my_commands(menu(language), scope=scope, language_code=language or None)
        except TelegramError as error:
            log.warning("command menu (language %r) not registered: %s", language, error)
