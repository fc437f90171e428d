"""Run a Python script in the Rasa environment (Python 3.10, .venvs/rasa) against a tracker database.

The tracker-store tests drive paychat's SQL tracker store and channel inside Rasa's own interpreter:
the script gets the tracker database path as its first argument, the store's environment
(RASA_TRACKER_DB, an action endpoint nobody answers, telemetry off) and rasa_project/ plus the repo
root on its path. It reports by printing one JSON object as its last line of stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "rasa_project"
RASA_PYTHON = ROOT / ".venvs" / "rasa" / "bin" / "python"


def require_rasa_env() -> None:
    """Skip the calling test when the Rasa environment has not been set up."""
    if not RASA_PYTHON.exists():
        pytest.skip("the Rasa environment is missing (run `make setup`)")


def tracker_store_env(tracker_db: Path, **extra: str) -> dict[str, str]:
    """This process's environment plus what the tracker store reads; `extra` overrides."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(PROJECT), str(ROOT)]),
        RASA_TRACKER_DB=str(tracker_db),
        ACTION_ENDPOINT_URL="http://127.0.0.1:9/webhook",
        ACTION_SERVER_SECRET="unused",
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    env.pop("TICKET_LOCK_LIFETIME", None)  # Rasa's default lock lifetime, as `make run` has it
    env.update(extra)
    return env


def run_in_rasa_env(
    script: str, *args: str, tracker_db: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -c script <tracker_db> <args>` in the Rasa environment, cwd rasa_project/, output captured."""
    return subprocess.run(
        [str(RASA_PYTHON), "-c", script, *args],
        cwd=PROJECT,
        env=tracker_store_env(tracker_db),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_json_line(done: subprocess.CompletedProcess[str]) -> Any:
    """The JSON object the script printed last (its report)."""
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_tracker_script(script: str, *args: str, tracker_db: Path) -> Any:
    """Run `script` with the tracker database as its first argument; it must exit 0. Returns its report."""
    done = run_in_rasa_env(script, str(tracker_db), *args, tracker_db=tracker_db)
    assert done.returncode == 0, done.stderr[-2000:]
    return last_json_line(done)
