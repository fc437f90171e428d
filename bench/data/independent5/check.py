"""Sanity check of bench/data/independent5/dev.yml with bench/nlu.py's own loader.

Usage (repo root, app env): python bench/data/independent5/check.py
Prints counts per intent and per entity; exits 1 on a broken annotation, a leftover
bracket, a duplicate sentence or an unknown intent/entity.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bench.nlu import ENTITIES, load_set  # noqa: E402

INTENTS = {
    "greet", "goodbye", "thanks", "affirm", "deny", "stop", "change", "help", "bot_challenge",
    "out_of_scope", "pay_bill", "pay_all", "check_bills", "payment_history", "schedule_payment",
    "cancel_payment", "inform",
}  # fmt: skip


def main() -> int:
    examples = load_set(Path(__file__).with_name("dev.yml"))
    problems = []
    seen: Counter[str] = Counter()
    for ex in examples:
        seen[ex["text"].lower()] += 1
        if ex["intent"] not in INTENTS:
            problems.append(f"unknown intent {ex['intent']}: {ex['text']}")
        if any(c in ex["text"] for c in "[]"):
            problems.append(f"leftover bracket: {ex['text']}")
        for span in ex["entities"]:
            if span["entity"] not in ENTITIES:
                problems.append(f"unknown entity {span['entity']}: {ex['text']}")
            if (
                ex["text"][span["start"] : span["end"]] != span["text"]
                or span["text"] != span["text"].strip()
            ):
                problems.append(f"bad span {span}: {ex['text']}")
    problems += [f"duplicate: {t}" for t, n in seen.items() if n > 1]
    print(f"{len(examples)} examples")
    for intent, n in sorted(Counter(e["intent"] for e in examples).items(), key=lambda kv: -kv[1]):
        print(f"  {intent:18} {n}")
    print(dict(Counter(s["entity"] for e in examples for s in e["entities"])))
    print("\n".join(problems) or "no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
