"""No module of ours is named like a standard-library module.

`python bench/rasa_side.py` puts bench/ first on sys.path, so a bench/profile.py once replaced the
standard library's `profile` inside Rasa (cProfile imports it) and the NLU benchmark could not load
a model. Any folder a script runs from can do that, so the rule covers every module we own.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".venvs", ".git", "var", "node_modules", "test-artifacts"}


def test_no_module_shadows_the_standard_library() -> None:
    ours = [
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED.intersection(path.relative_to(ROOT).parts)
        and not path.relative_to(ROOT).parts[0].startswith(".")
    ]
    assert ours, "found no modules: the scan itself is broken"
    clashes = sorted(
        str(path.relative_to(ROOT)) for path in ours if path.stem in sys.stdlib_module_names
    )
    assert not clashes, f"these shadow standard-library modules when their folder is on sys.path: {clashes}"
