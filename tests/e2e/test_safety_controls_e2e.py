"""Issue 13's safety controls, one end-to-end conversation each, through the session's real stack.

Real python-telegram-bot against the fake Bot API (HTTP level), the real Rasa server with the
trained model, the action server, the Stripe sandbox and the stack's database; the operator's side
is the real `python -m paychat` CLI in a subprocess with the stack's environment. Each test is a
new Telegram user (fresh demo bills, never paid any biller).

Settings a control needs that the shared stack does not have (a time lock, a restricted Stripe
key) come from restarting only its action server with them (`action_server_with`), not a new stack.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot import texts
from db.engine import make_engine, make_session_factory
from db.models import AuditLogEntry, Consent, Conversation, Payment, StripeCustomer, User, utcnow
from payments import worker
from payments.config import service_config_from
from payments.service import PaymentsService
from payments.stripe_gateway import build_gateway
from payments.stripe_permissions import SANDBOX_ONLY_CALLS, STRIPE_CALLS
from scripts import procs
from testing.faultproxy import fault_proxies
from testing.permission_proxy import add_permission_proxy
from tests.bot.test_e2e_telegram import (
    TURN_WAIT,
    bot_on,
    bot_settings,
    button,
    payments_of,
    summary_for_electricity,
    with_keyboard,
)
from tests.helpers.fake_telegram import FakeTelegram, fake_telegram_server
from tests.helpers.stack import AssistantStack
from transcripts.forgetting import tracker_events

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LOCK_MINUTES = 10


@pytest.fixture
def engine(assistant_stack: AssistantStack) -> Iterator[Engine]:
    """An engine on the stack's database, for checking what the conversation did."""
    engine = make_engine(assistant_stack.database_url)
    yield engine
    engine.dispose()


def paychat(stack: AssistantStack, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m paychat ARGS` as an operator runs it on the stack's host (the stack's environment)."""
    return subprocess.run(
        [str(procs.APP_PYTHON), "-m", "paychat", *args],
        cwd=procs.ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def user_id_of(engine: Engine, telegram_user_id: int) -> int:
    """Our user id behind a Telegram user."""
    with Session(engine) as session:
        return session.scalars(select(User.id).where(User.telegram_user_id == telegram_user_id)).one()


def sandbox_intents(stack: AssistantStack, customer: str) -> list[dict[str, Any]]:
    """Every PaymentIntent the sandbox holds for a Stripe customer (all pages)."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"starting_after": after} if after else {})
        page = httpx.get(
            f"{stack.stripe_api_base}/v1/payment_intents",
            params=params,
            headers={"Authorization": "Bearer sk_test_paychat_sandbox"},
            timeout=10,
        ).json()
        found += [i for i in page["data"] if i.get("customer") == customer]
        if not page.get("has_more") or not page["data"]:
            return found
        after = page["data"][-1]["id"]


def customer_of(engine: Engine, user_id: int) -> str:
    """The Stripe customer id of a user."""
    with Session(engine) as session:
        return session.scalars(
            select(StripeCustomer.stripe_customer_id).where(StripeCustomer.user_id == user_id)
        ).one()


def said(fake: FakeTelegram, user: int, fragment: str) -> Any:
    """A predicate: the latest message to `user` whose text holds `fragment`."""
    return lambda: next((m for m in reversed(fake.sent_messages(user)) if fragment in m["text"]), None)


# --- 1. Limits ---------------------------------------------------------------------------------


async def test_over_an_own_daily_limit_the_chat_names_the_limit_what_is_left_and_the_reset(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    """Operator sets a €50 daily limit (`paychat limits set`); asking to pay €84.20 is refused in
    chat with the limit, what is left and when it resets; nothing reaches the sandbox."""
    user = 555131
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        await fake.send_text(user, "/start")
        await fake.wait_for_messages(user, 1, TURN_WAIT)
        user_id = user_id_of(engine, user)
        done = paychat(assistant_stack, "limits", "set", str(user_id), "--by", "e2e", "--daily", "5000")
        assert done.returncode == 0, done.stderr
        assert "daily: €50.00 (own)" in done.stdout

        await fake.send_text(user, "pay my electricity bill")
        refusal = await fake.wait_for(said(fake, user, "daily limit"), TURN_WAIT)

    assert refusal["text"] == (
        "That would go over your daily limit of €50.00: €50.00 is left for that day, and your daily "
        "limit resets tomorrow at 00:00. You could pay less or schedule it for another day."
    )
    assert "reply_markup" not in refusal  # no Confirm to tap
    assert not any(p.status != "draft" or p.payment_intent_id for p in payments_of(engine, user))
    assert sandbox_intents(assistant_stack, customer_of(engine, user_id)) == []


# --- 3. Time lock ------------------------------------------------------------------------------


@contextmanager
def action_server_with(stack: AssistantStack, **env: str) -> Iterator[None]:
    """The stack's action server restarted with `env` on top of its own; the shared one put back after.

    Cheaper than a second stack: Rasa, the model, the sandbox and the database stay the session's.
    """
    supervisor = stack.supervisor
    original = stack.process("action-server").spec
    supervisor.stop(stack.process("action-server"))
    supervisor.start(dataclasses.replace(original, env={**original.env, **env}))
    try:
        yield
    finally:
        supervisor.stop(stack.process("action-server"))
        supervisor.start(original)


@pytest.fixture
def time_locked_actions(assistant_stack: AssistantStack) -> Iterator[AssistantStack]:
    """The stack with a time lock (only the action server applies it: the core reads its settings)."""
    with action_server_with(assistant_stack, PAYCHAT_TIME_LOCK_MINUTES=str(LOCK_MINUTES)):
        yield assistant_stack


def worker_after_the_lock(stack: AssistantStack, engine: Engine) -> PaymentsService:
    """The worker's service on the stack, its clock moved past the cancel window."""
    settings = stack.settings.model_copy(update={"time_lock_minutes": float(LOCK_MINUTES)})
    return PaymentsService(
        session_factory=make_session_factory(engine),
        gateway=build_gateway(settings),
        config=service_config_from(settings),
        clock=lambda: utcnow() + timedelta(minutes=LOCK_MINUTES + 1),
    )


async def held_first_payment(fake: FakeTelegram, engine: Engine, user: int) -> dict[str, Any]:
    """Confirm the electricity bill (a biller never paid): the reply that says when it will run."""
    summary = await summary_for_electricity(fake, user)
    await fake.tap(user, summary, button(summary, "Confirm"))
    held: dict[str, Any] = await fake.wait_for(said(fake, user, "To keep you safe"), TURN_WAIT)
    [payment] = payments_of(engine, user)
    assert payment.status == "approved" and payment.payment_intent_id is None
    assert re.fullmatch(
        r"All set ⏳ To keep you safe, I'll send €84\.20 to Stadtwerke (today|tomorrow) at \d\d:\d\d "
        r"\(your time\), not right away\. Until then you can still cancel it — just say “cancel”\.",
        held["text"],
    ), held["text"]
    return held


def charged_nothing_after_the_window(stack: AssistantStack, engine: Engine, user: int) -> None:
    """A worker round with the clock past the window leaves the payment cancelled and uncharged."""
    worker.run_round(worker_after_the_lock(stack, engine))
    [after] = payments_of(engine, user)
    assert (after.status, after.payment_intent_id) == ("cancelled", None)
    assert sandbox_intents(stack, customer_of(engine, after.user_id)) == []


async def test_a_first_payment_to_a_biller_is_held_says_when_and_is_cancelled_in_chat(
    time_locked_actions: AssistantStack, engine: Engine
) -> None:
    """Confirm → "I'll send it today/tomorrow at HH:MM" → "cancel my electricity payment" → cancelled;
    a worker round after the window charges nothing."""
    stack, user = time_locked_actions, 555132
    async with fake_telegram_server() as fake, bot_on(bot_settings(stack, fake)):
        await held_first_payment(fake, engine, user)
        await fake.send_text(user, "cancel my electricity payment")
        cancelled = await fake.wait_for(said(fake, user, "Cancelled"), TURN_WAIT)

    assert "€84.20" in cancelled["text"] and "Stadtwerke" in cancelled["text"]
    charged_nothing_after_the_window(stack, engine, user)


async def test_saying_cancel_as_the_held_reply_asks_cancels_the_held_payment(
    time_locked_actions: AssistantStack, engine: Engine
) -> None:
    """The held reply's own instruction, followed word for word ("cancel" is the stop intent to the
    model): the held payment is cancelled and the reply names it."""
    stack, user = time_locked_actions, 555133
    async with fake_telegram_server() as fake, bot_on(bot_settings(stack, fake)):
        await held_first_payment(fake, engine, user)
        answered = len(fake.sent_messages(user))
        await fake.send_text(user, "cancel")
        await fake.wait_for(lambda: len(fake.sent_messages(user)) > answered, TURN_WAIT)

    answer = fake.sent_messages(user)[-1]["text"]
    assert payments_of(engine, user)[0].status == "cancelled", answer
    assert answer == "Cancelled: €84.20 to Stadtwerke. Nothing will be charged."
    charged_nothing_after_the_window(stack, engine, user)


async def pay_electricity(
    fake: FakeTelegram, engine: Engine, user: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ask, tap Confirm, wait until charged: (the summary message shown, the tap's update)."""
    summary = await summary_for_electricity(fake, user)
    tapped = await fake.tap(user, summary, button(summary, "Confirm"))
    await fake.wait_for(lambda: [p.status for p in payments_of(engine, user)] == ["succeeded"], TURN_WAIT)
    return summary, tapped


# --- 6. Audit ----------------------------------------------------------------------------------


def copy_of(database_url: str, into: Path) -> str:
    """A consistent copy of the stack's SQLite database (tampering with it leaves the stack's alone)."""
    assert database_url.startswith("sqlite:///"), database_url
    target = into / "tampered.db"
    source = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    with closing(source), closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


async def test_a_paid_bill_is_in_the_audit_chain_and_an_altered_row_is_named(
    assistant_stack: AssistantStack, engine: Engine, tmp_path: Path
) -> None:
    """A bill paid by chat: `paychat audit verify` passes and the chain holds each of the payment's
    state changes; in a copy of the database one of them altered → exit 1 naming that row."""
    user = 555134
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        await pay_electricity(fake, engine, user)
    [payment] = payments_of(engine, user)

    ok = paychat(assistant_stack, "audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("audit log: ok")
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.payment_id == payment.id).order_by(AuditLogEntry.id)
        ).all()
    moves = [(r.from_status, r.to_status) for r in rows if r.to_status]
    assert moves == [
        (None, "draft"),
        ("draft", "approved"),
        ("approved", "processing"),
        ("processing", "succeeded"),
    ]

    tampered = copy_of(assistant_stack.database_url, tmp_path)
    charged = next(r for r in rows if r.to_status == "succeeded")
    with closing(sqlite3.connect(tampered.removeprefix("sqlite:///"))) as connection, connection:
        connection.execute("DROP TRIGGER audit_log_no_update")  # an attacker with DDL rights
        connection.execute("UPDATE audit_log SET to_status = 'failed' WHERE id = ?", (charged.id,))
    bad = paychat(assistant_stack, "audit", "verify", "--database-url", tampered)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad.stdout.splitlines() == [f"row {charged.id}: altered: its content no longer matches its hash"]


# --- 7. Consent receipts -----------------------------------------------------------------------


async def test_a_tapped_confirm_is_a_receipt_paychat_consent_shows_and_verifies(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    """Confirm tapped in Telegram → `paychat consent show` prints the summary the user saw, the tap's
    callback_query id and the PaymentIntent; `paychat consent verify` exits 0."""
    user = 555135
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        summary, tapped = await pay_electricity(fake, engine, user)
    [payment] = payments_of(engine, user)
    with Session(engine) as session:
        consent_id = session.scalars(select(Consent.id).where(Consent.payment_id == payment.id)).one()

    shown = paychat(assistant_stack, "consent", "show", str(consent_id))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    start = lines.index("  summary shown to the user:") + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("  signature "))
    assert [line.removeprefix("    ") for line in lines[start:end]] == summary["text"].splitlines()
    assert f"  tap callback id   {tapped['callback_query']['id']}" in lines
    assert f"  PaymentIntent     {payment.payment_intent_id}" in lines
    assert f"  payment           {payment.id} (now succeeded)" in lines

    verified = paychat(assistant_stack, "consent", "verify", str(consent_id))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"consent {consent_id}: ok (signature valid, audit row ")


# --- 9. Privacy --------------------------------------------------------------------------------


async def test_mydata_then_forget_and_the_next_message_is_a_new_user_with_no_old_context(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    """A paid bill and a shown summary; /mydata holds both; /forget → Yes: tracker and transcripts
    gone, payments kept anonymized; then "yes" finds no old summary to confirm and a new user answers."""
    user, sender = 555136, "tg-555136"
    tracker = Path(assistant_stack.process("rasa").spec.env["RASA_TRACKER_DB"])
    async with fake_telegram_server() as fake, bot_on(bot_settings(assistant_stack, fake)):
        await pay_electricity(fake, engine, user)
        await fake.send_text(user, "pay my phone bill")
        await fake.wait_for(said(fake, user, "Vodafone"), TURN_WAIT)
        await fake.send_text(user, "/mydata")
        await fake.wait_for(lambda: fake.documents, TURN_WAIT)
        [document] = fake.documents.values()
        old_user = user_id_of(engine, user)

        await fake.send_text(user, "/forget")
        ask = await fake.wait_for(with_keyboard(fake, user, texts.FORGET_YES), TURN_WAIT)
        await fake.tap(user, ask, button(ask, texts.FORGET_YES))
        await fake.wait_for(said(fake, user, texts.FORGOTTEN), TURN_WAIT)
        assert tracker_events(tracker, sender) == 0
        with Session(engine) as session:
            assert session.scalar(select(Conversation.id).where(Conversation.sender_id == sender)) is None

        await fake.send_text(user, "yes")
        fresh = await fake.wait_for(said(fake, user, "nothing waiting for your confirmation"), TURN_WAIT)

    mine = json.loads(document)
    assert mine["user"]["id"] == old_user
    assert sorted((p["status"], p["amount_minor"]) for p in mine["payments"])[-1] == ("succeeded", 8420)
    assert len(mine["payments"]) == 2
    new_user = user_id_of(engine, user)
    assert new_user != old_user and payments_of(engine, user) == []
    with Session(engine) as session:
        forgotten = session.get_one(User, old_user)
        assert (forgotten.name, forgotten.telegram_user_id) == ("", None)
        kept = sorted(
            (p.status, p.amount_minor, bool(p.payment_intent_id))
            for p in session.scalars(select(Payment).where(Payment.user_id == old_user))
        )
    # The paid bill kept (under the anonymized user); the phone summary never confirmed, uncharged.
    assert kept[-1] == ("succeeded", 8420, True)
    assert len(kept) == 2 and kept[0][0] in ("draft", "cancelled") and kept[0][2] is False
    assert fresh["text"].startswith("There's nothing waiting")
    assert tracker_events(tracker, sender) > 0  # the new user's own conversation


# --- 10. Least privilege -----------------------------------------------------------------------


def bot_settings_through(stack: AssistantStack, stripe_base: str) -> Any:
    """bot_settings for a fake Telegram, with the bot's own Stripe calls (demo cards) via `stripe_base`."""
    return lambda fake: bot_settings(stack, fake).model_copy(update={"stripe_api_base": stripe_base})


async def test_a_chat_payment_needs_only_the_declared_stripe_permissions(
    assistant_stack: AssistantStack, engine: Engine
) -> None:
    """The action server and the bot reach Stripe only through the restricted-key proxy: a new user
    (demo card set up) pays a bill by chat and no request is refused."""
    user = 555137
    with fault_proxies() as proxies:
        proxy = add_permission_proxy(proxies, assistant_stack.stripe_api_base)
        with action_server_with(assistant_stack, STRIPE_API_BASE=proxy.url):
            settings = bot_settings_through(assistant_stack, proxy.url)
            async with fake_telegram_server() as fake, bot_on(settings(fake)):
                await pay_electricity(fake, engine, user)

    assert proxy.log.refused == []
    declared = {(c.method, c.path) for c in STRIPE_CALLS + SANDBOX_ONLY_CALLS}
    assert proxy.log.used <= declared
    # Both processes went through it: the bot set up the demo customer, the action server charged.
    assert {("POST", "/v1/customers"), ("POST", "/v1/payment_intents")} <= proxy.log.used
