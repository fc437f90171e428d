"""The fuzzer's quick mode (what `make test` runs; `python -m bench.fuzz --long` is 100,000 inputs):
a few hundred generated inputs at each edge, and no finding."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bench import fuzz

pytestmark = pytest.mark.timeout(900)


def test_quick_mode_sends_hostile_input_to_every_edge_and_finds_nothing(tmp_path: Path) -> None:
    telegram_level = logging.getLogger("telegram").level
    report = fuzz.run(long=False, workdir=tmp_path / "work", out=tmp_path / "out")
    assert logging.getLogger("telegram").level == telegram_level  # quieted for the run only

    edges = {e["edge"]: e for e in report["edges"]}
    assert set(edges) == set(fuzz.EDGES)
    # Findings first: an edge stopped early by one has fewer inputs, and the finding says why.
    findings = "\n\n".join(f"[{e['edge']}] {f}" for e in report["edges"] for f in e["findings"])
    assert report["totals"]["findings"] == 0, findings
    assert all(e["inputs"] >= fuzz.QUICK_PER_EDGE for e in edges.values()), {
        k: e["inputs"] for k, e in edges.items()
    }
    assert any(k.startswith("2") for k in edges["console"]["outcomes"])  # some messages were answered
    assert (
        json.loads((tmp_path / "out" / "fuzz.json").read_text())["totals"]["inputs"]
        >= 4 * fuzz.QUICK_PER_EDGE
    )
    assert "| telegram |" in (tmp_path / "out" / "fuzz.md").read_text()


def test_a_finding_is_reported_with_its_shrunk_example() -> None:
    class Fragile:
        name = "fragile"

        def strategy(self):  # type: ignore[no-untyped-def]
            return fuzz.hostile_text()

        def check(self, text: str) -> str:
            if "\x00" in text:
                raise fuzz.Finding("NUL crashed it")
            return "ok"

    result = fuzz.fuzz_edge(Fragile(), 2000, progress=lambda _: None)
    assert result.findings and "NUL crashed it" in result.findings[0]
    assert "'\\x00'" in result.findings[0]  # Hypothesis shrank it to the NUL alone
