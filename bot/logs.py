"""Logging for the bot: paychat's JSON lines (observability.logs), with httpx kept quiet.

python-telegram-bot logs whole updates and API calls at DEBUG, so a card number or an e-mail
address typed into chat would land in the log; the JSON formatter scrubs every line before it is
written, and httpx (whose URLs carry the bot token) logs warnings only.
"""

from __future__ import annotations

import logging

from observability.logs import configure_logging as configure_json_logging

PROCESS = "telegram-bot"


def configure_logging(level: int = logging.INFO) -> logging.Handler:
    """Log to stderr as scrubbed JSON lines, named after the bot process."""
    return configure_json_logging(PROCESS, level)
