"""Time a process could have run: wall time minus the time its threads waited for a CPU.

On a shared machine, and more so under `nice`, a process can sit runnable for long stretches while
other work holds the cores: a wall-clock deadline then blames the code under test for the machine's
load. Linux counts per thread the time spent runnable but waiting for a CPU (the second field of
/proc/self/task/<tid>/schedstat); `RunClock` takes the wall time since it started minus the longest
such wait of any one thread of this process. A thread that is stuck (sleeping on a lock, an event
that never comes) does not wait for a CPU, so its time counts in full. Without /proc it is the wall
clock.
"""

from __future__ import annotations

import time
from pathlib import Path

TASKS = Path("/proc/self/task")


def cpu_waits() -> dict[str, float]:
    """Seconds each thread of this process has waited, runnable, for a CPU (empty without /proc)."""
    waits: dict[str, float] = {}
    for path in TASKS.glob("*/schedstat"):
        try:
            waits[path.parent.name] = int(path.read_text().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return waits


class RunClock:
    """Started when made: `wall()`, `starved()` (the longest CPU wait of one thread), `elapsed()`."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._waits = cpu_waits()

    def wall(self) -> float:
        """Seconds since the clock started."""
        return time.monotonic() - self._started

    def starved(self) -> float:
        """The longest time one thread of this process has waited for a CPU since the clock started."""
        now = cpu_waits()
        return max((wait - self._waits.get(tid, 0.0) for tid, wait in now.items()), default=0.0)

    def elapsed(self) -> float:
        """Wall seconds minus `starved()`: the time the process could have run."""
        return max(0.0, self.wall() - self.starved())
