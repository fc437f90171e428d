"""RunClock (testing/runclock.py), the fuzzer's clock for its waits: time a thread of this process
spent waiting for a CPU is not counted; time it slept (a stuck bot waits on something) is."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.runclock import RunClock

LINUX_SCHEDSTAT = Path("/proc/self/task").is_dir() and hasattr(os, "sched_setaffinity")


def test_time_asleep_counts_in_full() -> None:
    clock = RunClock()
    time.sleep(0.5)
    assert clock.wall() >= 0.5
    assert clock.elapsed() >= 0.4


@pytest.mark.skipif(not LINUX_SCHEDSTAT, reason="needs Linux schedstat and CPU affinity")
def test_time_waiting_for_a_cpu_is_not_counted() -> None:
    cpu = min(os.sched_getaffinity(0))
    spin = f"import os, sys; os.sched_setaffinity(0, {{{cpu}}}); print(flush=True)\nwhile True: pass"
    rivals = [subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE) for _ in range(2)]
    allowed = os.sched_getaffinity(0)
    try:
        for rival in rivals:
            assert rival.stdout is not None
            rival.stdout.readline()  # spinning on our CPU now
        os.sched_setaffinity(0, {cpu})  # this thread only
        clock = RunClock()
        until = time.monotonic() + 1.0
        while time.monotonic() < until:  # runnable all along, sharing one CPU with two spinners
            pass
        starved, wall, elapsed = clock.starved(), clock.wall(), clock.elapsed()
    finally:
        os.sched_setaffinity(0, allowed)
        for rival in rivals:
            rival.kill()
            rival.wait()
    assert starved > 0.3, (starved, wall)  # about 2/3 of the second, on an idle machine
    assert elapsed < wall - 0.3
