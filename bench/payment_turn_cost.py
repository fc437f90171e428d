"""Where a payment turn's time goes, per layer, and HTTP Basic against a cookie session, in one run.

Starts the whole-path bench stack (tests/helpers/stack.py plus bare Rasa and the console), with the
action server restarted under `STRIPE_LOG=info` so the stripe SDK names every call it makes, then:

1. `layers`: one user at a time plays `--payments` payment conversations through paychat's channel
   ("pay my <bill>" → summary, Confirm → charged) between plain "hi" turns. Per turn: the wall time
   the client saw, and from the action server's log what happened inside it: each action Rasa
   called (its own seconds and SQL statements, actions/common.py `guarded`) and each Stripe request.
   "Rasa" is the rest: the channel, NLU, policies, the tracker store and the HTTP hops.
2. `sandbox`: the Stripe calls a confirm makes, timed from this process against the same sandbox
   (the sandbox's own time per call, with its store as full as the run left it).
3. `doors` (A/B): plain turns with `--users` users at once through the console with HTTP Basic,
   the console with HTTP Basic and its verified-credentials cache off
   (CONSOLE_BASIC_AUTH_CACHE_SECONDS=0: argon2 on every request), the console with a cookie
   session, and bare Rasa's REST channel, in alternating rounds (ABCD ABCD ...) so that other
   work on the machine weighs on each alike. Throughput is reported against bare Rasa's.

Usage: `PYTHONPATH=. .venvs/app/bin/python -m bench.payment_turn_cost [--payments 10] [--rounds 4]
[--users 1,20] [--out FILE.md]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import environment
from bench.paths import BareRest, Channel, Console, TurnError
from bench.stack import BenchStack, start_bench_stack
from bench.turns import confirm_payload
from bench.users import PAYABLE_BILLS, BenchUser, provision_users
from scripts import procs
from scripts.train import ensure_model

STRIPE_REQUEST = re.compile(r"message='Request to Stripe api' method=(\w+) url=(\S+)")


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


def _action_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        if '"action"' not in raw or not raw.startswith("{"):
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if "action" in record and "seconds" in record:
            lines.append(record)
    return lines


class LogTail:
    """What a child process wrote to its log since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def read(self) -> str:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        return data.decode("utf-8", "replace")


async def layers(stack: BenchStack, users: list[BenchUser], payments: int) -> dict[str, Any]:
    """Sequential plain and payment turns through the channel, each split by layer."""
    channel = Channel(stack.assistant.rasa_url, stack.assistant.rasa_secret)
    tail = LogTail(stack.process("action-server").log_path)
    turns: dict[str, list[dict[str, Any]]] = {"plain": [], "pay": [], "confirm": []}

    async def turn(user: BenchUser, session: str, text: str, step: str) -> Any:
        await asyncio.sleep(0.05)
        tail.read()
        started = time.perf_counter()
        replies = await channel.send(user, session, text, step == "pay")
        wall = (time.perf_counter() - started) * 1000
        await asyncio.sleep(0.05)  # the action server's log line is written after its answer
        logged = tail.read()
        actions = _action_lines(logged)
        stripe = STRIPE_REQUEST.findall(logged)
        action_ms = sum(a["seconds"] for a in actions) * 1000
        turns[step].append(
            {
                "wall_ms": wall,
                "actions": [a["action"] for a in actions],
                "action_ms": action_ms,
                "statements": {a["action"]: a.get("db_statements") for a in actions},
                "stripe": [
                    f"{m.upper()} {re.sub(r'/[a-z]+_[A-Za-z0-9]+', '/{id}', u.split('/v1', 1)[-1])}"
                    for m, u in stripe
                ],
            }
        )
        return replies

    for index, user in enumerate(users):
        session = f"layers_{index}"
        for round_ in range(payments):
            await turn(user, session, "hi", "plain")
            summary = await turn(user, session, PAYABLE_BILLS[round_ % len(PAYABLE_BILLS)], "pay")
            confirm = confirm_payload(summary)
            if confirm is None:
                raise TurnError("unexpected", f"no Confirm in {summary}")
            await turn(user, session, confirm, "confirm")
    await channel.aclose()
    summary: dict[str, Any] = {}
    for step, rows in turns.items():
        rows = rows[1:]  # the first of each kind warms caches (imports, the user's id)
        if not rows:
            continue
        last = rows[-1]
        summary[step] = {
            "turns": len(rows),
            "wall_p50_ms": _percentile([r["wall_ms"] for r in rows], 0.5),
            "wall_p95_ms": _percentile([r["wall_ms"] for r in rows], 0.95),
            "actions_ms_p50": _percentile([r["action_ms"] for r in rows], 0.5),
            "rasa_and_hops_ms_p50": _percentile([r["wall_ms"] - r["action_ms"] for r in rows], 0.5),
            "action_calls": last["actions"],
            "statements": last["statements"],
            "stripe_calls": last["stripe"],
        }
    return summary


def sandbox(stack: BenchStack, rounds: int = 10) -> dict[str, Any]:
    """The sandbox's own time for the charge a confirm makes (one PaymentIntent created with confirm=true,
    as payments.stripe_gateway.StripeGateway.charge sends it)."""
    import stripe

    client = stripe.StripeClient(
        "sk_test_bench", base_addresses={"api": stack.assistant.stripe_api_base}, max_network_retries=0
    )
    customer = client.v1.customers.create(params={"email": "cost@example.com"})
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        }
    )
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    charge_ms = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.v1.payment_intents.create(
            params={
                "amount": 100,
                "currency": "eur",
                "customer": customer.id,
                "payment_method": method.id,
                "payment_method_types": ["card"],
                "confirm": True,
            }
        )
        charge_ms.append((time.perf_counter() - started) * 1000)
    return {
        "charge_create_and_confirm_ms_p50": round(statistics.median(charge_ms), 1),
        "charge_ms_max": round(max(charge_ms), 1),
    }


def start_console_without_cache(stack: BenchStack) -> str:
    """A second console on the same database, its HTTP Basic cache off (argon2 on every request)."""
    port = procs.free_port()
    spec = procs.console_spec("127.0.0.1", port)
    spec = dataclasses.replace(spec, name="console-no-basic-cache", env=dict(spec.env))
    console = stack.process("console")
    env = {k: console.spec.env[k] for k in ("CONSOLE_SECRET_KEY", "RASA_URL") if k in console.spec.env}
    spec.env.update(env, CONSOLE_PORT=str(port), CONSOLE_BASIC_AUTH_CACHE_SECONDS="0")
    stack.supervisor.start(spec)
    return f"http://127.0.0.1:{port}"


async def doors(
    stack: BenchStack, no_cache_url: str | None, levels: list[int], rounds: int, turns: int
) -> Any:
    """Plain turns through four doors, alternating rounds; per level turns/s and p95 per door."""
    assert stack.console_url and stack.bare_url
    made = {
        "console_basic": Console(stack.console_url, cookie=False, login=stack.console_login),
        "console_cookie": Console(stack.console_url, cookie=True, login=stack.console_login),
        "bare_rest": BareRest(stack.bare_url),
    }
    if no_cache_url:
        made["console_basic_no_cache"] = Console(no_cache_url, cookie=False, login=stack.console_login)
        made["console_basic_no_cache"].name = "console_basic_no_cache"
    results: dict[int, dict[str, dict[str, list[float]]]] = {}
    errors: dict[str, int] = {}
    for level in levels:
        users = provision_users(stack.assistant.settings, level, label=f"doors{level}")
        await made["console_cookie"].log_in(users)  # type: ignore[attr-defined]
        per: dict[str, dict[str, list[float]]] = {n: {"tps": [], "lat": []} for n in made}
        for round_ in range(rounds):
            for name, path in made.items():
                latencies: list[float] = []

                async def loop(
                    index: int,
                    user: BenchUser,
                    path: Any = path,
                    lat: list[float] = latencies,
                    level: int = level,
                ) -> None:
                    for _ in range(turns):
                        started = time.perf_counter()
                        try:
                            await path.send(user, f"d{level}_{index}", "hi", False)
                        except (TurnError, httpx.HTTPError) as error:
                            errors[path.name] = errors.get(path.name, 0) + 1
                            print(f"{path.name}: {error}", file=sys.stderr)
                            continue
                        lat.append((time.perf_counter() - started) * 1000)

                started = time.perf_counter()
                await asyncio.gather(*(loop(i, u) for i, u in enumerate(users)))
                seconds = time.perf_counter() - started
                if round_ > 0 or rounds == 1:  # the first round warms every door
                    per[name]["tps"].append(len(latencies) / seconds)
                    per[name]["lat"].extend(latencies)
        results[level] = per
    for path in made.values():
        await path.aclose()
    print("errors:", errors, file=sys.stderr)
    return {
        level: {
            name: {
                "turns_per_second": round(statistics.median(v["tps"]), 2),
                "p95_ms": _percentile(v["lat"], 0.95),
                "throughput_vs_bare": round(
                    statistics.median(v["tps"]) / statistics.median(per["bare_rest"]["tps"]), 2
                ),
            }
            for name, v in per.items()
        }
        for level, per in results.items()
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    out = ["# A payment turn by layer; HTTP Basic against a cookie session (A/B in one run)", ""]
    out += [*environment.header_lines(report["environment"]), ""]
    if "layers" in report:
        out += ["## A payment turn by layer (channel, one user, sequential)", ""]
        out += [
            "| turn | n | wall p50 ms | wall p95 ms | actions p50 ms | Rasa + hops p50 ms | action calls |"
            " SQL statements | Stripe calls |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for step, row in report["layers"].items():
            out.append(
                f"| {step} | {row['turns']} | {row['wall_p50_ms']} | {row['wall_p95_ms']} "
                f"| {row['actions_ms_p50']} "
                f"| {row['rasa_and_hops_ms_p50']} | {', '.join(row['action_calls']) or '-'} "
                f"| {row['statements'] or '-'} | {', '.join(row['stripe_calls']) or '-'} |"
            )
        out.append("")
    if "sandbox" in report:
        out += [
            "## The Stripe sandbox's own time (from the bench process, same sandbox)",
            "",
            f"`{json.dumps(report['sandbox'])}`",
            "",
        ]
    if "doors" in report:
        out += [
            "## Plain turns, four doors in alternating rounds",
            "",
            "| users | door | turns/s (median of rounds) | throughput vs bare | p95 ms |",
            "| --- | --- | --- | --- | --- |",
        ]
        for level, per in report["doors"].items():
            for name, row in per.items():
                out.append(
                    f"| {level} | {name} | {row['turns_per_second']} | {row['throughput_vs_bare']} "
                    f"| {row['p95_ms']} |"
                )
        out.append("")
    return "\n".join(out)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=10, help="payment conversations in `layers`")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds in `doors`")
    parser.add_argument("--turns", type=int, default=10, help="plain turns per user per round in `doors`")
    parser.add_argument("--users", default="1,20", help="users at once in `doors`")
    parser.add_argument("--parts", default="layers,sandbox,doors")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--no-cache-door",
        action="store_true",
        help="also a console with the Basic cache off (at 20 users it answers 500s: database is locked)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the processes' logs here")
    args = parser.parse_args()
    env = environment.describe(sys.argv)
    parts = args.parts.split(",")
    report: dict[str, Any] = {}
    with (
        (
            contextlib.nullcontext(str(args.workdir))
            if args.workdir
            else tempfile.TemporaryDirectory(prefix="paychat-cost-")
        ) as tmp,
        start_bench_stack(
            Path(tmp), ensure_model(), telegram=False, bare="doors" in parts, console="doors" in parts
        ) as stack,
    ):
        spec = stack.stop("action-server")
        spec = dataclasses.replace(spec, env={**spec.env, "STRIPE_LOG": "info"})
        stack.start(spec)
        if "layers" in parts:
            users = provision_users(stack.assistant.settings, 2, label="layers")
            report["layers"] = asyncio.run(layers(stack, users, args.payments))
            print(json.dumps(report["layers"], indent=1), file=sys.stderr)
        if "sandbox" in parts:
            report["sandbox"] = sandbox(stack)
        if "doors" in parts:
            url = start_console_without_cache(stack) if args.no_cache_door else None
            levels = [int(n) for n in args.users.split(",")]
            report["doors"] = asyncio.run(doors(stack, url, levels, args.rounds, args.turns))
    report["environment"] = environment.finish(env)
    text = markdown(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
