"""Training a candidate model: the project's Rasa data plus the reviewed examples, never served by itself.

`rasa train` runs in the Rasa environment with the project's config and domain, reading
rasa_project/data and the exported NLU file, and writes to TUNING_DIR/models (the served model
and the model cache of scripts/train.py are never touched). Rasa's own training cache
(rasa_project/.rasa) lets the dialogue policies, whose inputs do not change, be reused. The
candidate's data fingerprint is the project's training fingerprint plus the exported examples:
the same data again reuses the model already trained.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scripts.train import fingerprint as project_fingerprint

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "rasa_project"
RASA = ROOT / ".venvs" / "rasa" / "bin" / "rasa"
SEALED = ("bench/data/independent", "bench/data/independent2")


class TrainingError(RuntimeError):
    """`rasa train` failed; the message ends with the tail of its output."""


@dataclass(frozen=True)
class Candidate:
    """A trained candidate model file and what it was trained on."""

    name: str
    path: Path
    data_fingerprint: str
    seconds: float | None
    reused: bool


def refuse_sealed(path: Path) -> None:
    """Raise if `path` is one of the sealed independent test sets, which nothing may train on."""
    resolved = path.resolve()
    for folder in SEALED:
        sealed = (ROOT / folder).resolve()
        if resolved.is_relative_to(sealed) and resolved.name.startswith("test"):
            raise ValueError(f"{path} is a sealed evaluation set: never trained on")


def data_fingerprint(extra_nlu: Path) -> str:
    """The project's training fingerprint combined with the exported examples."""
    digest = hashlib.sha256(project_fingerprint().encode())
    digest.update(extra_nlu.read_bytes())
    return digest.hexdigest()[:20]


def train_candidate(
    extra_nlu: Path, models_dir: Path, *, on_line: Callable[[str], None] | None = None
) -> Candidate:
    """Train (or reuse) the candidate for the project's data plus `extra_nlu`."""
    refuse_sealed(extra_nlu)
    fp = data_fingerprint(extra_nlu)
    name = f"candidate-{fp}"
    target = models_dir / f"{name}.tar.gz"
    if target.exists():
        return Candidate(name=name, path=target, data_fingerprint=fp, seconds=None, reused=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    out = models_dir / f"training-{fp}"
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(PROJECT))
    command = [
        str(RASA),
        "train",
        "--data",
        str(PROJECT / "data"),
        str(extra_nlu.resolve()),
        "--config",
        str(PROJECT / "config.yml"),
        "--domain",
        str(PROJECT / "domain.yml"),
        "--out",
        str(out),
        "--fixed-model-name",
        name,
    ]
    started = time.monotonic()
    tail: list[str] = []
    with subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail = [*tail[-40:], line.rstrip()]
            if on_line is not None:
                on_line(line.rstrip())
        code = process.wait()
    seconds = time.monotonic() - started
    trained = out / f"{name}.tar.gz"
    if code != 0 or not trained.exists():
        raise TrainingError(f"rasa train failed (exit {code}):\n" + "\n".join(tail))
    trained.replace(target)
    out.rmdir()
    return Candidate(name=name, path=target, data_fingerprint=fp, seconds=seconds, reused=False)
