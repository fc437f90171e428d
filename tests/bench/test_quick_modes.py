"""The benchmarks' quick modes run end to end: the whole-path harness, and the fault scenarios with
their invariants (no lost message, no double charge, every payment terminal). Speed is never
asserted. They share the session's assistant and add bare Rasa, the console, the bot process and
fault proxies in front of the sandbox and Rasa (bench/stack.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bench import cpu_per_turn, environment, reliability, turns
from bench.stack import BenchStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_whole_path_quick_mode_measures_every_path(bench_stack: BenchStack, tmp_path: Path) -> None:
    report = turns.measure(
        bench_stack, turns.QUICK, turns.ALL_PATHS, environment.describe(["turns.py", "--quick"])
    )
    turns.write_report(report, tmp_path)

    assert {p.name for p in tmp_path.iterdir()} == {"whole_path.json", "whole_path.md", "whole_path.png"}
    cells = {(c["path"], c["kind"], c["users"]) for c in report["cells"]}
    for path in turns.ALL_PATHS:
        for users in turns.QUICK.levels:
            assert (path, "plain", users) in cells
            if path != "bare_parse":
                assert (path, "payment", users) in cells
    assert all(c["errors"] == 0 for c in report["cells"]), [c["errors_by_kind"] for c in report["cells"]]
    assert report["charges"]["double_charges"] == 0
    assert report["charges"]["charged_but_not_succeeded"] == 0
    assert {r["path"] for r in report["ratios"]} == {"channel", "console_cookie", "console_basic", "telegram"}
    assert {"rasa", "bare-rasa", "action-server", "console", "telegram-bot"} <= set(report["peak_memory_mib"])
    assert json.loads((tmp_path / "whole_path.json").read_text())["environment"]["machine"]["cores"]


def test_reliability_quick_mode_keeps_every_invariant(bench_stack: BenchStack, tmp_path: Path) -> None:
    chosen = [s for s in reliability.scenarios() if s.quick]
    results = asyncio.run(reliability.play(bench_stack, chosen, users_per_scenario=2))
    report = reliability.report_for(
        results, environment.finish(environment.describe(["reliability.py"])), "SQLite", []
    )
    reliability.write(report, tmp_path)

    assert [r["scenario"] for r in results] == [s.name for s in chosen]
    assert all(r["ok"] for r in results), [
        (r["scenario"], r["outcomes"], r["payment_statuses"], r["replies"]) for r in results if not r["ok"]
    ]
    assert report["totals"]["double_charges"] == 0 and report["totals"]["unanswered"] == 0
    assert "| stripe_reset_after |" in (tmp_path / "reliability.md").read_text()


def test_cpu_per_turn_mode_reads_every_process_of_every_door(bench_stack: BenchStack) -> None:
    doors = ["bare_rest", "telegram", "console_cookie", "console_basic"]
    report = asyncio.run(cpu_per_turn.play(bench_stack, doors, turns=2, payments=1, users=1, idle=0.5))

    assert [(c["path"], c["kind"]) for c in report["cells"]] == [
        (door, kind) for door in doors for kind in ("first", "plain", "payment")
    ]
    assert all(c["errors"] == 0 for c in report["cells"]), report["cells"]
    for cell in report["cells"]:
        cpu = cell["cpu_ms_per_turn"]
        assert set(cpu) == {*cpu_per_turn.PROCESSES, cpu_per_turn.BENCH}
        if cell["kind"] == "first":  # one turn: may be below psutil's 10 ms tick
            continue
        door = {"telegram": "telegram-bot", "bare_rest": "bare-rasa"}.get(cell["path"], "console")
        # The door a turn went through worked for it (a positive amount, not a fixed one).
        assert cpu[door] > 0, (cell["path"], cpu)
        if cell["path"] != "bare_rest":
            assert cpu["rasa"] > 0, (cell["path"], cpu)
    table = cpu_per_turn.markdown({"environment": environment.finish(environment.describe(["x"])), **report})
    assert "| telegram | 2 | 0 |" in table and "## payment turn" in table
