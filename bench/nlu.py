"""NLU quality report: intent macro-F1 and per-entity F1 on the held-out split, never trained on.

The model is trained on `rasa_project/data/` only (the model `scripts/train.py` keeps for the
current data, or a fresh NLU-only training when none exists); the examples in
`rasa_project/nlu_holdout/` are evaluated with `rasa test nlu`. Writes to bench/results/:
`nlu_report.json`, `nlu_report.md` and `nlu_confusion.png`.

Usage (app env, from the repo root): `python -m bench.nlu [--time-train]`. `--time-train` also
runs and times a full `rasa train` (NLU + dialogue) into a temporary folder. The time is stored
with the training inputs' fingerprint (`scripts.train.fingerprint()`); when the data or config
changed since it was measured, training is timed again even without `--time-train`, so the
report never shows a time measured on other data.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scripts.train import current_model_path, fingerprint

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "rasa_project"
HOLDOUT = PROJECT / "nlu_holdout"
RESULTS = ROOT / "bench" / "results"
RASA = ROOT / ".venvs" / "rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venvs" / "rasa" / "bin" / "python"
TARGET_MACRO_F1 = 0.95


def _rasa(*args: str, **extra_env: str) -> None:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(PROJECT))
    env.update(extra_env)
    subprocess.run([str(RASA), *args], cwd=PROJECT, env=env, check=True, stdout=subprocess.DEVNULL)


def _build_spacy_pipeline() -> None:
    subprocess.run([str(RASA_PYTHON), str(ROOT / "scripts" / "build_spacy_pipeline.py")], check=True)


def time_full_training(workdir: Path) -> float:
    """Seconds a full `rasa train` (NLU + dialogue) takes on this machine."""
    started = time.monotonic()
    # An empty cache folder: Rasa would otherwise restore trained components and time nothing.
    _rasa(
        "train",
        "--out",
        str(workdir / "timed"),
        "--fixed-model-name",
        "timed",
        RASA_CACHE_DIRECTORY=str(workdir / "cache"),
    )
    return time.monotonic() - started


def recorded_train_seconds(report_path: Path, current_fingerprint: str) -> float | None:
    """The training time an earlier report measured, if it was measured on the current inputs."""
    if not report_path.exists():
        return None
    previous = json.loads(report_path.read_text(encoding="utf-8"))
    if previous.get("rasa_train_fingerprint") != current_fingerprint:
        return None
    seconds = previous.get("rasa_train_seconds")
    return float(seconds) if seconds is not None else None


def model_for_evaluation(workdir: Path) -> tuple[Path, str]:
    """The model trained on data/ only: the current one if trained, else a fresh NLU-only model."""
    model = current_model_path()
    if model.exists():
        return model, "scripts/train.py model for the current data"
    _rasa("train", "nlu", "--nlu", "data", "--out", str(workdir / "nlu"), "--fixed-model-name", "nlu")
    return workdir / "nlu" / "nlu.tar.gz", "fresh NLU-only training on data/"


def confusion(predictions: list[dict[str, Any]]) -> tuple[list[str], list[list[int]]]:
    """Labels and the confusion matrix (rows: true intent, columns: predicted)."""
    labels = sorted(
        {p["intent"] for p in predictions} | {p["intent_prediction"]["name"] for p in predictions}
    )
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for p in predictions:
        matrix[index[p["intent"]]][index[p["intent_prediction"]["name"]]] += 1
    return labels, matrix


def plot_confusion(labels: list[str], matrix: list[list[int]], path: Path) -> None:
    """Save the confusion matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", color="black", fontsize=8)
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("true intent")
    ax.set_title("paychat NLU, held-out split")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def entity_scores(outdir: Path) -> dict[str, dict[str, float]]:
    """Per-entity F1 from the extractors' reports (DIET: biller; spaCy rules: amount, date)."""
    scores: dict[str, dict[str, float]] = {}
    for name, entities in (("DIETClassifier", ["biller"]), ("SpacyEntityExtractor", ["amount", "date"])):
        report_path = outdir / f"{name}_report.json"
        if not report_path.exists():
            continue
        report = json.loads(report_path.read_text(encoding="utf-8"))
        for entity in entities:
            if entity in report:
                row = report[entity]
                scores[entity] = {
                    "extractor": name,  # type: ignore[dict-item]
                    "precision": round(row["precision"], 4),
                    "recall": round(row["recall"], 4),
                    "f1": round(row["f1-score"], 4),
                    "support": row["support"],
                }
    return scores


# Annotations in the holdout: [text](entity) or [text]{"entity": "...", ...}.
ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+)\](?:\((?P<plain>[a-z_]+)\)|\{\"entity\": \"(?P<json>[a-z_]+)\"[^}]*\})"
)
# Runs in the Rasa env: what SpacyEntityExtractor returns for each text (label and span text).
SPACY_SCRIPT = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
texts = json.load(sys.stdin)
print(json.dumps([[[e.label_, e.text] for e in nlp(t).ents] for t in texts]))
"""


def holdout_examples() -> list[tuple[str, list[tuple[str, str]]]]:
    """(plain text, [(entity, span text)]) for every held-out example."""
    from ruamel.yaml import YAML

    examples = []
    for path in sorted(HOLDOUT.glob("*.yml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        for block in data.get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip().removeprefix("- ").strip()
                if not line:
                    continue
                spans = [(m["plain"] or m["json"], m["text"]) for m in ANNOTATION.finditer(line)]
                examples.append((ANNOTATION.sub(lambda m: m["text"], line), spans))
    return examples


def rule_entity_scores(entities: tuple[str, ...] = ("amount", "date")) -> dict[str, dict[str, Any]]:
    """Exact-span precision/recall/F1 of the spaCy rules on the held-out split."""
    examples = holdout_examples()
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", SPACY_SCRIPT, str(PROJECT / "spacy_pipeline")],
        input=json.dumps([text for text, _ in examples]),
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    predicted = json.loads(result.stdout.strip().splitlines()[-1])
    scores: dict[str, dict[str, Any]] = {}
    for entity in entities:
        tp = fp = fn = 0
        for (_, gold), found in zip(examples, predicted, strict=True):
            gold_spans = [span for label, span in gold if label == entity]
            found_spans = [span for label, span in found if label == entity]
            hits = sum(1 for span in found_spans if span in gold_spans)
            tp += hits
            fp += len(found_spans) - hits
            fn += len(gold_spans) - hits
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[entity] = {
            "extractor": "SpacyEntityExtractor (rules)",
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    return scores


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """A short human-readable version of the report."""
    lines = [
        "# NLU quality on the held-out split",
        "",
        f"Generated {report['generated_at']} by `python -m bench.nlu` ({report['model_source']}).",
        f"Held-out examples: {report['holdout_examples']} (rasa_project/nlu_holdout/, never trained on).",
        "",
        f"**Intent macro-F1: {report['intent_macro_f1']:.3f}** (target ≥ {TARGET_MACRO_F1}), "
        f"accuracy {report['intent_accuracy']:.3f}.",
    ]
    if report.get("rasa_train_seconds") is not None:
        lines.append(
            f"Full `rasa train` wall time: {report['rasa_train_seconds']:.0f} s (target < 300 s), "
            f"measured on training inputs {report['rasa_train_fingerprint']}."
        )
    lines += ["", "| entity | extractor | precision | recall | F1 | support |", "|---|---|---|---|---|---|"]
    for entity, row in report["entities"].items():
        lines.append(
            f"| {entity} | {row['extractor']} | {row['precision']:.3f} | {row['recall']:.3f} "
            f"| {row['f1']:.3f} | {row['support']} |"
        )
    lines += ["", "| intent | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for intent, row in sorted(report["intents"].items()):
        lines.append(
            f"| {intent} | {row['precision']:.3f} | {row['recall']:.3f} "
            f"| {row['f1']:.3f} | {row['support']} |"
        )
    if report["errors"]:
        lines += ["", "Misclassified held-out examples:", ""]
        lines += [f"- “{e['text']}”: {e['intent']} → {e['predicted']}" for e in report["errors"]]
    lines += ["", "![confusion matrix](nlu_confusion.png)", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def run(time_train: bool = False) -> dict[str, Any]:
    """Evaluate the NLU model on the held-out split and write the report files."""
    _build_spacy_pipeline()
    RESULTS.mkdir(parents=True, exist_ok=True)
    train_fingerprint = fingerprint()
    train_seconds = recorded_train_seconds(RESULTS / "nlu_report.json", train_fingerprint)
    with tempfile.TemporaryDirectory(prefix="paychat-bench-nlu-") as tmp:
        workdir = Path(tmp)
        if time_train or train_seconds is None:
            train_seconds = round(time_full_training(workdir), 1)
        model, source = model_for_evaluation(workdir)
        outdir = workdir / "results"
        _rasa(
            "test",
            "nlu",
            "--nlu",
            str(HOLDOUT),
            "--model",
            str(model),
            "--out",
            str(outdir),
            "--successes",
            "--no-plot",
        )
        intent_report = json.loads((outdir / "intent_report.json").read_text(encoding="utf-8"))
        successes = json.loads((outdir / "intent_successes.json").read_text(encoding="utf-8"))
        errors_path = outdir / "intent_errors.json"
        errors = json.loads(errors_path.read_text(encoding="utf-8")) if errors_path.exists() else []
        # Rasa leaves pretrained extractors (SpacyEntityExtractor) out of its evaluation.
        entities = {**entity_scores(outdir), **rule_entity_scores()}
    labels, matrix = confusion(successes + errors)
    plot_confusion(labels, matrix, RESULTS / "nlu_confusion.png")
    intents = {
        name: {
            "precision": round(row["precision"], 4),
            "recall": round(row["recall"], 4),
            "f1": round(row["f1-score"], 4),
            "support": row["support"],
        }
        for name, row in intent_report.items()
        if isinstance(row, dict)
        and "f1-score" in row
        and name not in {"macro avg", "weighted avg", "micro avg"}
    }
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_source": source,
        "holdout_examples": len(successes) + len(errors),
        "intent_macro_f1": round(intent_report["macro avg"]["f1-score"], 4),
        "intent_accuracy": round(intent_report.get("accuracy", 0.0), 4),
        "target_macro_f1": TARGET_MACRO_F1,
        "rasa_train_seconds": train_seconds,
        "rasa_train_fingerprint": train_fingerprint,
        "entities": entities,
        "intents": intents,
        "labels": labels,
        "confusion_matrix": matrix,
        "errors": [
            {"text": e["text"], "intent": e["intent"], "predicted": e["intent_prediction"]["name"]}
            for e in errors
        ],
    }
    (RESULTS / "nlu_report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    write_markdown(report, RESULTS / "nlu_report.md")
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the NLU benchmark and print the headline numbers."""
    parser = argparse.ArgumentParser(description="NLU quality on the held-out split")
    parser.add_argument(
        "--time-train",
        action="store_true",
        help="time a full `rasa train` even if the recorded time matches the current data",
    )
    args = parser.parse_args(argv)
    report = run(time_train=args.time_train)
    print(
        f"intent macro-F1 {report['intent_macro_f1']:.3f} on {report['holdout_examples']} held-out examples"
    )
    for entity, row in report["entities"].items():
        print(f"entity {entity}: F1 {row['f1']:.3f} (support {row['support']})")
    if report["rasa_train_seconds"] is not None:
        print(f"rasa train: {report['rasa_train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
