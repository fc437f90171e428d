"""Checks on rasa_project's data and wording that need no trained model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.rasa.conftest import PROJECT


def _load(path: str) -> dict[str, Any]:
    return dict(YAML(typ="safe").load((PROJECT / path).read_text(encoding="utf-8")))


def test_nothing_to_confirm_offers_buttons_instead_of_a_yes_no_question() -> None:
    [variant] = _load("domain.yml")["responses"]["utter_nothing_to_confirm"]
    # A yes/no question here would be answered "yes", which leads straight back to this response.
    assert "?" not in variant["text"]
    assert {"title": "Pay a bill", "payload": "/pay_bill"} in variant["buttons"]


ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def _examples(path: Path) -> dict[str, str]:
    """Plain example text (annotations removed, case and spacing folded) → its file and intent."""
    found: dict[str, str] = {}
    for item in YAML(typ="safe").load(path.read_text(encoding="utf-8")).get("nlu") or []:
        if "intent" not in item:
            continue
        for line in str(item.get("examples", "")).splitlines():
            text = ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))
            key = " ".join(text.casefold().split())
            if key:
                found[key] = f"{path.name}:{item['intent']}"
    return found


def test_no_holdout_example_is_also_a_training_example() -> None:
    training: dict[str, str] = {}
    for path in sorted((PROJECT / "data").glob("*.yml")):
        training.update(_examples(path))
    holdout = _examples(PROJECT / "nlu_holdout" / "nlu.yml")
    assert len(holdout) > 100 and len(training) > 300
    overlap = {text: (where, training[text]) for text, where in holdout.items() if text in training}
    assert not overlap, overlap


INDEPENDENT = PROJECT.parent / "bench" / "data" / "independent"


def test_no_generated_sentence_is_an_independent_evaluation_sentence() -> None:
    # Short common phrases ("hi", "yes", "end of the month") occur everywhere; longer ones must not.
    generated = {t for t in _examples(PROJECT / "data" / "nlu_generated.yml") if len(t.split()) >= 5}
    for name in ("dev.yml", "test.yml"):
        evaluation = _examples(INDEPENDENT / name)
        assert len(evaluation) > 100
        # Only a count (no sentence in the assertion): the sealed test's sentences are printed nowhere.
        overlap = sum(1 for text in evaluation if text in generated)
        assert overlap == 0, f"{overlap} sentences of {name} are generated training examples"


def test_the_generated_training_data_is_what_the_generator_writes() -> None:
    from scripts.generate_nlu import main

    assert main(["--check"]) == 0, "run `python scripts/generate_nlu.py` and commit the result"
