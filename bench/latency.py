"""Chat-turn latency and memory of the real assistant (Rasa server + action server + sandbox).

Starts the same stack the end-to-end tests use, then plays short conversations through the
paychat channel — sequentially, then with several users at once — and records per-turn latency
percentiles, throughput and the resident memory of the Rasa and action server processes.
Writes bench/results/chat_latency.{json,md} and chat_latency.png (a latency histogram).

Usage: `make bench` or `PYTHONPATH=. .venvs/app/bin/python -m bench.latency [--conversations N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

from scripts.train import ensure_model
from tests.helpers.stack import AssistantStack, start_assistant_stack

RESULTS = Path(__file__).resolve().parent / "results"
# A conversation that exercises NLU, a form, the payments core and the summary, but pays nothing
# (the demo bills must stay payable): ask what is owed, start paying, then cancel.
SCRIPT = ["hi", "what do I owe?", "pay my phone bill", "/deny"]


async def _conversation(stack: AssistantStack, sender: str, latencies: list[float]) -> None:
    client = stack.rasa_client()
    try:
        for text in SCRIPT:
            started = time.perf_counter()
            await client.send(sender, text)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await client.aclose()


async def _play(stack: AssistantStack, conversations: int, concurrency: int, tag: str) -> dict[str, Any]:
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)
    with Progress() as progress:
        task = progress.add_task(f"{tag}: {conversations} conversations x{concurrency}", total=conversations)

        async def one(index: int) -> None:
            async with semaphore:
                await _conversation(stack, f"console-1-bench_{tag}_{index}", latencies)
                progress.advance(task)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(conversations)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "conversations": conversations,
        "turns": len(ordered),
        "turns_per_second": round(len(ordered) / elapsed, 2),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
        "latencies_ms": [round(x, 2) for x in latencies],
    }


def _rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (the Rasa CLI forks nothing, but be safe)."""
    total_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total_kib = int(line.split()[1])
    return round(total_kib / 1024, 1)


def _plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in runs:
        ax.hist(
            run["latencies_ms"],
            bins=40,
            alpha=0.6,
            label=f"{run['concurrency']} at once (p50 {run['p50_ms']} ms)",
        )
    ax.set_xlabel("chat turn latency (ms): channel → NLU → dialogue → actions → reply")
    ax.set_ylabel("turns")
    ax.set_title("paychat chat-turn latency (Rasa 3.6 + action server, 2 cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    model = ensure_model()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="paychat-bench-") as tmp,
        start_assistant_stack(Path(tmp), model) as stack,
    ):
        asyncio.run(_play(stack, 3, 1, "warmup"))
        runs = [
            asyncio.run(_play(stack, args.conversations // 2, 1, "sequential")),
            asyncio.run(_play(stack, args.conversations, args.concurrency, "concurrent")),
        ]
        memory = {name: _rss_mib(stack.process(name).popen.pid) for name in ("rasa", "action-server")}
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "script": SCRIPT,
        "rss_mib_after": memory,
        "runs": [{k: v for k, v in r.items() if k != "latencies_ms"} for r in runs],
    }
    (RESULTS / "chat_latency.json").write_text(json.dumps(report, indent=2))
    _plot(runs, RESULTS / "chat_latency.png")
    lines = [
        "# Chat-turn latency",
        "",
        f"Measured {report['generated_at']} on {report['machine']} with `make bench` (bench/latency.py).",
        f"Each conversation: {' → '.join(SCRIPT)} (through the secret-checked channel, real actions).",
        "",
        "| users at once | turns | turns/s | p50 ms | p95 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        "| "
        + " | ".join(
            str(r[k]) for k in ("concurrency", "turns", "turns_per_second", "p50_ms", "p95_ms", "max_ms")
        )
        + " |"
        for r in report["runs"]
    ]
    lines += [
        "",
        f"Resident memory after the run: {memory} MiB.",
        "",
        "![latency histogram](chat_latency.png)",
        "",
    ]
    (RESULTS / "chat_latency.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
