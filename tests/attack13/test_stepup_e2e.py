"""Attack on issue 13 item 2 end to end: a one-time code inside a "pay everything" round.

Real python-telegram-bot against the fake Telegram API, the real Rasa server with the trained model,
the action server, the sandbox and the database, on a stack of its own with codes from 500.00. The
demo user's rent (950.00) needs a code; the other bills do not.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from db.engine import make_engine
from scripts.train import current_model_path
from tests.bot.test_e2e_telegram import TURN_WAIT, bot_on, bot_settings, button, payments_of
from tests.helpers.fake_telegram import fake_telegram_server
from tests.helpers.stack import AssistantStack, start_assistant_stack

# Slow (its own assistant stack, ~3 min): runs in `make test-slow` and `make bench`;
# tests/actions/test_step_up.py covers the hand-over to the next bill inside `make test`.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

CODE_MESSAGE = re.compile(r"(\d{6}) is your one-time code")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AssistantStack]:
    model = current_model_path()
    if not model.exists():
        pytest.fail(f"no trained model for this checkout ({model}); run `make train`")
    env = {
        "PAYCHAT_STEP_UP_MINOR": "50000",
        "PAYCHAT_RISK_ENABLED": "false",
        "TELEGRAM_NOTIFY_INTERVAL_SECONDS": "1",
    }
    with start_assistant_stack(tmp_path_factory.mktemp("atk-step-up"), model, extra_env=env) as running:
        yield running


@pytest.fixture
def engine(stack: AssistantStack) -> Iterator[Engine]:
    engine = make_engine(stack.database_url)
    yield engine
    engine.dispose()


def _texts(fake: Any, user: int) -> list[str]:
    return [str(m.get("text") or "") for m in fake.sent_messages(user)]


async def _settle(fake: Any, user: int, seconds: float = 8.0) -> None:
    """Wait until the bot has said nothing new for a few seconds."""
    seen = -1
    while len(fake.sent_messages(user)) != seen:
        seen = len(fake.sent_messages(user))
        await asyncio.sleep(seconds)


async def test_stepup_a_code_inside_a_pay_all_round_keeps_the_round_going(
    stack: AssistantStack, engine: Engine
) -> None:
    user = 555391
    async with fake_telegram_server() as fake, bot_on(bot_settings(stack, fake)):
        await fake.send_text(user, "/start")
        await fake.wait_for_messages(user, 1, TURN_WAIT)
        await fake.send_text(user, "pay everything that's due")
        await _settle(fake, user)
        log: list[str] = []
        for _ in range(6):
            summaries = [
                m for m in fake.sent_messages(user)
                if any(b["text"] == "Confirm" for row in m.get("reply_markup", {}).get("inline_keyboard", [])
                       for b in row)
            ]  # fmt: skip
            if not summaries:
                break
            summary = summaries[-1]
            before = len(fake.sent_messages(user))
            await fake.tap(user, summary, button(summary, "Confirm"))
            await _settle(fake, user)
            new = _texts(fake, user)[before:]
            log.extend(new)
            if any("One more step" in t for t in new):
                # While the code waits, the round must not show the next bill's summary.
                shown = fake.sent_messages(user)[before:]
                assert not any("Confirm" in str(m.get("reply_markup")) for m in shown), new
                found = [CODE_MESSAGE.search(t) for t in _texts(fake, user)]
                code = [m.group(1) for m in found if m][-1]
                before = len(fake.sent_messages(user))
                await fake.send_text(user, code)
                await _settle(fake, user)
                after = _texts(fake, user)[before:]
                log.extend(after)
                assert any("Done" in t or "Paid" in t for t in after), after
                # The round goes on: the next bill is offered, or the round says nothing is left.
                assert any(
                    "Confirm" in str(m.get("reply_markup")) for m in fake.sent_messages(user)[before:]
                ) or any("left to pay" in t for t in after), after
            if any("left to pay" in t for t in new):
                break
        statuses = sorted(p.status for p in payments_of(engine, user))
        assert "draft" not in statuses, (statuses, log)
