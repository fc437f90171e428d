"""Comparing a candidate with the served model on held-out data, and the promotion rule.

Sets: `own` (rasa_project/nlu_holdout, the project's own split) and `dev` (bench/data/independent/
dev.yml, written blind to the training data; used to compare, never trained on). The sealed test
sets are refused. Scoring is bench/nlu.py's (the same numbers as the NLU report): intent macro-F1,
accuracy, per-intent F1, entity precision/recall/F1 by token overlap; a confusion-matrix PNG per
set for the candidate. The test stories (rasa_project/tests) are run with `rasa test core` for the
conversation accuracy. A candidate may be promoted only if no headline metric fell by more than
TUNING_PROMOTE_TOLERANCE and no intent's F1 by more than TUNING_INTENT_TOLERANCE.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.nlu import ENTITIES, entity_scores, intent_scores, load_set, parse_texts, plot_confusion
from tuning.training import PROJECT, RASA, ROOT, refuse_sealed

SETS = {
    "own": PROJECT / "nlu_holdout" / "nlu.yml",
    "dev": ROOT / "bench" / "data" / "independent" / "dev.yml",
}
STORIES = PROJECT / "tests"


def data_digest(sets: list[str], *, stories: bool) -> str:
    """sha256 of what a scoring reads: each chosen held-out set file (by name) and, with stories,
    every file under STORIES. Kept scores are reused only for the same digest (tuning.loop)."""
    digest = hashlib.sha256()
    files = [(f"set:{name}", SETS[name]) for name in sorted(sets)]
    if stories:
        files += [(f"stories:{p.relative_to(STORIES)}", p) for p in sorted(STORIES.rglob("*")) if p.is_file()]
    for label, path in files:
        digest.update(label.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Regression:
    """A metric that got worse by more than its tolerance."""

    metric: str
    served: float
    candidate: float


def score_model(
    model: Path, sets: list[str], *, stories: bool, on_step: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Scores of one model: per set intents/entities (and confusion matrix), plus test-story accuracy."""
    examples = {}
    for name in sets:
        refuse_sealed(SETS[name])
        examples[name] = load_set(SETS[name])
    texts = [e["text"] for name in sets for e in examples[name]]
    if on_step:
        on_step(f"parsing {len(texts)} messages with {model.name}")
    parses = parse_texts(model, texts) if texts else []
    result: dict[str, Any] = {"sets": {}}
    offset = 0
    for name in sets:
        chunk = parses[offset : offset + len(examples[name])]
        offset += len(examples[name])
        scores = intent_scores(examples[name], chunk)
        scores["entities"] = entity_scores(examples[name], chunk)
        scores["examples"] = len(examples[name])
        result["sets"][name] = scores
    if stories:
        if on_step:
            on_step(f"running the test stories with {model.name}")
        result["stories"] = story_scores(model)
    return result


def story_scores(model: Path) -> dict[str, Any]:
    """Conversation and action accuracy of `rasa test core` on the project's test stories."""
    with tempfile.TemporaryDirectory(prefix="paychat-stories-") as tmp:
        env = dict(
            os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(PROJECT)
        )
        command = [str(RASA), "test", "core", "--model", str(model), "--stories", str(STORIES), "--out", tmp]
        done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, check=False)
        report_path = Path(tmp) / "story_report.json"
        if done.returncode != 0 or not report_path.exists():
            raise RuntimeError(f"rasa test core failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
    conversations = report.get("conversation_accuracy") or {}
    return {
        "conversation_accuracy": round(float(conversations.get("accuracy", 0.0)), 4),
        "conversations": int(conversations.get("total", 0)),
        "action_accuracy": round(float(report.get("accuracy", 0.0)), 4),
    }


def headline(scores: dict[str, Any]) -> dict[str, float]:
    """The metrics the promotion rule watches, flat: "dev.macro_f1", "own.entity.biller.f1", "stories"."""
    flat: dict[str, float] = {}
    for name, s in scores.get("sets", {}).items():
        flat[f"{name}.macro_f1"] = s["macro_f1"]
        flat[f"{name}.accuracy"] = s["accuracy"]
        for entity in ENTITIES:
            if s["entities"][entity]["support"]:
                flat[f"{name}.entity.{entity}.f1"] = s["entities"][entity]["f1"]
    if "stories" in scores:
        flat["stories.conversation_accuracy"] = scores["stories"]["conversation_accuracy"]
    return flat


def regressions(
    served: dict[str, Any], candidate: dict[str, Any], *, tolerance: float, intent_tolerance: float
) -> list[Regression]:
    """Every metric the candidate lost beyond its tolerance (empty: it may be promoted)."""
    found = []
    before, after = headline(served), headline(candidate)
    for metric, value in before.items():
        if metric in after and value - after[metric] > tolerance + 1e-9:
            found.append(Regression(metric, value, after[metric]))
    for name, s in served.get("sets", {}).items():
        other = candidate.get("sets", {}).get(name, {}).get("intents", {})
        for intent, row in s.get("intents", {}).items():
            if intent in other and row["f1"] - other[intent]["f1"] > intent_tolerance + 1e-9:
                found.append(Regression(f"{name}.intent.{intent}.f1", row["f1"], other[intent]["f1"]))
    return found


def write_report(
    served_name: str,
    served: dict[str, Any],
    candidate_name: str,
    candidate: dict[str, Any],
    found: list[Regression],
    out_dir: Path,
) -> Path:
    """comparison.md, comparison.json and a confusion-matrix PNG per set (the candidate's) in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {candidate_name} vs served {served_name}", ""]
    lines += ["| metric | served | candidate | change |", "|---|---|---|---|"]
    before, after = headline(served), headline(candidate)
    for metric in sorted(set(before) | set(after)):
        b, a = before.get(metric), after.get(metric)
        change = f"{a - b:+.3f}" if a is not None and b is not None else ""
        lines.append(f"| {metric} | {_num(b)} | {_num(a)} | {change} |")
    for name, s in candidate.get("sets", {}).items():
        served_intents = served.get("sets", {}).get(name, {}).get("intents", {})
        lines += [
            "",
            f"## {name}: per intent F1",
            "",
            "| intent | served | candidate | support |",
            "|---|---|---|---|",
        ]
        for intent, row in sorted(s["intents"].items()):
            before_f1 = _num(served_intents.get(intent, {}).get("f1"))
            lines.append(f"| {intent} | {before_f1} | {row['f1']:.3f} | {row['support']} |")
        lines += ["", "| entity | served F1 | candidate F1 | support |", "|---|---|---|---|"]
        served_entities = served.get("sets", {}).get(name, {}).get("entities", {})
        for entity, row in s["entities"].items():
            before_f1 = _num(served_entities.get(entity, {}).get("f1"))
            lines.append(f"| {entity} | {before_f1} | {row['f1']:.3f} | {row['support']} |")
        png = out_dir / f"confusion_{name}.png"
        plot_confusion(s["labels"], s["confusion_matrix"], f"{candidate_name}, {name}", png)
        lines += ["", f"![confusion matrix, {name}]({png.name})"]
    lines += ["", "## Verdict", ""]
    if found:
        lines += [f"- {r.metric}: {r.served:.3f} → {r.candidate:.3f}" for r in found]
        lines.append("\nNot promotable: metrics above got worse beyond the tolerance.")
    else:
        lines.append("Promotable: no metric got worse beyond the tolerance.")
    (out_dir / "comparison.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    body = {
        "served": {"name": served_name, **served},
        "candidate": {"name": candidate_name, **candidate},
        "regressions": [r.__dict__ for r in found],
    }
    (out_dir / "comparison.json").write_text(json.dumps(body, indent=1), encoding="utf-8")
    return out_dir / "comparison.md"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
