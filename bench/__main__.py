"""`make bench`: every benchmark in turn — NLU quality (own split, independent dev and test sets),
BANKING77 through the project's pipeline, then the whole-path turn benchmark beside bare Rasa
(bench/turns.py). `BENCH_ARGS="--quick"` runs the whole-path part small; `--time-train` re-times
`rasa train`. Reliability under faults is its own command: `python -m bench.reliability`."""

from __future__ import annotations

import sys

from bench import banking77, nlu, turns


def main() -> None:
    """Run the NLU report, BANKING77 and the whole-path benchmark; results land in bench/results/."""
    time_train = "--time-train" in sys.argv
    quick = "--quick" in sys.argv
    sys.argv = sys.argv[:1] + (["--quick"] if quick else [])
    nlu.run(["own", "dev", "test"], time_train=time_train)
    if not quick:  # its quick mode is a smoke test (tests/rasa), not a number worth recording
        banking77.run(quick=False, out_dir=banking77.RESULTS)
    report = turns.run(quick=quick, out=turns.RESULTS, path_names=turns.ALL_PATHS)
    print(turns.markdown(report))


if __name__ == "__main__":
    main()
