"""Reliability under faults: payment conversations through the Telegram path while parts fail.

Each scenario gives a few fresh users a payment conversation through the real bot (fake Bot API):
"pay my <bill>" → the summary with Confirm; then the fault is injected and everyone taps Confirm;
then the fault is healed, and a user who was told the assistant is unreachable taps "Try again",
as a person would. Faults come from fault proxies (testing/faultproxy.py) in front of the Stripe
sandbox, the action server and Rasa (HTTP 500, blackhole/timeout, connection reset before or after
the upstream acted, added latency), from killing and restarting the action server or Rasa, and
from terminating the application's PostgreSQL connections.

Then the worker's reconciliation round runs (as payments/worker.py would once each charge's
deadline, the Stripe timeout plus a grace, has passed: on a clock moved past it), and
every scenario is judged on four invariants:

- no lost message: every message and tap got a reply within the turn timeout (a normal answer or
  a clear failure message);
- resumed or told: each conversation ended paid, or with a clear message to the user;
- every payment terminal (succeeded, failed, cancelled) or waiting with a path forward
  (a draft that expires, `unknown` the worker reconciles), none stuck;
- no double charge: no idempotency key with two successful PaymentIntents in the sandbox, and
  no successful PaymentIntent whose payment the database does not hold as succeeded.

Writes bench/results/reliability.{md,json} (or `--out`).
Usage: `PYTHONPATH=. .venvs/app/bin/python -m bench.reliability [--quick] [--users N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench import environment
from bench.invariants import TERMINAL, charge_counts
from bench.stack import BenchStack, exit_on_sigterm, start_bench_stack
from bench.users import PAYABLE_BILLS, BenchUser, provision_users
from bot import texts
from db.engine import make_engine
from db.models import Notification, Payment
from scripts.train import ensure_model
from testing.faultproxy import Fault, Toxic

RESULTS = Path(__file__).resolve().parent / "results"
REPLY_TIMEOUT_SECONDS = 75.0  # longer than the bot's Rasa timeout (30 s) and Stripe's (10 s)
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class Conversation:
    """One simulated user's payment conversation in a scenario and what came back."""

    user: BenchUser
    sent: int = 0
    answered: int = 0
    replies: list[str] = field(default_factory=list)
    retried: bool = False

    @property
    def outcome(self) -> str:
        """paid | paid_after_retry | told_<what> | unanswered."""
        if self.answered < self.sent:
            return "unanswered"
        # Rasa splits a reply at blank lines: a paid reply's receipt ("🧾 Receipt …") comes as its
        # own last message, so the answer is the last message that is not a receipt part.
        answers = [r for r in self.replies if not r.startswith("🧾")]
        last = answers[-1] if answers else ""
        if last.startswith("Done"):
            return "paid_after_retry" if self.retried else "paid"
        if last != texts.NO_ANSWER_PAYMENT and "went through" in last:
            return "paid_then_notified"
        return "told_" + _category(last)


def _category(reply: str) -> str:
    # Not processed, or no answer came and nothing was carried out: Try again.
    if reply in (texts.BRAIN_DOWN, texts.NO_ANSWER, texts.NO_ANSWER_TAP_NOT_CARRIED_OUT):
        return "assistant_unreachable"
    if reply == texts.NO_ANSWER_PAYMENT:  # a Confirm left unanswered: told to check, not to confirm again
        return "payment_status_offered"
    if reply == texts.SOMETHING_WENT_WRONG:
        return "something_went_wrong"
    for marker, name in (
        ("didn't go through", "failed_notified"),
        ("declined", "declined"),
        ("on its way", "processing_will_notify"),
        ("Done", "paid"),
        ("couldn't", "could_not"),
    ):
        if marker in reply:
            return name
    return "other: " + reply[:60]


@dataclass
class Scenario:
    """A fault, where it is injected, and how it is healed."""

    name: str
    where: str
    fault: str
    inject: Callable[[BenchStack], Awaitable[None]]
    heal: Callable[[BenchStack], Awaitable[None]]
    quick: bool = False
    needs: str = ""  # "action-proxy" or "postgres": skipped when the stack has no such thing


def _proxy_fault(
    proxy: str, fault: Fault
) -> tuple[Callable[[BenchStack], Awaitable[None]], Callable[[BenchStack], Awaitable[None]]]:
    async def inject(stack: BenchStack) -> None:
        assert stack.proxies is not None
        stack.proxies[proxy].set(Fault(**vars(fault)))

    async def heal(stack: BenchStack) -> None:
        assert stack.proxies is not None
        stack.proxies[proxy].clear()

    return inject, heal


def _kill_and_restart(
    name: str,
) -> tuple[Callable[[BenchStack], Awaitable[None]], Callable[[BenchStack], Awaitable[None]]]:
    specs: dict[str, Any] = {}

    async def inject(stack: BenchStack) -> None:
        specs[name] = await asyncio.to_thread(stack.stop, name, kill=True)

    async def heal(stack: BenchStack) -> None:
        await asyncio.to_thread(stack.start, specs.pop(name))

    return inject, heal


async def _drop_postgres_connections(stack: BenchStack) -> None:
    url = make_url(stack.database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": url.database},
            )
    finally:
        admin.dispose()


async def _nothing(stack: BenchStack) -> None:
    return None


PAYMENT_INTENTS = "/v1/payment_intents"


def scenarios() -> list[Scenario]:
    """Every scenario, in the order they run."""
    made: list[Scenario] = []

    def proxied(name: str, proxy: str, fault: Fault, label: str, quick: bool = False) -> None:
        inject, heal = _proxy_fault(proxy, fault)
        made.append(
            Scenario(
                name,
                proxy,
                label,
                inject,
                heal,
                quick=quick,
                needs="action-proxy" if proxy == "action-server" else "",
            )
        )

    proxied(
        "stripe_500",
        "stripe-sandbox",
        Fault(Toxic.HTTP_500, path_prefix=PAYMENT_INTENTS),
        "charge answered HTTP 500",
        quick=True,
    )
    proxied(
        "stripe_timeout",
        "stripe-sandbox",
        Fault(Toxic.BLACKHOLE, path_prefix=PAYMENT_INTENTS),
        "charge never answered (gateway timeout)",
    )
    proxied(
        "stripe_reset_before",
        "stripe-sandbox",
        Fault(Toxic.RESET, path_prefix=PAYMENT_INTENTS),
        "connection reset before the charge reached Stripe",
    )
    proxied(
        "stripe_reset_after",
        "stripe-sandbox",
        Fault(Toxic.RESET_AFTER, path_prefix=PAYMENT_INTENTS),
        "charge made, then the connection reset (answer lost)",
        quick=True,
    )
    proxied(
        "stripe_slow",
        "stripe-sandbox",
        Fault(Toxic.LATENCY, latency_seconds=3.0),
        "every sandbox answer 3 s late",
    )
    proxied("action_server_500", "action-server", Fault(Toxic.HTTP_500), "action calls answered HTTP 500")
    proxied("action_server_reset", "action-server", Fault(Toxic.RESET), "action calls' connections reset")
    proxied(
        "action_server_reset_after",
        "action-server",
        Fault(Toxic.RESET_AFTER),
        "action ran, then the connection reset (answer lost)",
    )
    proxied("action_server_timeout", "action-server", Fault(Toxic.BLACKHOLE), "action calls never answered")
    proxied(
        "action_server_slow",
        "action-server",
        Fault(Toxic.LATENCY, latency_seconds=3.0),
        "every action call 3 s late",
    )
    proxied("rasa_500", "rasa", Fault(Toxic.HTTP_500), "Rasa answers HTTP 500", quick=True)
    proxied(
        "rasa_reset_after",
        "rasa",
        Fault(Toxic.RESET_AFTER),
        "Rasa handled the message, then the connection reset (answer lost)",
    )
    proxied("rasa_timeout", "rasa", Fault(Toxic.BLACKHOLE), "Rasa never answers (bot's timeout)")
    proxied("rasa_slow", "rasa", Fault(Toxic.LATENCY, latency_seconds=3.0), "every Rasa answer 3 s late")
    inject, heal = _kill_and_restart("action-server")
    made.append(
        Scenario(
            "action_server_killed",
            "action-server",
            "SIGKILL after the summary, restarted",
            inject,
            heal,
            quick=True,
        )
    )
    inject, heal = _kill_and_restart("rasa")
    made.append(Scenario("rasa_killed", "rasa", "SIGKILL after the summary, restarted", inject, heal))
    made.append(
        Scenario(
            "postgres_dropped",
            "postgresql",
            "pg_terminate_backend on every app connection",
            _drop_postgres_connections,
            _nothing,
            needs="postgres",
        )
    )
    return made


class TelegramUser:
    """Drives one chat with the real bot through the fake Bot API (runs on the fake's loop)."""

    def __init__(self, stack: BenchStack, user: BenchUser) -> None:
        assert stack.telegram is not None and stack.telegram_loop is not None
        self.fake, self.loop = stack.telegram, stack.telegram_loop
        self.user = user
        self.chat = user.telegram_user_id
        self.keyboard: dict[str, Any] | None = None
        self.seen = 0

    def _count(self) -> int:
        return len(self.fake.sent_messages(self.chat))

    async def _exchange(self, conversation: Conversation, action: Awaitable[Any]) -> list[dict[str, Any]]:
        before = self._count()
        conversation.sent += 1
        await self.loop.arun(action)  # type: ignore[arg-type]
        try:
            await self.loop.arun(self.fake.wait_for(lambda: self._count() > before, REPLY_TIMEOUT_SECONDS))
        except AssertionError:
            return []
        await asyncio.sleep(0.5)  # the rest of a multi-message answer
        new = self.fake.sent_messages(self.chat)[before:]
        conversation.answered += 1
        conversation.replies.extend(str(m.get("text", "")) for m in new)
        self.keyboard = next((m for m in reversed(new) if m.get("reply_markup")), None)
        self.seen = before + len(new)
        return new

    def late_messages(self, conversation: Conversation) -> None:
        """Add what the bot sent by itself since the last answer (an outcome notification)."""
        messages = self.fake.sent_messages(self.chat)
        conversation.replies.extend(str(m.get("text", "")) for m in messages[self.seen :])
        self.seen = len(messages)

    def _button(self, title: str) -> str | None:
        rows = (self.keyboard or {}).get("reply_markup", {}).get("inline_keyboard", [])
        return next((b["callback_data"] for row in rows for b in row if b["text"] == title), None)

    async def say(self, conversation: Conversation, words: str) -> None:
        """Send a text message and collect the answer."""
        await self._exchange(conversation, self.fake.send_text(self.chat, words))

    async def tap(self, conversation: Conversation, title: str) -> bool:
        """Tap the button `title` under the last keyboard; False when there is none."""
        data = self._button(title)
        if data is None or self.keyboard is None:
            return False
        await self._exchange(conversation, self.fake.tap(self.chat, self.keyboard, data))
        return True


async def run_scenario(stack: BenchStack, scenario: Scenario, users: list[BenchUser]) -> dict[str, Any]:
    """Play one scenario with `users`; return what happened and whether the invariants held."""
    chats = [TelegramUser(stack, u) for u in users]
    talks = [Conversation(u) for u in users]
    started = time.monotonic()
    await asyncio.gather(*(c.say(t, PAYABLE_BILLS[0]) for c, t in zip(chats, talks, strict=True)))
    ready = [c._button("Confirm") is not None for c in chats]
    await scenario.inject(stack)
    try:
        await asyncio.gather(*(c.tap(t, "Confirm") for c, t, r in zip(chats, talks, ready, strict=True) if r))
    finally:
        await scenario.heal(stack)

    async def recover(chat: TelegramUser, talk: Conversation) -> None:
        if talk.replies and talk.replies[-1] in (
            texts.BRAIN_DOWN,
            texts.NO_ANSWER,
            texts.NO_ANSWER_TAP_NOT_CARRIED_OUT,
        ):
            talk.retried = await chat.tap(talk, texts.TRY_AGAIN)

    await asyncio.gather(*(recover(c, t) for c, t in zip(chats, talks, strict=True)))
    await asyncio.to_thread(_reconcile, stack)
    undelivered = await _notifications_delivered(stack, [u.user_id for u in users])
    for chat, talk in zip(chats, talks, strict=True):
        chat.late_messages(talk)
    charges = await asyncio.to_thread(
        charge_counts, stack.database_url, f"http://127.0.0.1:{stack.assistant.settings.stripe_sandbox_port}"
    )
    statuses = await asyncio.to_thread(_statuses, stack.database_url, [u.user_id for u in users])
    outcomes = Counter(t.outcome for t in talks)
    never_offered = ready.count(False)
    lost = outcomes.get("unanswered", 0)
    not_final = {s: n for s, n in statuses.items() if s not in TERMINAL and s != "draft"}
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "where": scenario.where,
        "fault": scenario.fault,
        "times": len(users),
        "seconds": round(time.monotonic() - started, 1),
        "outcomes": dict(outcomes),
        "summary_not_shown": never_offered,
        "unanswered_messages": lost,
        "undelivered_notifications": undelivered,
        "payment_statuses": statuses,
        "not_terminal": not_final,
        "double_charges": charges["double_charges"],
        "charged_but_not_succeeded": charges["charged_but_not_succeeded"],
        "replies": sorted({r[:100] for t in talks for r in t.replies}),
    }
    result["ok"] = judge(result)
    return result


# Final replies that tell the user where their payment stands (or that nothing was processed).
CLEAR = {
    "paid",
    "paid_after_retry",
    "paid_then_notified",
    "told_failed_notified",
    "told_declined",
    "told_processing_will_notify",
    "told_assistant_unreachable",
    "told_payment_status_offered",
    "told_something_went_wrong",
}


def judge(result: dict[str, Any]) -> bool:
    """The invariants: every message answered, each user told clearly, payments final, no double charge."""
    return (
        result["unanswered_messages"] == 0
        and result["summary_not_shown"] == 0
        and result["undelivered_notifications"] == 0
        and set(result["outcomes"]) <= CLEAR
        and result["double_charges"] == 0
        and result["charged_but_not_succeeded"] == 0
        and not result["not_terminal"]
    )


def _reconcile(stack: BenchStack) -> None:
    """The worker's reconciliation round as it runs once every charge's deadline has passed.

    Reconciliation never fails a payment whose charge call may still be running (until the Stripe
    timeout plus PAYCHAT_CHARGE_GRACE_SECONDS after it started); every conversation has ended here,
    so no call is out, and the round is run on a clock moved past that deadline instead of waiting.
    """
    from db.models import utcnow
    from payments.service import PaymentsService, build_service

    built = build_service(stack.assistant.settings)
    service = PaymentsService(
        session_factory=built.session_factory,
        gateway=built.gateway,
        config=built.config,
        clock=lambda: utcnow() + built.config.charge_deadline + timedelta(seconds=1),
    )
    service.reconcile_unknown_payments(older_than=timedelta(0))


async def _notifications_delivered(stack: BenchStack, user_ids: list[int], within: float = 20.0) -> int:
    """Wait until the bot has sent every queued outcome notification of these users; how many not."""
    deadline = time.monotonic() + within
    while True:
        waiting = await asyncio.to_thread(_undelivered, stack.database_url, user_ids)
        if waiting == 0 or time.monotonic() > deadline:
            return waiting
        await asyncio.sleep(0.5)


def _undelivered(database_url: str, user_ids: list[int]) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return len(
                connection.execute(
                    select(Notification.id).where(
                        Notification.user_id.in_(user_ids), Notification.sent_at.is_(None)
                    )
                ).all()
            )
    finally:
        engine.dispose()


def _statuses(database_url: str, user_ids: list[int]) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Payment.status).where(Payment.user_id.in_(user_ids))).scalars()
            return dict(Counter(rows))
    finally:
        engine.dispose()


def applicable(stack: BenchStack, scenario: Scenario) -> bool:
    """Whether this stack can play `scenario` (an action-server proxy, a PostgreSQL database)."""
    if scenario.needs == "action-proxy":
        return stack.proxies is not None and "action-server" in stack.proxies.proxies
    if scenario.needs == "postgres":
        return stack.database_url.startswith("postgresql")
    return True


async def play(stack: BenchStack, chosen: list[Scenario], users_per_scenario: int) -> list[dict[str, Any]]:
    """Run each applicable scenario with fresh users."""
    results = []
    for scenario in chosen:
        if not applicable(stack, scenario):
            continue
        users = await asyncio.to_thread(
            provision_users, stack.assistant.settings, users_per_scenario, label=scenario.name
        )
        result = await run_scenario(stack, scenario, users)
        print(
            f"{scenario.name:<28} x{result['times']} {result['seconds']:>6}s  {result['outcomes']}  "
            f"{'ok' if result['ok'] else 'FAILED'}",
            flush=True,
        )
        results.append(result)
    return results


def markdown(report: dict[str, Any]) -> str:
    """The report as a page."""
    lines = [
        "# Reliability under faults",
        "",
        *environment.header_lines(report["environment"]),
        f"Database: {report['database']}. Each scenario: fresh users, one payment conversation each "
        "through the Telegram path (real bot, fake Bot API); fault injected after the summary, "
        'before Confirm; healed after the answers; "Try again" tapped when offered; then the '
        "worker's reconciliation round.",
        "",
        "| scenario | fault | times | outcomes | payments after | unanswered | double charges | ok |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["scenarios"]:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r["payment_statuses"].items()))
        lines.append(
            f"| {r['scenario']} | {r['fault']} | {r['times']} | {outcomes} | {statuses} "
            f"| {r['unanswered_messages']} | {r['double_charges'] + r['charged_but_not_succeeded']} "
            f"| {'yes' if r['ok'] else '**no**'} |"
        )
    totals = report["totals"]
    lines += [
        "",
        f"Totals: {totals['conversations']} conversations, {totals['unanswered']} unanswered messages, "
        f"{totals['double_charges']} double charges, {totals['not_terminal']} payments stuck, "
        f"{totals['failed_scenarios']} scenarios failing an invariant.",
        "",
        'Outcomes: `paid` at the first Confirm; `paid_after_retry` after tapping "Try again"; '
        "`told_*` the user was told plainly what happened (assistant unreachable, processing and "
        "will notify, declined...; `payment_status_offered`: a Confirm left unanswered, the user is told "
        'to check "My payments", never to confirm again). Payments left `draft` were never confirmed '
        "and expire.",
        "",
        "What each user saw (distinct replies): see reliability.json.",
        "",
    ]
    skipped = report.get("skipped") or []
    if skipped:
        lines.insert(-1, f"Not run on this stack: {', '.join(skipped)}.")
    return "\n".join(lines)


@contextmanager
def postgres_database(base_url: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database next to `base_url` (dropped at the end), or None if unreachable."""
    base = make_url(base_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"paychat_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception:
        admin.dispose()
        yield None
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def report_for(
    results: list[dict[str, Any]], env: dict[str, Any], database: str, skipped: list[str]
) -> dict[str, Any]:
    """The JSON report of a run."""
    for result in results:
        result["ok"] = judge(result)
    return {
        "environment": env,
        "database": database,
        "scenarios": results,
        "skipped": skipped,
        "totals": {
            "conversations": sum(r["times"] for r in results),
            "unanswered": sum(r["unanswered_messages"] for r in results),
            "double_charges": sum(r["double_charges"] + r["charged_but_not_succeeded"] for r in results),
            "not_terminal": sum(sum(r["not_terminal"].values()) for r in results),
            "failed_scenarios": sum(1 for r in results if not r["ok"]),
        },
    }


def write(report: dict[str, Any], out: Path) -> None:
    """reliability.json and reliability.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "reliability.md").write_text(markdown(report))


def main() -> None:
    """Command line: start a stack with fault proxies (PostgreSQL when reachable), run, write."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="only the quick scenarios, 2 users each")
    parser.add_argument("--users", type=int, default=None, help="users per scenario (default 5, quick 2)")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    exit_on_sigterm()
    chosen = [
        s
        for s in scenarios()
        if (not args.quick or s.quick) and (not args.only or s.name in args.only.split(","))
    ]
    users = args.users or (2 if args.quick else 5)
    env = environment.describe(sys.argv)
    model = ensure_model()
    postgres_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    with (
        postgres_database(postgres_url) if not args.sqlite else _no_database() as database_url,
        tempfile.TemporaryDirectory(prefix="paychat-reliability-") as tmp,
        start_bench_stack(
            Path(tmp), model, database_url=database_url, bare=False, console=False, proxies=True
        ) as stack,
    ):
        results = asyncio.run(play(stack, chosen, users))
        skipped = [s.name for s in chosen if not applicable(stack, s)]
        database = "PostgreSQL" if stack.database_url.startswith("postgresql") else "SQLite"
    report = report_for(results, environment.finish(env), database, skipped)
    write(report, args.out)
    print(markdown(report))


@contextmanager
def _no_database() -> Iterator[str | None]:
    yield None


if __name__ == "__main__":
    main()
