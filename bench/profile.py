"""Where a turn's time goes: py-spy samples every process while the whole-path benchmark runs.

Starts the bench stack, then for each chosen path plays 20 users at once (plain turns, then payment
conversations) while `py-spy record` samples the processes that path crosses (100 samples/s,
CPU time only: threads waiting on the network or a lock are not counted). Writes, per process, a
flame graph (`profile_<process>.svg`) and `profile.md`: each process's CPU share during the run
and its heaviest frames, inclusive (a function and everything it calls) and self (the function's
own code), with our own code marked.

Usage: `PYTHONPATH=. .venvs/app/bin/python -m bench.profile [--paths telegram,console_basic]`.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
from rich.progress import Progress

from bench import environment
from bench.paths import build_paths
from bench.stack import BenchStack, exit_on_sigterm, start_bench_stack
from bench.turns import run_cell
from bench.users import provision_users
from scripts.train import ensure_model

RESULTS = Path(__file__).resolve().parent / "results"
PY_SPY = Path(sys.executable).parent / "py-spy"
PROCESSES = ["rasa", "action-server", "console", "telegram-bot", "stripe-sandbox"]
OURS = re.compile(r"/(actions|payments|db|bot|console|rasa_client|rasa_project/channels|settings)/")


def frame_name(frame: str) -> str:
    """`function (path/to/file.py:12)` → `function (file.py)`, shortened for the report."""
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    function, path = match.groups()
    marker = " ★" if OURS.search(path) else ""
    return f"{function} ({'/'.join(Path(path).parts[-2:])}){marker}"


def top_frames(collapsed: str, limit: int = 12) -> dict[str, Any]:
    """Heaviest frames of py-spy's collapsed stacks: inclusive and self shares of the samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame_name(f) for f in stack.split(";")[1:]]  # the first entry is the thread
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    return {
        "samples": total,
        "inclusive": [(name, round(100 * n / total, 1)) for name, n in inclusive.most_common(limit)]
        if total
        else [],
        "self": [(name, round(100 * n / total, 1)) for name, n in own.most_common(limit)] if total else [],
    }


def _record(pid: int, out: Path, fmt: str, seconds: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "100",
            "--duration",
            str(seconds),
            "--format",
            fmt,
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def profile_path(
    stack: BenchStack, path_name: str, users: int, out: Path, seconds: int
) -> dict[str, Any]:
    """Sample every process while `users` users use `path_name` for about `seconds`."""
    settings = stack.assistant.settings
    plain = await asyncio.to_thread(provision_users, settings, users, label=f"profile-{path_name}")
    # Fresh payers for every payment round (their bills get paid), made before sampling starts.
    payer_sets = [
        await asyncio.to_thread(provision_users, settings, users, label=f"profile-pay-{path_name}-{i}")
        for i in range(6)
    ]
    (path,) = build_paths(stack, [path_name])
    pids = {name: pid for name, pid in stack.processes().items() if name in PROCESSES}
    try:
        with Progress() as progress:
            await run_cell(path, "plain", plain, 1, f"prof_warm_{path_name}", progress)
            cpu_before = {n: psutil.Process(p).cpu_times() for n, p in pids.items()}
            spies = {
                name: (
                    _record(pid, out / f"profile_{path_name}_{name}.txt", "raw", seconds),
                    _record(pid, out / f"profile_{path_name}_{name}.svg", "flamegraph", seconds),
                )
                for name, pid in pids.items()
            }
            started = time.monotonic()
            turns = 0
            while time.monotonic() - started < seconds - 2 and payer_sets:
                cell = await run_cell(path, "plain", plain, 5, f"prof_{path_name}_{turns}", progress)
                turns += cell.turns
                payers = payer_sets.pop()
                cell = await run_cell(path, "payment", payers, 1, f"prof_pay_{path_name}_{turns}", progress)
                turns += cell.turns
            elapsed = time.monotonic() - started
            cpu_after = {n: psutil.Process(p).cpu_times() for n, p in pids.items()}
            for pair in spies.values():
                for spy in pair:
                    await asyncio.to_thread(spy.wait, seconds + 60)
    finally:
        await path.aclose()
    processes = {}
    for name in pids:
        used = (cpu_after[name].user + cpu_after[name].system) - (
            cpu_before[name].user + cpu_before[name].system
        )
        raw = out / f"profile_{path_name}_{name}.txt"
        frames = top_frames(raw.read_text()) if raw.exists() else {"samples": 0, "inclusive": [], "self": []}
        raw.unlink(missing_ok=True)
        processes[name] = {
            "cpu_seconds": round(used, 1),
            "cpu_share_of_wall": round(used / elapsed, 2),
            **frames,
        }
    return {
        "path": path_name,
        "users": users,
        "seconds": round(elapsed, 1),
        "turns": turns,
        "processes": processes,
    }


def markdown(report: dict[str, Any]) -> str:
    """profile.md: CPU per process and the heaviest frames."""
    lines = [
        "# Profile of a turn, per process (py-spy)",
        "",
        *environment.header_lines(report["environment"]),
        "",
    ]
    lines.append(
        "CPU seconds are the process's own (user + system) during the sampled window; 1.0 of wall "
        "is one whole core. Frames: share of that process's CPU samples; ★ marks paychat's code. "
        "Flame graphs: `profile_<path>_<process>.svg` beside this file."
    )
    for run in report["runs"]:
        lines += [
            "",
            f"## {run['path']}, {run['users']} users at once ({run['turns']} turns in {run['seconds']} s)",
            "",
            "| process | CPU s | cores busy | samples |",
            "| --- | --- | --- | --- |",
        ]
        ordered = sorted(run["processes"].items(), key=lambda kv: -kv[1]["cpu_seconds"])
        lines += [
            f"| {n} | {p['cpu_seconds']} | {p['cpu_share_of_wall']} | {p['samples']} |" for n, p in ordered
        ]
        for name, proc in ordered:
            if not proc["samples"]:
                continue
            lines += [
                "",
                f"### {name}",
                "",
                "| inclusive % | frame | | self % | frame |",
                "| --- | --- | --- | --- | --- |",
            ]
            for (inc, inc_pct), (own, own_pct) in zip(proc["inclusive"], proc["self"], strict=False):
                lines.append(f"| {inc_pct} | `{inc}` | | {own_pct} | `{own}` |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paths", default="telegram,console_basic,console_cookie")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    exit_on_sigterm()
    env = environment.describe(sys.argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="paychat-profile-") as tmp,
        start_bench_stack(Path(tmp), ensure_model(), bare=False) as stack,
    ):
        runs = [
            asyncio.run(profile_path(stack, name, args.users, args.out, args.seconds))
            for name in args.paths.split(",")
        ]
    report = {"environment": environment.finish(env), "runs": runs}
    (args.out / "profile.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
