"""`make bench`: every benchmark in turn — NLU quality on the held-out split, then the whole-path
turn benchmark beside bare Rasa (bench/turns.py). `BENCH_ARGS="--quick"` runs the latter small;
`--time-train` re-times `rasa train`. Reliability under faults is its own command:
`python -m bench.reliability` (bench/results/reliability.md)."""

from __future__ import annotations

import sys

from bench import nlu, turns


def main() -> None:
    """Run the NLU report and the whole-path benchmark; results land in bench/results/."""
    time_train = "--time-train" in sys.argv
    quick = "--quick" in sys.argv
    sys.argv = sys.argv[:1] + (["--quick"] if quick else [])
    nlu.run(time_train=time_train)
    report = turns.run(quick=quick, out=turns.RESULTS, path_names=turns.ALL_PATHS)
    print(turns.markdown(report))


if __name__ == "__main__":
    main()
