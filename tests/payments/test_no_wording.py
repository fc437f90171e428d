"""No sentence a user reads is composed in payments/: the core returns values, the edges word them.

Every string literal of three words or more in payments/ (docstrings and exception messages for
developers aside) is listed here; only what operators read (the worker's log, the demo loader's
output) and SQL may remain.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PAYMENTS = Path(__file__).resolve().parents[2] / "payments"
OPERATOR_FACING = {
    "SELECT pg_advisory_xact_lock(:key)",
    "demo data loaded (console-only demo users): users {}",
    "database migrated; no demo data in production",
    "due scheduled payments",
    "reconcile unknown payments",
    "expire stale drafts",
    "worker started: a round every %.0f s",
    "%(asctime)s %(name)s %(levelname)s %(message)s",
    "worker step failed: %s",
    "the gateway's charge raised; the outcome is unknown until reconciled",
}


def _not_for_users(tree: ast.Module) -> set[int]:
    """Docstrings and everything inside a `raise` (messages for developers, not users)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))
        if isinstance(node, ast.Raise):
            skipped |= {id(sub) for sub in ast.walk(node)}
    return skipped


def _phrases(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _not_for_users(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            skipped |= {id(value) for value in node.values}
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if " " in text and len(re.findall(r"[A-Za-z]{2,}", text)) >= 3:
            found.add(str(text))
    return found


def test_payments_composes_no_sentence_for_users() -> None:
    phrases = set().union(*(_phrases(path) for path in PAYMENTS.glob("*.py")))
    assert phrases <= OPERATOR_FACING, sorted(phrases - OPERATOR_FACING)
