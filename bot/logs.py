"""Logging for the bot: no card number reaches a log line, whatever the level.

python-telegram-bot logs whole updates and API calls at DEBUG, so a card number typed into chat
would land in the log; the filter rewrites every record's message before any handler writes it.
"""

from __future__ import annotations

import logging

from privacy.cards import looks_like_card_number, redact_card_numbers

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactCardNumbers(logging.Filter):
    """Replaces card numbers in a record's message (after %-formatting) with a placeholder."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact and keep the record."""
        message = record.getMessage()
        if looks_like_card_number(message):
            record.msg, record.args = redact_card_numbers(message), None
        return True


def install_redaction(*handlers: logging.Handler) -> None:
    """Add the card-number filter to these handlers (default: the root logger's)."""
    for handler in handlers or tuple(logging.getLogger().handlers):
        if not any(isinstance(f, RedactCardNumbers) for f in handler.filters):
            handler.addFilter(RedactCardNumbers())


def configure_logging(level: int = logging.INFO) -> logging.Handler:
    """Log to stderr with card numbers redacted; quiet httpx, whose URLs carry the bot token."""
    # Our own handler rather than basicConfig, which does nothing when some handler already
    # exists: the redacting filter must sit on whatever actually writes the log.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    install_redaction()  # ours and any handler installed before it
    return handler
