"""CPU seconds per turn, per process, through each door: a measure that other load on the machine
hardly moves (wall-clock ratios do: the cores are shared).

Starts the bench stack (bench/stack.py, bare Rasa included), then for each chosen path plays, with
`--users` users at once, `--turns` plain "hi" turns and `--payments` payment conversations ("pay
my <bill>", then a tap on Confirm: two turns each, bench/turns.py). Around each cell it reads every
process's user + system CPU time (psutil `cpu_times`, children included: the action server's Sanic
worker) and divides the difference by the turns that succeeded. Console users log in, and every
path plays one unmeasured turn per user, before measuring (logins are argon2 and rare in real use;
the first turn links a Telegram user and opens connections); then the processes are left to go
quiet (`settle`), so work an earlier cell left behind is not charged to this one.

Processes: the bot (`telegram-bot`), the console, paychat's Rasa (`rasa`), the action server,
the Stripe sandbox, bare Rasa, and this bench process (drivers and the fake Telegram Bot API).
A process a path does not cross still shows its idle CPU (timers, polling), which is the floor
every cell pays; `--idle` seconds of nothing measure it first.

Usage: `PYTHONPATH=. .venvs/app/bin/python -m bench.cpu_per_turn [--paths telegram,console_cookie]
[--turns 60] [--payments 8] [--users 4] [--out FILE.md]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path as FilePath
from typing import Any

import psutil
from rich.progress import Progress

from bench import environment
from bench.paths import build_paths
from bench.stack import BenchStack, exit_on_sigterm, start_bench_stack
from bench.turns import Cell, run_cell
from bench.users import provision_users
from scripts.train import ensure_model

PATHS = ["bare_rest", "channel", "telegram", "console_cookie", "console_basic"]
PROCESSES = ["telegram-bot", "console", "rasa", "action-server", "stripe-sandbox", "bare-rasa"]
BENCH = "bench (drivers, fake Telegram)"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for member in family:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of every process in `pids` and of this one."""
    out = {name: cpu_seconds(pid) for name, pid in pids.items()}
    out[BENCH] = cpu_seconds(os.getpid())
    return out


def per_turn(before: dict[str, float], after: dict[str, float], turns: int) -> dict[str, float]:
    """CPU milliseconds per turn of each process between two snapshots."""
    return {name: round(1000 * (after[name] - before[name]) / max(turns, 1), 2) for name in before}


async def settle(pids: dict[str, int], quiet_ms_per_second: float = 60.0, most: float = 90.0) -> float:
    """Wait until the processes (not this one) together use less than `quiet_ms_per_second` of CPU
    over a second, or `most` seconds pass: work left behind by earlier turns (a transcript written
    after the reply, a module imported on first use) is not charged to the next cell. Seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < most:
        before = snapshot(pids)
        await asyncio.sleep(1.0)
        after = snapshot(pids)
        if 1000 * sum(after[n] - before[n] for n in pids) < quiet_ms_per_second:
            break
    return round(time.monotonic() - started, 1)


async def first_turns(
    path: Any, users: list[Any], pids: dict[str, int], progress: Progress
) -> dict[str, Any]:
    """Each user's first turn through this door, with whatever work it leaves behind (the processes
    are left to go quiet before the second snapshot): connections opened, users linked, modules
    imported on first use."""
    if hasattr(path, "log_in"):
        await path.log_in(users)
    await settle(pids)
    before = snapshot(pids)
    cell: Cell = await run_cell(path, "plain", users, 1, f"cpu_{path.name}_first", progress)
    await settle(pids)
    errors = sum(cell.errors.values())
    return {
        "path": path.name,
        "kind": "first",
        "users": len(users),
        "turns": cell.turns,
        "errors": errors,
        "cpu_ms_per_turn": per_turn(before, snapshot(pids), cell.turns - errors),
    }


async def measure_cell(
    path: Any, kind: str, users: list[Any], rounds: int, tag: str, pids: dict[str, int], progress: Progress
) -> dict[str, Any]:
    """One measured cell: CPU ms per successful turn of every process, and the cell's counts."""
    if hasattr(path, "log_in"):
        await path.log_in(users)  # before the window: argon2 per login is not a turn's cost
    settled = await settle(pids)
    before, started = snapshot(pids), time.monotonic()
    cell: Cell = await run_cell(path, kind, users, rounds, tag, progress)
    after, seconds = snapshot(pids), time.monotonic() - started
    errors = sum(cell.errors.values())
    ok = cell.turns - errors
    return {
        "path": path.name,
        "kind": kind,
        "users": len(users),
        "turns": cell.turns,
        "errors": errors,
        "seconds": round(seconds, 2),
        "settled_after_seconds": settled,
        "cpu_ms_per_turn": per_turn(before, after, ok),
    }


async def play(
    stack: BenchStack, names: list[str], turns: int, payments: int, users: int, idle: float
) -> dict[str, Any]:
    """Idle floor first, then each path's plain and payment cells."""
    settings = stack.assistant.settings
    pids = {n: p for n, p in stack.processes().items() if n in PROCESSES}
    before = snapshot(pids)
    await asyncio.sleep(idle)
    idle_ms_per_s = {n: round(1000 * (v - before[n]) / idle, 2) for n, v in snapshot(pids).items()}
    plain_users = await asyncio.to_thread(provision_users, settings, users, label="cpu-plain")
    rounds = max(1, math.ceil(turns / users))
    pay_rounds = min(5, max(1, math.ceil(payments / users)))  # five payable bills per user
    cells = []
    for path in build_paths(stack, names):
        try:
            with Progress() as progress:
                cells.append(await first_turns(path, plain_users, pids, progress))
                cells.append(
                    await measure_cell(path, "plain", plain_users, rounds, f"cpu_{path.name}", pids, progress)
                )
                payers = await asyncio.to_thread(provision_users, settings, users, label=f"cpu-{path.name}")
                cells.append(
                    await measure_cell(
                        path, "payment", payers, pay_rounds, f"cpm_{path.name}", pids, progress
                    )
                )
        finally:
            await path.aclose()
    return {"idle_cpu_ms_per_second": idle_ms_per_s, "cells": cells}


def markdown(report: dict[str, Any]) -> str:
    """One table per kind of turn: CPU ms per turn, a row per path, a column per process."""
    cols = [*PROCESSES, BENCH]
    lines = ["# CPU per turn, per process", "", *environment.header_lines(report["environment"]), ""]
    lines.append(
        "CPU milliseconds (user + system, children included) per successful turn, read with psutil "
        "around each cell; a payment turn is either half of a conversation (pay, Confirm). "
        "`door` = the bot or the console; `total` excludes the bench process. "
        "Idle floor (CPU ms per second of nothing): "
        + ", ".join(f"{k} {v}" for k, v in report["idle_cpu_ms_per_second"].items())
    )
    titles = {
        "first": "first turn of each user (with the work it leaves behind)",
        "plain": "plain turn",
        "payment": "payment turn",
    }
    for kind, title in titles.items():
        lines += ["", f"## {title}", ""]
        lines.append("| path | turns | errors | " + " | ".join(cols) + " | total |")
        lines.append("| --- " * (len(cols) + 4) + "|")
        for cell in (c for c in report["cells"] if c["kind"] == kind):
            cpu = cell["cpu_ms_per_turn"]
            total = round(sum(v for k, v in cpu.items() if k != BENCH), 1)
            row = " | ".join(str(cpu.get(c, "")) for c in cols)
            lines.append(f"| {cell['path']} | {cell['turns']} | {cell['errors']} | {row} | {total} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--turns", type=int, default=60, help="plain turns per path")
    parser.add_argument("--payments", type=int, default=8, help="payment conversations per path")
    parser.add_argument("--users", type=int, default=4, help="users at once")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle floor measured first")
    parser.add_argument("--out", type=FilePath, default=None, help="markdown file (and .json beside it)")
    args = parser.parse_args()
    exit_on_sigterm()
    env = environment.describe(sys.argv)
    names = args.paths.split(",")
    with (
        tempfile.TemporaryDirectory(prefix="paychat-cpu-") as tmp,
        start_bench_stack(
            FilePath(tmp),
            ensure_model(),
            bare=any(p.startswith("bare") for p in names),
            console=any(p.startswith("console") for p in names),
            telegram="telegram" in names,
        ) as stack,
    ):
        result = asyncio.run(play(stack, names, args.turns, args.payments, args.users, args.idle))
    report = {"environment": environment.finish(env), **result}
    text = markdown(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
