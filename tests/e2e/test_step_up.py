"""End to end, issue 13 items 2 and 5: the one-time code through the real stack.

Real python-telegram-bot long polling the fake Telegram API, the real Rasa server with the trained
model, the action server, the Stripe sandbox and the database, on a stack of its own with the
step-up code (from 500.00) and the risk check on (the shared stack has both off). The card-age rule
is off here: every demo user's card is added on first contact, a minute before they pay.

1. A large payment (the rent, 950.00) asks for the code; the user types it from the separate
   message the bot's notifier delivered; it is paid.
   The same user then sets up an autopay that may move 600.00 a month: it waits for its own code
   (from its own message, worded for the autopay) and goes live once the code is typed.
2. A smaller payment (300.00 of the rent) that the risk check flags (a first payment to the biller,
   and a large one) asks for the code too; typed, it is paid.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import AuditLogEntry, Mandate, RiskDecision, User
from scripts.train import current_model_path
from tests.bot.test_e2e_telegram import (
    TURN_WAIT,
    bot_on,
    bot_settings,
    button,
    payments_of,
    user_texts,
    with_keyboard,
)
from tests.helpers.fake_telegram import FakeTelegram, fake_telegram_server
from tests.helpers.stack import AssistantStack, start_assistant_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CODE_MESSAGE = re.compile(r"(\d{6}) is your one-time code for the payment of (\S+) to (.+?)\.")
MANDATE_CODE = re.compile(r"(\d{6}) is your one-time code to set up autopay for .+? up to (\S+) a month\.")


@pytest.fixture(scope="module")
def step_up_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AssistantStack]:
    """The assistant with one-time codes from 500.00 and the risk check on (card age off)."""
    model = current_model_path()
    if not model.exists():
        pytest.fail(f"no trained model for this checkout ({model}); run `make train`")
    env = {
        "PAYCHAT_STEP_UP_MINOR": "50000",
        "PAYCHAT_RISK_ENABLED": "true",
        "PAYCHAT_RISK_NEW_CARD_MINUTES": "0",
        "TELEGRAM_NOTIFY_INTERVAL_SECONDS": "1",
    }
    with start_assistant_stack(tmp_path_factory.mktemp("step-up-stack"), model, extra_env=env) as stack:
        yield stack


@pytest.fixture
def engine(step_up_stack: AssistantStack) -> Iterator[Engine]:
    """An engine on the stack's database."""
    engine = make_engine(step_up_stack.database_url)
    yield engine
    engine.dispose()


def _containing(fake: FakeTelegram, chat_id: int, pattern: str) -> Any:
    """A predicate: the latest message to the chat whose text matches `pattern`."""

    def find() -> dict[str, Any] | None:
        for message in reversed(fake.sent_messages(chat_id)):
            if re.search(pattern, message.get("text") or ""):
                return dict(message)
        return None

    return find


async def _pay_with_code(
    stack: AssistantStack, engine: Engine, user: int, ask: str, amount: str
) -> tuple[str, str]:
    """Ask, confirm, read the code from its own message, type it; (the pending message, the code)."""
    async with fake_telegram_server() as fake, bot_on(bot_settings(stack, fake)):
        await fake.send_text(user, "/start")
        await fake.wait_for_messages(user, 1, TURN_WAIT)
        await fake.send_text(user, ask)
        summary = await fake.wait_for(with_keyboard(fake, user, "Confirm"), TURN_WAIT)
        assert amount in summary["text"], summary["text"]
        await fake.tap(user, summary, button(summary, "Confirm"))
        pending = await fake.wait_for(_containing(fake, user, "One more step"), TURN_WAIT)
        code_message = await fake.wait_for(_containing(fake, user, CODE_MESSAGE.pattern), TURN_WAIT)
        match = CODE_MESSAGE.search(code_message["text"])
        assert match is not None and match.group(2) == amount
        assert code_message is not pending  # a separate message, from the outbox
        assert all(p.status == "draft" for p in payments_of(engine, user))  # nothing charged yet
        code = match.group(1)
        await fake.send_text(user, code)
        paid = lambda: any(p.status == "succeeded" for p in payments_of(engine, user))  # noqa: E731
        await fake.wait_for(paid, TURN_WAIT)
    return str(pending["text"]), code


def _no_code_kept(engine: Engine, user: int, code: str) -> None:
    """The code is in no transcript and no audit row."""
    texts = user_texts(engine, user)
    assert code not in " ".join(texts) and "••••••" in texts
    with Session(engine) as session:
        assert all(code not in repr(row.data) for row in session.scalars(select(AuditLogEntry)))


async def test_a_large_payment_is_paid_after_the_code_from_the_separate_message(
    step_up_stack: AssistantStack, engine: Engine
) -> None:
    user = 555301
    pending, code = await _pay_with_code(step_up_stack, engine, user, "pay my rent", "€950.00")

    assert "because it's a large payment" in pending and "6-digit code" in pending
    [payment] = payments_of(engine, user)
    assert payment.status == "succeeded" and (payment.payment_intent_id or "").startswith("pi_")
    _no_code_kept(engine, user, code)

    # The same user sets up an autopay that may move 600.00 a month: the code first, as for the rent.
    autopay_code = await _autopay_with_code(step_up_stack, engine, user)
    _no_code_kept(engine, user, autopay_code)


def _live_mandates(telegram_user_id: int) -> Any:
    """The Telegram user's active mandates (a query)."""
    return (
        select(Mandate)
        .join(User, Mandate.user_id == User.id)
        .where(User.telegram_user_id == telegram_user_id, Mandate.status == "active")
    )


async def _autopay_with_code(stack: AssistantStack, engine: Engine, user: int) -> str:
    """Ask for an autopay over the threshold, Confirm, read its code from its own message, type it."""
    async with fake_telegram_server() as fake, bot_on(bot_settings(stack, fake)):
        await fake.send_text(user, "pay my phone bill every month up to 600 € until June")
        summary = await fake.wait_for(with_keyboard(fake, user, "Confirm"), TURN_WAIT)
        assert "€600.00" in summary["text"], summary["text"]
        await fake.tap(user, summary, button(summary, "Confirm"))
        pending = await fake.wait_for(_containing(fake, user, "To switch on autopay"), TURN_WAIT)
        assert "up to €600.00 a month" in pending["text"], pending["text"]
        code_message = await fake.wait_for(_containing(fake, user, MANDATE_CODE.pattern), TURN_WAIT)
        match = MANDATE_CODE.search(code_message["text"])
        assert match is not None and match.group(2) == "€600.00"
        with Session(engine) as session:  # nothing is live before the code
            assert session.scalars(_live_mandates(user)).all() == []
        await fake.send_text(user, match.group(1))
        on = await fake.wait_for(_containing(fake, user, "Autopay is on"), TURN_WAIT)
        assert "€600.00" in on["text"], on["text"]
    with Session(engine) as session:
        [mandate] = session.scalars(_live_mandates(user)).all()
        assert mandate.consent_id is not None and mandate.cap_minor == 60_000
    return match.group(1)


async def test_a_payment_the_risk_check_flags_asks_for_the_code_too(
    step_up_stack: AssistantStack, engine: Engine
) -> None:
    user = 555302
    pending, code = await _pay_with_code(
        step_up_stack, engine, user, "pay 300 euros of my rent", "€300.00"
    )

    assert "because it's a large first payment to this biller" in pending
    assert "it's a large payment" not in pending  # under the step-up amount: the risk flag asked
    [payment] = payments_of(engine, user)
    assert payment.status == "succeeded"
    with Session(engine) as session:
        [decision] = session.scalars(select(RiskDecision).where(RiskDecision.payment_id == payment.id))
        assert (decision.decision, decision.reasons) == ("step_up", ["new_payee_large"])
    _no_code_kept(engine, user, code)
