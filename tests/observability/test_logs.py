"""The JSON log lines: one object per line, the conversation and payment ids, no personal data."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from observability.context import bind_payment, conversation, conversation_ref, payment
from observability.logs import EMAIL_PLACEHOLDER, JsonFormatter, scrub
from privacy.cards import CARD_PLACEHOLDER


@pytest.fixture
def lines() -> Iterator[list[dict[str, object]]]:
    """Every line logged under the `paychat.test` logger during the test, decoded."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("paychat.test")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    decoded: list[dict[str, object]] = []
    yield decoded
    logger.removeHandler(handler)
    logger.setLevel(level)


def read(handler_lines: list[dict[str, object]]) -> list[dict[str, object]]:
    """The lines written so far by the fixture's handler."""
    ours = logging.getLogger("paychat.test").handlers
    handler = next(h for h in ours if isinstance(h.formatter, JsonFormatter))
    stream = handler.stream  # type: ignore[attr-defined]
    handler_lines[:] = [json.loads(line) for line in stream.getvalue().splitlines()]
    return handler_lines


def test_a_line_carries_the_conversation_and_payment_through_a_worker_thread(
    lines: list[dict[str, object]],
) -> None:
    log = logging.getLogger("paychat.test")

    async def turn() -> None:
        with conversation("tg-42"):
            log.info("turn started")

            def in_the_core() -> None:
                bind_payment(17)
                log.info("payment %s -> %s", "draft", "approved", extra={"event": "payment.transition"})

            await asyncio.to_thread(in_the_core)
            log.info("turn answered")  # the thread's payment id stayed in the thread

    asyncio.run(turn())
    log.info("outside")

    first, core, answered, outside = read(lines)
    ref = conversation_ref("tg-42")
    assert first["conversation_id"] == ref and "payment_id" not in first
    assert core["conversation_id"] == ref and core["payment_id"] == 17
    assert core["msg"] == "payment draft -> approved" and core["event"] == "payment.transition"
    assert answered["conversation_id"] == ref and "payment_id" not in answered
    assert "conversation_id" not in outside
    assert {"ts", "level", "process", "logger", "msg"} <= set(first)
    assert "42" not in ref  # the sender id itself is not written


def test_card_numbers_and_email_addresses_are_scrubbed_from_messages_extras_and_tracebacks(
    lines: list[dict[str, object]],
) -> None:
    log = logging.getLogger("paychat.test")
    with payment(3):
        try:
            raise ValueError("cannot parse 'pay with 4242 4242 4242 4242, receipt to ann.lee@example.org'")
        except ValueError:
            log.exception("parsing %s failed", "ann.lee@example.org", extra={"typed": "4000000000000341"})

    [line] = read(lines)
    text = json.dumps(line)
    assert "4242 4242" not in text and "4000000000000341" not in text and "ann.lee" not in text
    assert CARD_PLACEHOLDER in str(line["exc"]) and EMAIL_PLACEHOLDER in str(line["msg"])
    assert line["payment_id"] == 3


def test_scrub_leaves_ordinary_text_alone() -> None:
    assert scrub("payment 12 -> succeeded in 0.84 s") == "payment 12 -> succeeded in 0.84 s"
    assert scrub("mail me at x.y@mail.example.com") == f"mail me at {EMAIL_PLACEHOLDER}"
