"""No sentence a user reads is composed in payments/: the core returns values, the edges word them.

Listed here, outside docstrings: every string literal of three words or more; every f-string or
string concatenation with a word and a space or colon ("Paid {} to {}.", "on {}", "Declined: " + x),
since those are how sentences get composed; and anything addressed to a person ("you", "your"),
even inside a `raise` (messages for developers are otherwise allowed there). Only what operators
read (the worker's log, the demo loader's output) and SQL may remain.
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
    # Issue 13 item 2 (step-up codes): a worker step's name and a log line for operators.
    "expired step-up codes",
    "payment %s waits for its step-up code: not charged",
    "worker started: a round every %.0f s",
    "%(asctime)s %(name)s %(levelname)s %(message)s",
    "worker step failed: %s",
    "settings changed since the last start: recorded in the audit log",
    "payments past their deadlines",
    "forgotten users at the processor",
    # Issue 13 item 4 (reminders): a worker step's name.
    "remind bills due soon",
    "user %s forgotten here but not yet at the processor: the worker retries",
    # Alerts and errors for staff (logged, never shown to a user).
    "ALERT payment %s of user %s was recorded failed (no charge found) but PaymentIntent %s "
    "succeeded: record corrected to succeeded; check the bill %s for a second payment to refund",
    "ALERT payment %s failed (no charge found) has PaymentIntent %s awaiting 3-D Secure: cancelled",
    "outcome %s of payment %s (PaymentIntent %s) not recorded: the database stayed busy; "
    "reconciliation settles it after %s",
    "the gateway's charge raised; the outcome is unknown until reconciled",
    "payment %s approved, its charge not started: the database stayed busy",
    "payment %s is held by its time lock: not charged yet",
    # Standing mandates (issue 13, item 8): a worker step's name, and machine records kept in the
    # consent and the audit log (who acted, which mandate consent an automatic charge runs under).
    "bills under standing mandates",
    "payment %s: its mandate no longer authorises it (%s)",
    "mandate:{}:consent:{}",
    "staff:{}",
    # Issue 11 (spoken and shorthand input): what a user typed, rewritten into the shapes the
    # amount and date readers take ("EOM" -> "end of the month" for dateparser, "sixty pounds
    # fifty" -> "sixty pounds and fifty cents"); parser input, never shown to anyone.
    "end of the month",
    "end of the week",
    "{} {} and {} cents",
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


ADDRESSED = re.compile(r"\b(?:you|your|yours)\b", re.IGNORECASE)


def _composed(node: ast.AST) -> set[int]:
    """String constants that are glued to values: operands of `+` and `%`, receivers of `.format`."""
    glued: set[int] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Add | ast.Mod):
            glued |= {id(side) for side in (sub.left, sub.right)}
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "format":
            glued.add(id(sub.func.value))
    return glued


def _phrases(path: Path) -> set[str]:
    return phrases_in(path.read_text(encoding="utf-8"))


def phrases_in(source: str) -> set[str]:
    """Strings in `source` that look like wording for users (see the module docstring)."""
    tree = ast.parse(source)
    for_developers = _not_for_users(tree)
    glued = _composed(tree)
    found: set[str] = set()
    seen_in_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in seen_in_fstrings:
            continue
        if isinstance(node, ast.JoinedStr):
            seen_in_fstrings |= {id(value) for value in node.values}
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            composed = True
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            composed = id(node) in glued
        else:
            continue
        if id(node) in for_developers:
            if ADDRESSED.search(text) and not _is_docstring(tree, node):
                found.add(text)
            continue
        words = re.findall(r"[A-Za-z]{2,}", text)
        looks_like_pattern = "\\" in text or text.startswith("^")
        sentence = " " in text and len(words) >= 3
        glued_words = composed and bool(words) and re.search(r"[\s:]", text) is not None
        if not looks_like_pattern and (ADDRESSED.search(text) or sentence or glued_words):
            found.add(text)
    return found


def _is_docstring(tree: ast.Module, node: ast.AST) -> bool:
    for owner in ast.walk(tree):
        body = getattr(owner, "body", None)
        if isinstance(owner, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and first.value is node:
                return True
    return False


def test_the_check_catches_the_usual_ways_of_composing_a_sentence() -> None:
    probe = '''
def receipt(amount, biller, d, x):
    a = f"Paid {amount} to {biller}."
    b = "Declined: " + x
    c = f"on {d}"
    d2 = "due on %s" % d
    e = "{} is overdue".format(biller)
    raise ValueError("Your card was declined")
'''
    assert phrases_in(probe) == {
        "Paid {} to {}.", "Declined: ", "on {}", "due on %s", "{} is overdue", "Your card was declined",
    }
    developers_only = '"""A docstring with many words."""\nraise ValueError(f"no migration for {x}")'
    assert phrases_in(developers_only) == set()


def test_payments_composes_no_sentence_for_users() -> None:
    phrases = set().union(*(_phrases(path) for path in PAYMENTS.glob("*.py")))
    assert phrases <= OPERATOR_FACING, sorted(phrases - OPERATOR_FACING)
