"""The set-up is idempotent and the model fingerprint is stable."""

from __future__ import annotations

import subprocess
import time

from scripts import train
from scripts.procs import ROOT


def test_second_setup_installs_nothing() -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "scripts/setup.sh", "all"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "rasa environment is up to date" in result.stderr
    assert "app environment is up to date" in result.stderr
    assert "building" not in result.stderr
    assert time.monotonic() - started < 60  # generous: a rebuild takes minutes


def test_model_fingerprint_is_stable_and_tracks_training_data(tmp_path) -> None:
    for name in ("rasa_project/config.yml", "rasa_project/data/nlu.yml", "requirements/rasa.lock"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"# {name}\n")
    first = train.fingerprint(tmp_path)
    assert first == train.fingerprint(tmp_path)
    (tmp_path / "rasa_project/data/nlu.yml").write_text("# one more example\n")
    assert train.fingerprint(tmp_path) != first
    (tmp_path / "rasa_project/data/nlu.yml").write_text("# rasa_project/data/nlu.yml\n")
    assert train.fingerprint(tmp_path) == first
