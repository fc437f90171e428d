"""bench/nlu.py reuses a recorded `rasa train` time only when it was measured on the current inputs."""

from __future__ import annotations

import json
from pathlib import Path

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
