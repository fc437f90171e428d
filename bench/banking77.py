"""BANKING77 through the project's own NLU pipeline, beside two scikit-learn baselines.

BANKING77 (PolyAI, CC BY 4.0; Casanueva et al., NLP4ConvAI 2020) lives in
../shared/data/banking77: 10,003 training and 3,080 test messages in 77 intents. The project's
pipeline configuration (rasa_project/config.yml: the same components and settings, the spaCy
pipeline by absolute path, dialogue policies dropped) is trained on train.csv only with
`rasa train nlu` and timed; each test message is then parsed by the trained model. The intent is
the top intent that is not `nlu_fallback` (the FallbackClassifier would otherwise answer "not
sure" on some). BANKING77 has no entities, so the CRF entity extractor learns nothing there.

Baselines, in this script and the app env (scikit-learn LinearSVC, C=1):
- TF-IDF: word 1-2 grams + character 2-5 grams (char_wb), sublinear tf;
- MiniLM: the same all-MiniLM-L6-v2 sentence embeddings the pipeline uses (bench/rasa_side.py);
- both stacked, the embedding weighted 2 (the reference in banking77/README.md).
Nothing is tuned on test.csv. `--quick` runs a small subset (8 intents, 25 training and 10 test
messages each) so a test can exercise the whole path in about a minute.

Usage (app env, repo root): `python -m bench.banking77 [--quick] [--out DIR]`. Writes
banking77.json, banking77.md and banking77.png (full run: bench/results/).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.nlu import PROJECT, RASA, RASA_PYTHON, ROOT, _rasa_env, machine, parse_texts

# ../shared beside the checkout (main, CI's clone), or two levels up from a worktree in wt/.
DATA = (
    next(
        (
            d
            for d in (ROOT.parent / "shared", ROOT.parent.parent / "shared")
            if (d / "data" / "banking77").is_dir()
        ),
        ROOT.parent / "shared",
    )
    / "data"
    / "banking77"
)
RESULTS = ROOT / "bench" / "results"
TARGET_ACCURACY = 0.945
TARGET_TRAIN_SECONDS = 600.0


def load_split(name: str, data: Path = DATA) -> list[tuple[str, str]]:
    """(text, intent) rows of train.csv or test.csv."""
    with (data / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def quick_subset(rows: list[tuple[str, str]], per_intent: int, intents: int = 8) -> list[tuple[str, str]]:
    """The first `per_intent` rows of the first `intents` intents (sorted by name)."""
    chosen = sorted({intent for _, intent in rows})[:intents]
    taken: dict[str, int] = defaultdict(int)
    out = []
    for text, intent in rows:
        if intent in chosen and taken[intent] < per_intent:
            taken[intent] += 1
            out.append((text, intent))
    return out


def nlu_yaml(rows: list[tuple[str, str]]) -> str:
    """Rasa NLU YAML; square brackets become round ones so no text reads as an entity annotation."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        clean = " ".join(text.replace("[", "(").replace("]", ")").split())
        by_intent[intent].append(clean)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in sorted(by_intent.items()):
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
    return "\n".join(lines) + "\n"


def project_config(quick: bool) -> str:
    """rasa_project/config.yml's pipeline, spaCy model by absolute path, no dialogue policies."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    config = yaml.load((PROJECT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "SpacyNLP":
            component["model"] = str(PROJECT / "spacy_pipeline")
        if quick and component["name"] == "components.linear_intent.LinearIntentClassifier":
            component["calibration_folds"] = 0  # too few examples per intent to hold any out
    config.pop("policies", None)
    from io import StringIO

    out = StringIO()
    yaml.dump(config, out)
    return out.getvalue()


def train_pipeline(rows: list[tuple[str, str]], workdir: Path, quick: bool) -> tuple[Path, float]:
    """Train the project's pipeline on `rows`; the model path and the wall seconds it took."""
    (workdir / "train.yml").write_text(nlu_yaml(rows), encoding="utf-8")
    (workdir / "config.yml").write_text(project_config(quick), encoding="utf-8")
    started = time.monotonic()
    result = subprocess.run(
        [
            str(RASA),
            "train",
            "nlu",
            "--config",
            str(workdir / "config.yml"),
            "--nlu",
            str(workdir / "train.yml"),
            "--out",
            str(workdir),
            "--fixed-model-name",
            "banking77",
        ],
        cwd=PROJECT,
        env=dict(_rasa_env(), RASA_CACHE_DIRECTORY=str(workdir / "cache")),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"rasa train nlu failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return workdir / "banking77.tar.gz", seconds


def embeddings(texts: list[str], workdir: Path) -> Any:
    """MiniLM sentence embeddings from the pipeline's own encoder (Rasa env)."""
    import numpy as np

    out = workdir / "embeddings.npy"
    subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "bench" / "rasa_side.py"), "embed", str(out)],
        input=json.dumps(texts),
        text=True,
        cwd=PROJECT,
        env=_rasa_env(),
        check=True,
        capture_output=True,
    )
    return np.load(out)


def scores(gold: list[str], predicted: list[str]) -> dict[str, float]:
    """Accuracy and macro-F1."""
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": round(float(f1_score(gold, predicted, average="macro")), 4),
    }


def baselines(train: list[tuple[str, str]], test: list[tuple[str, str]], workdir: Path) -> dict[str, Any]:
    """TF-IDF, MiniLM and stacked LinearSVC baselines, each with its fit time."""
    import scipy.sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    train_texts, train_y = [t for t, _ in train], [i for _, i in train]
    test_texts, test_y = [t for t, _ in test], [i for _, i in test]
    started = time.monotonic()
    vectors = embeddings(train_texts + test_texts, workdir)
    embed_seconds = time.monotonic() - started
    emb_train, emb_test = vectors[: len(train)], vectors[len(train) :]
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train_texts)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True).fit(train_texts)
    tfidf_train = scipy.sparse.hstack([words.transform(train_texts), chars.transform(train_texts)]).tocsr()
    tfidf_test = scipy.sparse.hstack([words.transform(test_texts), chars.transform(test_texts)]).tocsr()
    systems = {
        "TF-IDF + LinearSVC": (tfidf_train, tfidf_test, 0.0),
        "MiniLM + LinearSVC": (emb_train, emb_test, embed_seconds),
        "TF-IDF + MiniLM (weight 2) + LinearSVC": (
            scipy.sparse.hstack([tfidf_train, scipy.sparse.csr_matrix(emb_train * 2)]).tocsr(),
            scipy.sparse.hstack([tfidf_test, scipy.sparse.csr_matrix(emb_test * 2)]).tocsr(),
            embed_seconds,
        ),
    }
    out = {}
    for name, (x_train, x_test, extra) in systems.items():
        started = time.monotonic()
        model = LinearSVC(C=1.0).fit(x_train, train_y)
        fit_seconds = time.monotonic() - started + extra
        out[name] = {**scores(test_y, list(model.predict(x_test))), "train_seconds": round(fit_seconds, 1)}
    return out


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    """Accuracy per system as a bar chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    values = [results[n]["accuracy"] for n in names]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bars = ax.barh(names, values, color=["#2b6cb0"] + ["#a0aec0"] * (len(names) - 1))
    for bar, value in zip(bars, values, strict=True):
        ax.text(value, bar.get_y() + bar.get_height() / 2, f" {value:.3f}", va="center", fontsize=9)
    ax.axvline(TARGET_ACCURACY, color="#c53030", linestyle="--", linewidth=1)
    ax.set_xlim(min(values) - 0.05, 1.0)
    ax.set_xlabel("accuracy on BANKING77 test")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(quick: bool, out_dir: Path) -> dict[str, Any]:
    """Train and score everything; write the report files into `out_dir`."""
    train, test = load_split("train"), load_split("test")
    if quick:
        train, test = quick_subset(train, 25), quick_subset(test, 10)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paychat-banking77-") as tmp:
        workdir = Path(tmp)
        model, train_seconds = train_pipeline(train, workdir, quick)
        parses = parse_texts(model, [text for text, _ in test])
        predicted = [
            next((r["name"] for r in p["ranking"] if r["name"] != "nlu_fallback"), p["intent"]["name"])
            for p in parses
        ]
        project = {**scores([i for _, i in test], predicted), "train_seconds": round(train_seconds, 1)}
        results = {"paychat pipeline (rasa train nlu)": project, **baselines(train, test, workdir)}
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.banking77" + (" --quick" if quick else ""),
        "machine": machine(),
        "quick": quick,
        "train_examples": len(train),
        "test_examples": len(test),
        "intents": len({i for _, i in train}),
        "results": results,
    }
    (out_dir / "banking77.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    plot(results, out_dir / "banking77.png")
    lines = [
        "# BANKING77 through the project's NLU pipeline",
        "",
        f"Generated {report['generated_at']} by `{report['command']}` on {report['machine']}.",
        f"Train {report['train_examples']} / test {report['test_examples']} messages, "
        f"{report['intents']} intents (PolyAI BANKING77, CC BY 4.0; Casanueva et al. 2020). "
        "Trained on train.csv only.",
        "",
        "The pipeline row is rasa_project/config.yml unchanged (dialogue policies dropped) under "
        "`rasa train nlu`; its time is the whole training, featurisation included. Baseline times are "
        "the LinearSVC fit plus, where used, embedding all texts.",
        "",
        "| system | accuracy | macro-F1 | training (s) |",
        "|---|---|---|---|",
    ]
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | {row['train_seconds']:.0f} |"
        )
    lines += [
        "",
        f"Target: ≥ {TARGET_ACCURACY:.3f} accuracy with training under {TARGET_TRAIN_SECONDS:.0f} s.",
        "",
        "![accuracy](banking77.png)",
        "",
    ]
    (out_dir / "banking77.md").write_text("\n".join(lines), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description="BANKING77 through the project's NLU pipeline")
    parser.add_argument("--quick", action="store_true", help="small subset, to check the path works")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the report (default bench/results)"
    )
    args = parser.parse_args(argv)
    out = args.out or (RESULTS if not args.quick else Path(tempfile.mkdtemp(prefix="paychat-b77-quick-")))
    report = run(args.quick, out)
    for name, row in report["results"].items():
        numbers = f"accuracy {row['accuracy']:.4f}, macro-F1 {row['macro_f1']:.4f}"
        print(f"{name}: {numbers}, {row['train_seconds']:.0f} s")
    print(f"report in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
