"""`make bench`: every benchmark in turn — NLU quality (own split, independent dev and test sets),
BANKING77 through the project's pipeline, then chat latency. Results land in bench/results/."""

from __future__ import annotations

import sys

from bench import banking77, latency, nlu


def main() -> None:
    """Run the NLU report, the BANKING77 benchmark and the latency benchmark."""
    time_train = "--time-train" in sys.argv
    sys.argv = sys.argv[:1]
    nlu.run(["own", "dev", "test"], time_train=time_train)
    banking77.run(quick=False, out_dir=banking77.RESULTS)
    latency.main()


if __name__ == "__main__":
    main()
