"""bench.check_set: the tuning sets parse cleanly, and a broken file is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.check_set import check_set, domain_intents, main
from bench.nlu import SETS


@pytest.mark.parametrize("name", ["dev4", "dev5"])
def test_tuning_sets_have_no_problems(name: str) -> None:
    found = check_set(SETS[name], domain_intents())
    assert len(found.examples) > 500
    assert found.problems == []


def test_broken_annotations_are_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        'version: "3.1"\nnlu:\n- intent: pay_bill\n  examples: |\n'
        "    - pay [Netflix](biller) now\n    - pay netflix] now\n    - Pay [Netflix](biller) NOW\n"
        "    - pay [ 12](amount) to gas\n- intent: sing_a_song\n  examples: |\n    - la la\n"
        "- intent: pay_bill\n  examples: |\n    - pay [x](colour)\n",
        encoding="utf-8",
    )
    problems = check_set(broken, domain_intents()).problems
    assert any(p.startswith("leftover bracket") for p in problems)
    assert any(p.startswith("duplicate: pay netflix now") for p in problems)
    assert any(p.startswith("bad span") for p in problems)
    assert any(p.startswith("unknown intent sing_a_song") for p in problems)
    assert any(p.startswith("unknown entity colour") for p in problems)
    assert main([str(broken)]) == 1
