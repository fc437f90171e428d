"""Tuning commands started from the console: one `python -m tuning …` process at a time, with a log.

Training and comparing take minutes, longer than a web request may; the console starts the same
command an admin would type, in the background, and shows its state and the tail of its log.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("export", "train", "compare", "promote", "rollback")
LOG_TAIL_CHARS = 4000


class JobError(RuntimeError):
    """A job could not be started (unknown command, another one running)."""


@dataclass
class Job:
    """One started command."""

    id: int
    command: str
    actor: str
    started_at: datetime
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def exit_code(self) -> int | None:
        """None while running."""
        return self.process.poll()

    @property
    def state(self) -> str:
        """running, done or failed."""
        code = self.exit_code
        return "running" if code is None else ("done" if code == 0 else "failed")

    def log_tail(self) -> str:
        """The end of the command's output."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""


class JobRunner:
    """Starts tuning commands one at a time and remembers them (per console process)."""

    def __init__(self, jobs_dir: Path, env: dict[str, str] | None = None) -> None:
        self._dir = jobs_dir
        self._env = env
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    def start(self, command: str, *, actor: str) -> Job:
        """Start `python -m tuning <command> --actor <actor>` unless a job is running."""
        if command not in COMMANDS:
            raise JobError(f"unknown command {command!r}")
        with self._lock:
            if any(job.state == "running" for job in self._jobs):
                raise JobError("another tuning command is still running")
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            started = datetime.now(UTC)
            log_path = self._dir / f"{started:%Y%m%dT%H%M%S}-{command}.log"
            argv = [sys.executable, "-m", "tuning", command]
            if command in ("train", "promote", "rollback"):
                argv += ["--actor", actor]
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    argv,
                    cwd=ROOT,
                    env=self._env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            job = Job(
                id=len(self._jobs) + 1,
                command=command,
                actor=actor,
                started_at=started,
                log_path=log_path,
                process=process,
            )
            self._jobs.append(job)
            return job

    def jobs(self) -> list[Job]:
        """Every job this console started, newest first."""
        return list(reversed(self._jobs))
