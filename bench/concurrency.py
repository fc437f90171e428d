"""Many users paying at once through the Telegram path, tapping twice and getting replayed updates.

`python -m bench.concurrency` (200 users, on SQLite and then on PostgreSQL when it is reachable;
`--quick`: 10 users; `--users N`; `--sqlite` / `--postgres` for one database) writes
bench/results/concurrency.md and concurrency.json. `make bench` runs it; tests/bench/test_concurrency.py
runs the quick mode on the test session's stack.

The whole path is real: the fake Telegram Bot API (HTTP, loopback) → the `python -m bot` process
(python-telegram-bot) → Rasa → the action server → the database → the Stripe sandbox. Every user,
all at the same moment:

1. asks "pay my electricity bill" and gets the summary with Confirm;
2. taps Confirm twice (two updates, as a double tap sends), and Telegram delivers the first tap's
   update once more (the same update_id: a redelivery after a timeout);
3. waits for the answer.

Checked afterwards, for this run's users only: the sandbox's succeeded PaymentIntents equal the
succeeded payments (no double charge, no charge the database does not know), one payment per
user, no payment stuck in a non-final state after the worker's reconciliation, every user
answered, and no process logged a deadlock. Speed is recorded, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench import environment
from bench.invariants import TERMINAL, sandbox_intents
from bench.reliability import DEFAULT_POSTGRES_URL, Conversation, TelegramUser, postgres_database
from bench.stack import BenchStack, exit_on_sigterm, start_bench_stack
from bench.users import PAYABLE_BILLS, provision_users
from db.engine import make_engine
from db.models import Payment
from payments.stripe_gateway import IDEMPOTENCY_METADATA_KEY

RESULTS = Path(__file__).resolve().parent / "results"
FULL_USERS = 200
QUICK_USERS = 10
SETTLE_SECONDS = 60.0


async def storm(stack: BenchStack, users: int, *, label: str) -> dict[str, Any]:
    """`users` new users pay at once with a double tap and a replayed update; the invariants after."""
    bench_users = await asyncio.to_thread(provision_users, stack.assistant.settings, users, label=label)
    chats = [TelegramUser(stack, u) for u in bench_users]
    talks = [Conversation(u) for u in bench_users]
    started = time.monotonic()
    await asyncio.gather(*(c.say(t, PAYABLE_BILLS[0]) for c, t in zip(chats, talks, strict=True)))
    offered = [c._button("Confirm") is not None for c in chats]
    asked_at = time.monotonic()
    await asyncio.gather(*(hammer(c, t) for c, t, o in zip(chats, talks, offered, strict=True) if o))
    confirmed_at = time.monotonic()
    await asyncio.to_thread(reconcile, stack)
    found = await settled(stack, [u.user_id for u in bench_users])
    for chat, talk in zip(chats, talks, strict=True):
        chat.late_messages(talk)
    deadlocks = logged_deadlocks(stack)
    outcomes = Counter(t.outcome for t in talks)
    result = {
        "database": "PostgreSQL" if stack.database_url.startswith("postgresql") else "SQLite",
        "users": users,
        "taps_per_user": 2,
        "replayed_updates_per_user": 1,
        "summary_not_shown": offered.count(False),
        "outcomes": dict(outcomes),
        "unanswered": outcomes.get("unanswered", 0),
        "deadlocks_logged": deadlocks,
        "seconds": {
            "ask": round(asked_at - started, 1),
            "confirm": round(confirmed_at - asked_at, 1),
            "total": round(time.monotonic() - started, 1),
        },
        **found,
    }
    result["ok"] = judge(result)
    return result


async def hammer(chat: TelegramUser, talk: Conversation) -> None:
    """Tap Confirm twice at once and have the first tap's update delivered again."""
    keyboard, data = chat.keyboard, chat._button("Confirm")
    assert keyboard is not None and data is not None
    first = await chat.loop.arun(chat.fake.tap(chat.chat, keyboard, data))
    await asyncio.gather(
        chat.tap(talk, "Confirm"),  # the second tap, collected like an answer
        chat.loop.arun(chat.fake.push_update(first)),  # Telegram delivers the first tap again
    )


def reconcile(stack: BenchStack) -> None:
    """The worker's reconciliation round, now (it would run within a minute anyway)."""
    from payments.service import build_service

    build_service(stack.assistant.settings).reconcile_unknown_payments(older_than=timedelta(0))


async def settled(stack: BenchStack, user_ids: list[int]) -> dict[str, Any]:
    """Wait until these users' payments are final (or SETTLE_SECONDS pass); count both sides."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        payments = await asyncio.to_thread(payments_of, stack.database_url, user_ids)
        pending = [p for p in payments if p["status"] not in TERMINAL]
        if not pending or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    sandbox = f"http://127.0.0.1:{stack.assistant.settings.stripe_sandbox_port}"
    keys = {p["key"]: p for p in payments}
    intents = [
        i
        for i in await asyncio.to_thread(sandbox_intents, sandbox)
        if (i.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) in keys
    ]
    succeeded_by_key = Counter(
        i["metadata"][IDEMPOTENCY_METADATA_KEY] for i in intents if i["status"] == "succeeded"
    )
    statuses = Counter(p["status"] for p in payments)
    per_user = Counter(p["user_id"] for p in payments if p["status"] != "cancelled")
    return {
        "payments": len(payments),
        "payment_statuses": dict(statuses),
        "payments_per_user_max": max(per_user.values(), default=0),
        "succeeded_payments": statuses.get("succeeded", 0),
        "sandbox_intents": len(intents),
        "sandbox_succeeded": sum(succeeded_by_key.values()),
        "double_charges": sum(n - 1 for n in succeeded_by_key.values() if n > 1),
        "charged_but_not_succeeded": sum(1 for k in succeeded_by_key if keys[k]["status"] != "succeeded"),
        "stuck": {s: n for s, n in statuses.items() if s not in TERMINAL},
    }


def payments_of(database_url: str, user_ids: list[int]) -> list[dict[str, Any]]:
    """Id, user, status and idempotency key of these users' payments."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Payment.id, Payment.user_id, Payment.status, Payment.idempotency_key).where(
                    Payment.user_id.in_(user_ids)
                )
            ).all()
    finally:
        engine.dispose()
    return [{"id": r.id, "user_id": r.user_id, "status": r.status, "key": r.idempotency_key} for r in rows]


def logged_deadlocks(stack: BenchStack) -> int:
    """Lines mentioning a deadlock (PostgreSQL's "deadlock detected", SQLite's "database is locked")."""
    count = 0
    for folder in {stack.assistant.supervisor.log_dir, stack.supervisor.log_dir}:
        for log in folder.glob("*.log"):
            text = log.read_text(errors="replace").lower()
            count += text.count("deadlock detected") + text.count("database is locked")
    return count


def judge(result: dict[str, Any]) -> bool:
    """Charges equal succeeded payments, none twice, one payment each, none stuck, all answered."""
    return (
        result["summary_not_shown"] == 0
        and result["unanswered"] == 0
        and result["deadlocks_logged"] == 0
        and result["double_charges"] == 0
        and result["charged_but_not_succeeded"] == 0
        and result["sandbox_succeeded"] == result["succeeded_payments"]
        and result["succeeded_payments"] == result["users"]
        and result["payments_per_user_max"] == 1
        and not result["stuck"]
    )


def markdown(report: dict[str, Any]) -> str:
    """bench/results/concurrency.md."""
    lines = [
        "# Many users paying at once through Telegram",
        "",
        *environment.header_lines(report["environment"]),
        "",
        'Each user: "pay my electricity bill", then Confirm tapped twice at once, and the first tap\'s '
        "update delivered again (same update_id). Path: fake Bot API → bot process → Rasa → action "
        "server → database → Stripe sandbox.",
        "",
        "| database | users | charged in sandbox | succeeded payments | double charges "
        "| charged, not succeeded | max payments per user | stuck | unanswered | deadlocks logged "
        "| seconds (ask / confirm / total) | ok |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for r in report["runs"]:
        s = r["seconds"]
        lines.append(
            f"| {r['database']} | {r['users']} | {r['sandbox_succeeded']} | {r['succeeded_payments']} | "
            f"{r['double_charges']} | {r['charged_but_not_succeeded']} | {r['payments_per_user_max']} | "
            f"{r['stuck'] or 'none'} | {r['unanswered']} | {r['deadlocks_logged']} | "
            f"{s['ask']} / {s['confirm']} / {s['total']} | {'yes' if r['ok'] else '**no**'} |"
        )
    for r in report["runs"]:
        lines.append(
            f"\n{r['database']}: what users were told: {r['outcomes']}; statuses {r['payment_statuses']}."
        )
    skipped = report.get("skipped")
    if skipped:
        lines.append(f"\nNot run: {skipped}.")
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], out: Path) -> None:
    """concurrency.json and concurrency.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "concurrency.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "concurrency.md").write_text(markdown(report))


@contextmanager
def _sqlite() -> Any:
    yield None


def run(
    *,
    quick: bool,
    users: int | None = None,
    databases: tuple[str, ...] = ("sqlite", "postgres"),
    out: Path | None = RESULTS,
) -> dict[str, Any]:
    """Start a stack per database, run the storm on each, write the report."""
    from scripts.train import current_model_path

    count = users or (QUICK_USERS if quick else FULL_USERS)
    env = environment.describe(["concurrency.py", *(["--quick"] if quick else []), f"--users={count}"])
    runs, skipped = [], []
    model = current_model_path()
    for name in databases:
        url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        with postgres_database(url) if name == "postgres" else _sqlite() as database_url:
            if name == "postgres" and database_url is None:
                skipped.append("PostgreSQL (unreachable)")
                continue
            with (
                tempfile.TemporaryDirectory(prefix="paychat-concurrency-") as tmp,
                start_bench_stack(
                    Path(tmp), model, database_url=database_url, bare=False, console=False
                ) as stack,
            ):
                print(f"{name}: {count} users at once", flush=True)
                result = asyncio.run(storm(stack, count, label=f"storm-{name}"))
                print(json.dumps(result), flush=True)
                runs.append(result)
    report = {"environment": environment.finish(env), "runs": runs, "skipped": skipped}
    if out is not None:
        write(report, out)
    return report


def main() -> None:
    """Command line."""
    exit_on_sigterm()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_USERS} users")
    parser.add_argument("--users", type=int, help=f"users at once (default {FULL_USERS})")
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    databases = ("sqlite",) if args.sqlite else ("postgres",) if args.postgres else ("sqlite", "postgres")
    report = run(quick=args.quick, users=args.users, databases=databases)
    print(markdown(report))
    raise SystemExit(0 if report["runs"] and all(r["ok"] for r in report["runs"]) else 1)


if __name__ == "__main__":
    main()
