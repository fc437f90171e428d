"""Train the Rasa model only when none matches the current data and config.

The fingerprint is a sha256 over everything that shapes the model: the Rasa lock file, config,
domain, training data, the spaCy pipeline builder and any custom components. Models are kept in
a cache folder keyed by it, so a fresh clone (CI) with unchanged data reuses the trained model.
`rasa_project/models/current.tar.gz` links to the model matching this checkout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "rasa_project"
CACHE = Path(os.environ.get("PAYCHAT_CACHE", Path.home() / ".cache" / "paychat")) / "models"
INPUTS = [
    "requirements/rasa.lock",
    "scripts/build_spacy_pipeline.py",
    "payments/currency_markers.py",
    "rasa_project/config.yml",
    "rasa_project/domain.yml",
    "rasa_project/domain",
    "rasa_project/data",
    "rasa_project/components",
]


def fingerprint(root: Path = ROOT) -> str:
    """sha256 of every input file's path (relative to `root`) and content, in a stable order."""
    digest = hashlib.sha256()
    for name in INPUTS:
        entry = root / name
        files = sorted(p for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else [entry]
        for path in files:
            if not path.exists() or "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def current_model_path() -> Path:
    """Where the model for this checkout's fingerprint lives (trained or not)."""
    return CACHE / f"paychat-{fingerprint()}.tar.gz"


def ensure_model(force: bool = False) -> Path:
    """Return the model for the current fingerprint, training it first if needed."""
    model = current_model_path()
    link = PROJECT / "models" / "current.tar.gz"
    if force or not model.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"[train] no model matches {model.stem}: training (rasa train, ~2-3 min)", flush=True)
        started = time.monotonic()
        out = PROJECT / "models" / "training"
        shutil.rmtree(out, ignore_errors=True)
        env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONPATH=str(PROJECT))
        cmd = [str(ROOT / ".venvs/rasa/bin/rasa"), "train", "--out", str(out), "--fixed-model-name", "model"]
        result = subprocess.run(cmd, cwd=PROJECT, env=env)
        if result.returncode != 0:
            sys.exit(f"[train] rasa train failed with code {result.returncode}")
        shutil.move(str(out / "model.tar.gz"), model)
        shutil.rmtree(out, ignore_errors=True)
        print(f"[train] trained in {time.monotonic() - started:.0f}s -> {model}", flush=True)
    else:
        print(f"[train] model up to date ({model.name})", flush=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(model)
    return model


if __name__ == "__main__":
    ensure_model(force="--force" in sys.argv)
