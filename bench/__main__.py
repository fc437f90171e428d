"""`make bench`: every benchmark in turn — NLU quality on the held-out split, then chat latency."""

from __future__ import annotations

import sys

from bench import latency, nlu


def main() -> None:
    """Run the NLU report and the latency benchmark; results land in bench/results/."""
    time_train = "--time-train" in sys.argv
    sys.argv = sys.argv[:1]
    nlu.run(time_train=time_train)
    latency.main()


if __name__ == "__main__":
    main()
