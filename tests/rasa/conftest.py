"""Helpers for tests that run the Rasa CLI (Rasa env, Python 3.10) on rasa_project/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "rasa_project"
RASA = ROOT / ".venvs" / "rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venvs" / "rasa" / "bin" / "python"


def run_rasa(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `rasa <args>` in rasa_project/ with telemetry off; output captured as text."""
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(PROJECT))
    return subprocess.run(
        [str(RASA), *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def spacy_pipeline() -> Path:
    """The rule-based spaCy pipeline SpacyNLP loads (built if missing or older than its script)."""
    if not RASA.exists():
        pytest.skip("the Rasa environment is missing (run `make setup`)")
    subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "scripts" / "build_spacy_pipeline.py")],
        check=True,
        capture_output=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    return PROJECT / "spacy_pipeline"
