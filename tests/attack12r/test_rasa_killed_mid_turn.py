"""attack12r: Rasa SIGKILLed in the middle of a confirming turn (its tracker store now in WAL with
synchronous=NORMAL and a kept connection), then restarted; the user taps Confirm again.

The confirm's charge has reached the action server when Rasa dies: the tracker must hold the turn
whole or not at all, and the repeated tap must not charge twice. Real stack (session's assistant).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from payments.demo import ALEX
from rasa_client import AssistantTurn
from tests.e2e.test_stale_confirm import _draft_id, _intents_of, _summary
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _rows(stack: AssistantStack, sql: str, **params: object) -> list[dict[str, Any]]:
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def _user_events(tracker_db: Path, sender: str) -> list[str]:
    with sqlite3.connect(f"file:{tracker_db}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(data).get("text") for (data,) in rows]


def test_rasa_killed_while_confirming_keeps_the_turn_whole_or_absent_and_never_charges_twice(
    assistant_stack: AssistantStack,
) -> None:
    stack = assistant_stack
    [alex] = _rows(stack, "SELECT id FROM users WHERE demo_key = :k", k=ALEX)
    sender = f"console-{alex['id']}-kill_{uuid.uuid4().hex[:8]}"
    tracker_db = Path(stack.env["PAYCHAT_VAR_DIR"]) / "rasa-tracker.db"

    async def say(message: str, shown_text: str | None = None) -> AssistantTurn:
        metadata: dict[str, Any] = {"channel": "console"}
        if shown_text is not None:
            metadata["shown_text"] = shown_text
        client = stack.rasa_client(timeout_seconds=120)
        try:
            return await client.send(sender, message, metadata)
        finally:
            await client.aclose()

    summary_text, buttons = _summary(asyncio.run(say("pay 2 euros to vodafone")))
    confirm = buttons["Confirm"]
    payment_id = _draft_id(confirm)

    sandbox = stack.process("stripe-sandbox").popen.pid
    rasa = stack.process("rasa")
    os.killpg(sandbox, signal.SIGSTOP)  # the confirm's charge waits on Stripe (the sandbox)
    try:

        async def confirm_then_kill() -> None:
            task = asyncio.create_task(say(confirm, shown_text=summary_text))
            await asyncio.sleep(4)
            assert not task.done()
            os.killpg(rasa.popen.pid, signal.SIGKILL)  # Rasa dies mid-turn: no save, no close
            rasa.popen.wait(30)
            os.killpg(sandbox, signal.SIGCONT)  # the charge goes ahead; its answer has nobody
            with contextlib.suppress(Exception):  # the caller sees Rasa gone: that is the scenario
                await task

        asyncio.run(confirm_then_kill())
    finally:
        os.killpg(sandbox, signal.SIGCONT)
        stack.supervisor.stop(rasa)
        stack.supervisor.start(rasa.spec)

    for _ in range(120):
        [row] = _rows(stack, "SELECT status FROM payments WHERE id = :p", p=payment_id)
        if row["status"] not in ("draft", "processing"):
            break
        time.sleep(0.5)
    assert row["status"] == "succeeded", row
    assert len(_intents_of(stack, {payment_id})) == 1

    # The tracker holds the confirming turn whole (its user message and after) or not at all.
    assert _user_events(tracker_db, sender) in (
        ["pay 2 euros to vodafone"],
        ["pay 2 euros to vodafone", confirm],
    )

    again = asyncio.run(say(confirm, shown_text=summary_text))  # the user taps Confirm again
    assert len(_intents_of(stack, {payment_id})) == 1, "charged twice"
    [row] = _rows(
        stack,
        "SELECT count(*) AS n FROM payments WHERE user_id = :u AND status = 'succeeded' "
        "AND created_at >= (SELECT created_at FROM payments WHERE id = :p)",
        u=alex["id"],
        p=payment_id,
    )
    assert row["n"] == 1, (row, [r.text for r in again.replies])
