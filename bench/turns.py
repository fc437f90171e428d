"""Whole-path benchmark: a chat turn through each door of the assistant, beside bare Rasa.

One run starts everything (bench/stack.py), provisions simulated users (bench/users.py), then for
each path (bench/paths.py) and each number of users at once (1, 20, 100 by default) plays:

- a plain turn: "hi", again and again in each user's conversation;
- a payment conversation: "pay my <bill>" (the summary with Confirm/Cancel), then a tap on that
  summary's Confirm (its payload `/affirm{"draft_id":..,"confirm_nonce":..}`; on Telegram a tap on
  the button, whose callback data may be the bot's short key), which charges the user's sandbox card.

Every simulated user sends its next message as soon as it has the answer to the last one (closed
loop). A turn is an error when it is not answered with 200, times out, is answered with the
"assistant unavailable" text, or does not bring what the turn must bring (a reply; the Confirm
button; "Done ✅"). At the end the sandbox's PaymentIntents are counted against the payments that
succeeded in the database (a double charge would show there), and the peak resident memory of
every process is read.

Writes whole_path.json, whole_path.md and whole_path.png to bench/results/ (or `--out`).
Usage: `make bench` or `PYTHONPATH=. .venvs/app/bin/python -m bench.turns [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from rich.progress import Progress

from bench import environment
from bench.invariants import charge_counts
from bench.paths import Console, Path, TurnError, build_paths
from bench.stack import BenchStack, exit_on_sigterm, peak_memory_mib, start_bench_stack
from bench.users import PAYABLE_BILLS, BenchUser, provision_users
from rasa_client import Reply
from scripts.train import ensure_model

RESULTS = FilePath(__file__).resolve().parent / "results"
ALL_PATHS = ["bare_parse", "bare_rest", "channel", "console_cookie", "console_basic", "telegram"]
BASELINE = "bare_rest"
CONFIRM = "/affirm"
CONFIRM_TITLE = "Confirm"  # rasa_project/domain.yml utter_button_confirm


@dataclass(frozen=True)
class Plan:
    """How many users at once and how much each of them does."""

    levels: tuple[int, ...]
    plain_turns: dict[int, int]  # users at once → "hi" turns per user
    payments: dict[int, int]  # users at once → payment conversations per user (≤ 5 bills each)


FULL = Plan(levels=(1, 20, 100), plain_turns={1: 40, 20: 10, 100: 4}, payments={1: 5, 20: 3, 100: 2})
QUICK = Plan(levels=(1, 3), plain_turns={1: 3, 3: 2}, payments={1: 1, 3: 1})


@dataclass
class Cell:
    """What one path did for one kind of turn at one number of users."""

    path: str
    kind: str
    users: int
    latencies_ms: list[float] = field(default_factory=list)  # successful turns
    by_step: dict[str, list[float]] = field(default_factory=dict)  # payment: "pay", "confirm"
    conversations_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    turns: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Percentiles, throughput and errors (no raw samples)."""
        out: dict[str, Any] = {
            "path": self.path,
            "kind": self.kind,
            "users": self.users,
            "turns": self.turns,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "seconds": round(self.seconds, 2),
            "turns_per_second": round((self.turns - sum(self.errors.values())) / self.seconds, 2)
            if self.seconds
            else 0.0,
            **_percentiles(self.latencies_ms, "turn"),
        }
        if self.kind == "payment":
            out.update(_percentiles(self.conversations_ms, "conversation"))
            for step, samples in self.by_step.items():
                out.update(_percentiles(samples, step))
        return out


def _percentiles(samples: list[float], prefix: str) -> dict[str, float | None]:
    if not samples:
        return {f"{prefix}_p50_ms": None, f"{prefix}_p95_ms": None, f"{prefix}_max_ms": None}
    ordered = sorted(samples)
    return {
        f"{prefix}_p50_ms": round(statistics.median(ordered), 1),
        f"{prefix}_p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        f"{prefix}_max_ms": round(ordered[-1], 1),
    }


def confirm_payload(replies: list[Reply]) -> str | None:
    """What tapping the summary's Confirm sends: `/affirm{"draft_id":..,"confirm_nonce":..}`, or on
    Telegram the bot's short key for it (the button is known by its title there); None: no Confirm."""
    for reply in replies:
        for button in reply.buttons:
            if button.payload.startswith(CONFIRM) or button.title == CONFIRM_TITLE:
                return button.payload
    return None


def _problem(replies: list[Reply], step: str) -> str | None:
    """Why these replies are not what the step must bring (None: they are)."""
    if step == "parse":
        return None if replies and replies[0].text else "no intent"
    if not any(r.text for r in replies):
        return "no reply"
    if step == "pay" and confirm_payload(replies) is None:
        return "no Confirm button"
    if step == "confirm" and not any((r.text or "").startswith("Done") for r in replies):
        return "not paid"
    return None


async def _turn(
    cell: Cell, path: Path, user: BenchUser, session: str, text: str, step: str
) -> list[Reply] | None:
    """One measured turn: its replies, or None when it was an error (counted in `cell`)."""
    started = time.perf_counter()
    cell.turns += 1
    try:
        replies = await asyncio.wait_for(path.send(user, session, text, step == "pay"), 150)
    except TurnError as err:
        cell.errors[err.kind] += 1
        return None
    except TimeoutError:
        cell.errors["timeout"] += 1
        return None
    except Exception as err:  # a transport failure is an error of the run, not of the bench
        cell.errors[type(err).__name__] += 1
        return None
    elapsed = (time.perf_counter() - started) * 1000
    problem = _problem(replies, step)
    if problem:
        cell.errors[f"unexpected: {problem}"] += 1
        return None
    cell.latencies_ms.append(elapsed)
    cell.by_step.setdefault(step, []).append(elapsed)
    return replies


async def run_cell(
    path: Path, kind: str, users: list[BenchUser], rounds: int, tag: str, progress: Progress
) -> Cell:
    """Every user plays `rounds` plain turns or payment conversations, all at once."""
    cell = Cell(path.name, kind, len(users))
    task = progress.add_task(f"{path.name:<14} {kind:<7} x{len(users):<3}", total=len(users) * rounds)

    async def user_loop(index: int, user: BenchUser) -> None:
        session = f"{tag}_{index}"
        for round_ in range(rounds):
            if kind == "plain":
                step = "parse" if path.name == "bare_parse" else "plain"
                await _turn(cell, path, user, session, "hi", step)
            else:
                started = time.perf_counter()
                summary = await _turn(cell, path, user, session, PAYABLE_BILLS[round_], "pay")
                # Confirm is a tap on the summary's own button: its payload names the draft and
                # carries the summary's one-time nonce (a bare "/affirm" is typed text: the bot
                # does not relay it, and it is not what a client sends).
                confirm = confirm_payload(summary) if summary is not None else None
                if confirm is not None and await _turn(cell, path, user, session, confirm, "confirm"):
                    cell.conversations_ms.append((time.perf_counter() - started) * 1000)
            progress.advance(task)

    if isinstance(path, Console):
        await path.log_in(users)
    started = time.perf_counter()
    await asyncio.gather(*(user_loop(i, u) for i, u in enumerate(users)))
    cell.seconds = time.perf_counter() - started
    progress.remove_task(task)
    done = cell.summary()
    progress.console.print(
        f"{path.name:<14} {kind:<7} x{len(users):<3} {done['turns_per_second']:>7} turns/s  "
        f"p50 {done['turn_p50_ms']} ms  p95 {done['turn_p95_ms']} ms  errors {done['errors']}"
    )
    return cell


async def play(stack: BenchStack, plan: Plan, path_names: list[str]) -> list[Cell]:
    """Run every cell of the plan for every path; payment cells get fresh users (bills get paid)."""
    settings = stack.assistant.settings
    biggest = max(plan.levels)
    plain_users = await asyncio.to_thread(provision_users, settings, biggest, label="plain")
    paths = build_paths(stack, path_names)
    cells: list[Cell] = []
    try:
        with Progress() as progress:
            for path in paths:
                # One unmeasured turn per plain user first: the bot links a new Telegram user on
                # first contact, and every path's first turn pays for connection set-up.
                await run_cell(path, "plain", plain_users, 1, f"{path.name}_warm", progress)
                for level in plan.levels:
                    cells.append(
                        await run_cell(
                            path,
                            "plain",
                            plain_users[:level],
                            plan.plain_turns[level],
                            f"p{level}",
                            progress,
                        )
                    )
                if path.name == "bare_parse":
                    continue
                for level in plan.levels:
                    payers = await asyncio.to_thread(
                        provision_users, settings, level, label=f"{path.name}-{level}"
                    )
                    cells.append(
                        await run_cell(path, "payment", payers, plan.payments[level], f"m{level}", progress)
                    )
    finally:
        for path in paths:
            await path.aclose()
    return cells


def ratios(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each path's plain turn against bare Rasa's REST channel; its payment turn against its plain turn."""
    index = {(c["path"], c["kind"], c["users"]): c for c in cells}
    out = []
    for (path, kind, users), cell in sorted(index.items()):
        if kind != "plain" or path in (BASELINE, "bare_parse"):
            continue
        base = index.get((BASELINE, "plain", users))
        pay = index.get((path, "payment", users))
        row: dict[str, Any] = {"path": path, "users": users}
        if base and base["turns_per_second"] and base["turn_p95_ms"] and cell["turn_p95_ms"]:
            row["throughput_vs_bare"] = round(cell["turns_per_second"] / base["turns_per_second"], 2)
            row["p95_vs_bare"] = round(cell["turn_p95_ms"] / base["turn_p95_ms"], 2)
        if pay and pay["turn_p95_ms"] and cell["turn_p95_ms"]:
            row["payment_turn_p95_vs_plain"] = round(pay["turn_p95_ms"] / cell["turn_p95_ms"], 2)
            row["payment_turn_p50_vs_plain"] = round(pay["turn_p50_ms"] / cell["turn_p50_ms"], 2)
        row["errors"] = cell["errors"] + (pay["errors"] if pay else 0)
        out.append(row)
    return out


def write_report(report: dict[str, Any], out: FilePath) -> None:
    """whole_path.json, .md and .png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    (out / "whole_path.json").write_text(json.dumps(public, indent=2) + "\n")
    _plot(report["_cells"], out / "whole_path.png")
    (out / "whole_path.md").write_text(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    """The report as a page."""
    lines = [
        "# Whole-path chat turns beside bare Rasa",
        "",
        *environment.header_lines(report["environment"]),
        "",
        "Closed loop: each simulated user sends its next message as soon as it has the answer. "
        'Plain turn: "hi". Payment: "pay my <bill>" → summary with Confirm, then Confirm → '
        "charged in the Stripe sandbox. Baseline: bare Rasa's REST channel on the same model "
        "(in-memory tracker, same action server). Latencies of successful turns.",
        "",
        "## Ratios (targets: plain throughput ≥ 0.8x bare, plain p95 ≤ 1.5x bare, payment turn ≤ 2x "
        "plain, zero errors at 100 users)",
        "",
        "| path | users | throughput vs bare | p95 vs bare | payment turn p95 vs plain | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["ratios"]:
        lines.append(
            f"| {r['path']} | {r['users']} | {r.get('throughput_vs_bare', '—')} "
            f"| {r.get('p95_vs_bare', '—')} "
            f"| {r.get('payment_turn_p95_vs_plain', '—')} | {r['errors']} |"
        )
    lines += [
        "",
        "## Every cell",
        "",
        "| path | turn | users | turns | errors | turns/s | p50 ms | p95 ms | max ms | "
        "conversation p95 ms | pay p95 | confirm p95 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in report["cells"]:
        lines.append(
            f"| {c['path']} | {c['kind']} | {c['users']} | {c['turns']} | {c['errors']} "
            f"| {c['turns_per_second']} | {c['turn_p50_ms']} | {c['turn_p95_ms']} | {c['turn_max_ms']} "
            f"| {c.get('conversation_p95_ms', '')} | {c.get('pay_p95_ms', '')} "
            f"| {c.get('confirm_p95_ms', '')} |"
        )
    errors = [c for c in report["cells"] if c["errors"]]
    if errors:
        lines += [
            "",
            "Errors by kind: "
            + "; ".join(f"{c['path']} {c['kind']} x{c['users']}: {c['errors_by_kind']}" for c in errors),
        ]
    charges = report["charges"]
    lines += [
        "",
        f"Charges: {charges['payment_intents']} PaymentIntents in the sandbox, "
        f"{charges['succeeded_payments']} succeeded payments in the database "
        f"({charges['payments_with_intent']} payments carry a PaymentIntent id): "
        + ("no double charge." if charges["double_charges"] == 0 else f"{charges['double_charges']} EXTRA."),
        "",
        "## Memory and model",
        "",
        "| process | peak resident memory (MiB) |",
        "| --- | --- |",
        *[f"| {name} | {mib} |" for name, mib in report["peak_memory_mib"].items()],
        "",
        f"Model: {report['model']['file']} ({report['model']['size_mib']} MiB); "
        f"`rasa train` (full, cold): {report['model']['train_seconds']} s "
        f"({report['model']['train_source']}).",
        "",
        "![latency by path](whole_path.png)",
        "",
    ]
    return "\n".join(lines)


def _plot(cells: list[Cell], path: FilePath) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = ["plain", "payment"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=False)
    for ax, kind in zip(axes, kinds, strict=True):
        chosen = [c for c in cells if c.kind == kind and c.latencies_ms]
        labels = [f"{c.path}\nx{c.users}" for c in chosen]
        ax.boxplot([c.latencies_ms for c in chosen], showfliers=False, whis=(5, 95))
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=90, fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("turn latency (ms), box p25-p75, whiskers p5-p95")
        ax.set_title(f"{kind} turn" + (" (pay + confirm turns)" if kind == "payment" else ' ("hi")'))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("paychat whole-path turn latency by path and users at once")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def measure(stack: BenchStack, plan: Plan, path_names: list[str], env: dict[str, Any]) -> dict[str, Any]:
    """Play the plan on a running stack; the report (with the `_cells` samples for the plot)."""
    cells = asyncio.run(play(stack, plan, path_names))
    summaries = [c.summary() for c in cells]
    return {
        "environment": environment.finish(env),
        "plan": {
            "quick": plan is QUICK,
            "levels": plan.levels,
            "plain_turns": plan.plain_turns,
            "payments": plan.payments,
            "paths": path_names,
        },
        "ratios": ratios(summaries),
        "cells": summaries,
        "charges": charge_counts(
            stack.database_url, f"http://127.0.0.1:{stack.assistant.settings.stripe_sandbox_port}"
        ),
        "peak_memory_mib": peak_memory_mib(stack.processes()),
        "model": environment.model_facts(stack.assistant.model),
        "_cells": cells,
    }


def run(
    *,
    quick: bool,
    out: FilePath,
    path_names: list[str],
    database_url: str | None = None,
    levels: list[int] | None = None,
) -> dict[str, Any]:
    """Start the stack, play the plan, write the report; returns it."""
    env = environment.describe(sys.argv)
    model = ensure_model()
    plan = QUICK if quick else FULL
    if levels:
        # A level the chosen plan does not size (e.g. --quick --levels 100) takes the full plan's.
        plan = Plan(
            tuple(levels),
            {n: plan.plain_turns.get(n, FULL.plain_turns.get(n, 2)) for n in levels},
            {n: plan.payments.get(n, FULL.payments.get(n, 1)) for n in levels},
        )
    with (
        tempfile.TemporaryDirectory(prefix="paychat-bench-") as tmp,
        start_bench_stack(
            FilePath(tmp),
            model,
            database_url=database_url,
            bare=any(p.startswith("bare") for p in path_names),
            console=any(p.startswith("console") for p in path_names),
            telegram="telegram" in path_names,
        ) as stack,
    ):
        report = measure(stack, plan, path_names, env)
    write_report(report, out)
    return report


def main() -> None:
    """Command line: `python -m bench.turns [--quick] [--paths a,b] [--out DIR] [--database-url URL]`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 and 3 users, a few turns (the test's mode)")
    parser.add_argument(
        "--paths", default=",".join(ALL_PATHS), help="comma-separated subset of " + ", ".join(ALL_PATHS)
    )
    parser.add_argument("--out", type=FilePath, default=RESULTS)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--levels", default="", help="users at once, e.g. 1,20 (default 1,20,100; quick 1,3)")
    args = parser.parse_args()
    exit_on_sigterm()
    report = run(
        levels=[int(x) for x in args.levels.split(",") if x],
        quick=args.quick,
        out=args.out,
        path_names=args.paths.split(","),
        database_url=args.database_url,
    )
    print(markdown(report))


if __name__ == "__main__":
    main()
