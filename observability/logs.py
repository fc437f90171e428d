"""One JSON object per log line, with the conversation and payment ids, and no personal data.

`configure_logging(process)` is the one logging setup of every paychat process (the bot, the action
server, the console, the worker; the Rasa channel puts `JsonFormatter` on its own logger). Each
line: `ts` (UTC, ISO 8601), `level`, `process`, `logger`, `msg`, the bound `conversation_id` and
`payment_id` (observability.context), `extra` fields passed by the caller, and `exc` (the
traceback). Personal data is kept out twice: our code logs ids and codes, never message text,
names or addresses; and every line is scrubbed before it is written — card numbers
(`privacy.cards`) and e-mail addresses are replaced, whatever logged them (a library's DEBUG dump,
an exception's message).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any, Final

from observability.context import current
from privacy.cards import looks_like_card_number, redact_card_numbers

UTC_ZONE: Final = timezone.utc  # noqa: UP017 (datetime.UTC is 3.11+; the Rasa process runs 3.10)
EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_PLACEHOLDER: Final = "[e-mail removed]"
# LogRecord's own attributes: anything else on a record came from `extra=` and is written as is.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# Libraries whose INFO lines carry URLs with tokens (httpx: the bot token in every Bot API URL).
QUIET_LOGGERS: Final = ("httpx", "httpcore", "stripe", "urllib3")


def scrub(text: str) -> str:
    """`text` with card numbers and e-mail addresses replaced by placeholders."""
    if looks_like_card_number(text):
        text = redact_card_numbers(text)
    return EMAIL.sub(EMAIL_PLACEHOLDER, text) if "@" in text else text


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON, scrubbed of card numbers and e-mail addresses."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC_ZONE).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "process": self.process,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(current())
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return scrub(json.dumps(line, default=str, ensure_ascii=False))


def configure_logging(process: str, level: int = logging.INFO) -> logging.Handler:
    """Every record of this process to stderr as scrubbed JSON (called again: replaces its handler)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, JsonFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
