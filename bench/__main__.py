"""`make bench`: every benchmark in turn — NLU quality (own split, independent dev and test sets),
BANKING77 through the project's pipeline, then the whole-path turn benchmark beside bare Rasa
(bench/turns.py), hostile input at every edge (bench/fuzz.py: 100,000 generated inputs) and 200
users paying at once through Telegram on SQLite and PostgreSQL (bench/concurrency.py).
`BENCH_ARGS="--quick"` runs the last three small (a few hundred inputs, 10 users) and records
nothing of the fuzzer and the storm; `--time-train` re-times `rasa train`. Reliability under
faults is its own command: `python -m bench.reliability`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import banking77, concurrency, fuzz, nlu, turns


def main() -> None:
    """Run the NLU report, BANKING77, the whole-path benchmark and the fuzzer; results in bench/results/."""
    time_train = "--time-train" in sys.argv
    quick = "--quick" in sys.argv
    sys.argv = sys.argv[:1] + (["--quick"] if quick else [])
    nlu.run(["own", "dev", "test"], time_train=time_train)
    if not quick:  # its quick mode is a smoke test (tests/rasa), not a number worth recording
        banking77.run(quick=False, out_dir=banking77.RESULTS)
    report = turns.run(quick=quick, out=turns.RESULTS, path_names=turns.ALL_PATHS)
    print(turns.markdown(report))
    with tempfile.TemporaryDirectory(prefix="paychat-fuzz-") as workdir:
        # The quick run's counts are not worth recording over the long run's: written nowhere.
        fuzzed = fuzz.run(long=not quick, workdir=Path(workdir), out=None if quick else fuzz.RESULTS)
    print(fuzz.markdown(fuzzed))
    # 200 users paying at once through Telegram, on SQLite and PostgreSQL (10 users with --quick).
    stormed = concurrency.run(quick=quick, out=None if quick else concurrency.RESULTS)
    print(concurrency.markdown(stormed))


if __name__ == "__main__":
    main()
