"""The trained dialogue model follows every test story with zero prediction errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.train import current_model_path
from tests.rasa.conftest import PROJECT, run_rasa

pytestmark = pytest.mark.e2e


def test_test_stories_have_no_prediction_errors(spacy_pipeline: Path, tmp_path: Path) -> None:
    model = current_model_path()
    if not model.exists():
        pytest.skip(f"no trained model for the current data ({model.name}); run `make train` first")
    result = run_rasa(
        "test",
        "core",
        "--stories",
        str(PROJECT / "tests"),
        "--model",
        str(model),
        "--out",
        str(tmp_path),
        "--no-plot",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    failed = tmp_path / "failed_test_stories.yml"
    failures = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert "story:" not in failures, failures[:4000]
    report = json.loads((tmp_path / "story_report.json").read_text(encoding="utf-8"))
    assert report["conversation_accuracy"]["accuracy"] == 1.0, report["conversation_accuracy"]
