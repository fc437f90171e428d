"""Where and how a benchmark ran: machine, command, commit, date, load; and the model's facts.

Every result file carries these, so a number is never read without knowing what produced it. The
load average before and after tells whether others were using the machine during the run.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.nlu import RESULTS as NLU_RESULTS
from bench.nlu import recorded_train_seconds
from scripts.train import fingerprint

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + (
        " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def describe(argv: list[str]) -> dict[str, Any]:
    """The machine, command, commit and start time of a run."""
    return {
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "os": platform.platform(terse=True),
        },
        "command": "python -m " + " ".join(["bench." + Path(argv[0]).stem, *map(shlex.quote, argv[1:])]),
        "commit": _commit(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "_t0": time.monotonic(),
    }


def finish(env: dict[str, Any]) -> dict[str, Any]:
    """`env` with the run's duration and the load average at its end."""
    done = {k: v for k, v in env.items() if not k.startswith("_")}
    done["seconds"] = round(time.monotonic() - env["_t0"], 1)
    done["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return done


def header_lines(env: dict[str, Any]) -> list[str]:
    """Markdown lines naming the machine, command, commit, date and load."""
    m = env["machine"]
    return [
        f"Measured {env['started_at']} ({env['seconds']} s) on {m['cpu']}, {m['cores']} cores, "
        f"{m['ram_gib']} GiB RAM, Python {m['python']}, {m['os']}.",
        f"Command: `{env['command']}` at commit {env['commit']}. Load average (1/5/15 min) before "
        f"{env['load_before']}, after {env['load_after']}: above ~{m['cores']} means other work "
        "shared the cores and the numbers are noisy.",
    ]


def model_facts(model: Path) -> dict[str, Any]:
    """The model file, its size, and the cold `rasa train` time measured for the current inputs."""
    seconds = recorded_train_seconds(NLU_RESULTS / "nlu_report.json", fingerprint())
    return {
        "file": model.name,
        "size_mib": round(model.stat().st_size / 2**20, 1),
        "train_seconds": seconds,
        "train_source": "bench/results/nlu_report.json (python -m bench.nlu --time-train)"
        if seconds is not None
        else "not measured for these inputs: run python -m bench.nlu --time-train",
    }
