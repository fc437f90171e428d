"""The core stays small enough to read (issue 9, done-criteria): modules and functions in payments/.

Every module in `payments/` is under 600 lines and every function or method under 60 lines,
measured with `ast` (a function's `end_lineno - lineno + 1`, its decorators not counted). The
failure message names each offender with its size, so a regression says where to cut.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "payments"
MODULE_LIMIT = 600
FUNCTION_LIMIT = 60


def core_modules() -> list[Path]:
    """Every Python module of the core, sorted by path."""
    return sorted(CORE.rglob("*.py"))


def function_sizes(path: Path) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function and method in `path`, nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    sizes: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    assert child.end_lineno is not None
                    sizes.append((name, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return sizes


def test_the_core_is_found() -> None:
    """The measure looks at the real package (a wrong path would make the checks below vacuous)."""
    modules = core_modules()
    assert CORE / "charging.py" in modules
    assert len(modules) > 20
    assert any(name == "parse_amount" for name, _ in function_sizes(CORE / "money.py"))


def test_every_core_module_is_under_600_lines() -> None:
    """No module in payments/ reaches MODULE_LIMIT lines."""
    offenders = [
        f"{path.relative_to(CORE.parent)}: {lines} lines"
        for path in core_modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) >= MODULE_LIMIT
    ]
    assert not offenders, f"modules of {MODULE_LIMIT}+ lines: " + "; ".join(offenders)


def test_every_core_function_is_under_60_lines() -> None:
    """No function or method in payments/ reaches FUNCTION_LIMIT lines (decorators excluded)."""
    offenders = [
        f"{path.relative_to(CORE.parent)}:{name} ({lines} lines)"
        for path in core_modules()
        for name, lines in function_sizes(path)
        if lines >= FUNCTION_LIMIT
    ]
    assert not offenders, f"functions of {FUNCTION_LIMIT}+ lines: " + "; ".join(offenders)


def test_the_measure_counts_a_long_function(tmp_path: Path) -> None:
    """The measure itself: a 61-line method in a class is found under its qualified name."""
    body = "\n".join(f"        x{i} = {i}" for i in range(60))
    module = tmp_path / "m.py"
    module.write_text(f"class C:\n    @staticmethod\n    def long() -> None:\n{body}\n")
    assert function_sizes(module) == [("C.long", 61)]
