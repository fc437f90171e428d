"""The benchmarks: recorded training times, entity matching, BANKING77 in --quick mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.nlu import recorded_train_seconds
from scripts.train import fingerprint


def test_a_time_measured_on_other_data_is_not_reused(tmp_path: Path) -> None:
    report = tmp_path / "nlu_report.json"
    assert recorded_train_seconds(report, fingerprint()) is None
    report.write_text(json.dumps({"rasa_train_seconds": 150.5}), encoding="utf-8")
    assert recorded_train_seconds(report, fingerprint()) is None  # no fingerprint recorded
    report.write_text(
        json.dumps({"rasa_train_seconds": 150.5, "rasa_train_fingerprint": "0" * 20}), encoding="utf-8"
    )
    assert recorded_train_seconds(report, fingerprint()) is None
    report.write_text(
        json.dumps({"rasa_train_seconds": 150.5, "rasa_train_fingerprint": fingerprint()}), encoding="utf-8"
    )
    assert recorded_train_seconds(report, fingerprint()) == 150.5


def test_entity_spans_match_by_token_overlap() -> None:
    from bench.nlu import entity_scores, parse_annotated

    text, gold = parse_annotated("pay [20](amount) on [the 1st](date) to [Vodafone](biller)")
    assert text == "pay 20 on the 1st to Vodafone"
    start = text.index("on the 1st")
    parses = [
        {
            "entities": [
                {"entity": "date", "start": start, "end": start + len("on the 1st")},  # overlaps: a match
                {"entity": "amount", "start": text.index("Vodafone"), "end": len(text)},  # wrong place
            ]
        }
    ]
    scores = entity_scores([{"text": text, "entities": gold}], parses)
    assert scores["date"]["recall"] == 1.0 and scores["date"]["precision"] == 1.0
    assert scores["amount"]["recall"] == 0.0 and scores["amount"]["precision"] == 0.0
    assert scores["biller"]["recall"] == 0.0 and scores["biller"]["support"] == 1


@pytest.mark.e2e
def test_banking77_quick_mode_runs_the_whole_path(tmp_path: Path) -> None:
    from bench.banking77 import main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "banking77.json").read_text(encoding="utf-8"))
    assert report["quick"] and report["intents"] == 8
    assert set(report["results"]) >= {
        "paychat pipeline (rasa train nlu)",
        "TF-IDF + LinearSVC",
        "MiniLM + LinearSVC",
    }
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in report["results"].values())
    assert (tmp_path / "banking77.md").exists() and (tmp_path / "banking77.png").exists()
