"""Sanity check of a hand-written NLU evaluation set, with bench/nlu.py's own loader.

Usage (repo root, app env): `python -m bench.check_set dev4 dev5` (names of `bench.nlu.SETS`)
or `python -m bench.check_set path/to/set.yml`. Prints the counts per intent and per entity of
each set; exits 1 when any set has a broken span (text that does not match its offsets, or
surrounding blanks), a leftover bracket, a duplicate sentence (case-insensitive) or an intent /
entity the assistant does not know (intents from rasa_project/domain.yml, entities `ENTITIES`).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.nlu import ENTITIES, PROJECT, SETS, load_set


@dataclass(frozen=True)
class SetCheck:
    """What `check_set` found in one file: its examples and the problems, one line each."""

    examples: list[dict[str, Any]]
    problems: list[str]


def domain_intents() -> set[str]:
    """The intents rasa_project/domain.yml declares (plain names; no entity mappings there)."""
    from ruamel.yaml import YAML

    domain = YAML(typ="safe").load((PROJECT / "domain.yml").read_text(encoding="utf-8"))
    return {str(item) if not isinstance(item, dict) else next(iter(item)) for item in domain["intents"]}


def _span_problems(example: dict[str, Any]) -> list[str]:
    text, problems = example["text"], []
    for span in example["entities"]:
        if span["entity"] not in ENTITIES:
            problems.append(f"unknown entity {span['entity']}: {text}")
        if text[span["start"] : span["end"]] != span["text"] or span["text"] != span["text"].strip():
            problems.append(f"bad span {span}: {text}")
    return problems


def check_set(path: Path, intents: set[str]) -> SetCheck:
    """Load `path` (Rasa NLU YAML with inline annotations) and list what is wrong with it."""
    examples = load_set(path)
    problems: list[str] = []
    seen: Counter[str] = Counter()
    for example in examples:
        seen[example["text"].lower()] += 1
        if example["intent"] not in intents:
            problems.append(f"unknown intent {example['intent']}: {example['text']}")
        if any(bracket in example["text"] for bracket in "[]"):
            problems.append(f"leftover bracket: {example['text']}")
        problems += _span_problems(example)
    problems += [f"duplicate: {text}" for text, n in seen.items() if n > 1]
    return SetCheck(examples, problems)


def main(argv: list[str]) -> int:
    intents, failed = domain_intents(), False
    for name in argv or ["dev4", "dev5"]:
        path = SETS[name] if name in SETS else Path(name)
        found = check_set(path, intents)
        print(f"{path}: {len(found.examples)} examples")
        by_intent = Counter(example["intent"] for example in found.examples)
        for intent, n in by_intent.most_common():
            print(f"  {intent:18} {n}")
        print(" ", dict(Counter(s["entity"] for e in found.examples for s in e["entities"])))
        print("\n".join(found.problems) or "  no problems")
        failed = failed or bool(found.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
