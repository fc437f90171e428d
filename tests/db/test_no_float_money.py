"""No float touches money: scan payments/ and db/ for floats on lines that deal with amounts."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MONEY_WORDS = re.compile(
    r"amount|minor|money|price|total|cents?\b|currency|outstanding|paid|limit|balance", re.I
)
FLOAT_LITERAL = re.compile(r"^\d+\.\d*(e[-+]?\d+)?$|^\.\d+$|^\d+e[-+]?\d+$", re.I)


def float_money_lines(source: str) -> list[tuple[int, str]]:
    """Lines whose code (comments and strings ignored) mentions float and a money word."""
    suspicious: dict[int, list[str]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        is_float_name = token.type == tokenize.NAME and token.string in ("float", "Float", "FLOAT", "Numeric")
        is_float_literal = token.type == tokenize.NUMBER and bool(FLOAT_LITERAL.match(token.string))
        is_division = token.type == tokenize.OP and token.string == "/"  # true division yields floats
        if is_float_name or is_float_literal or is_division:
            suspicious.setdefault(token.start[0], []).append(token.string)
    lines = source.splitlines()
    return [
        (number, lines[number - 1].strip())
        for number in sorted(suspicious)
        if MONEY_WORDS.search(lines[number - 1].split("#")[0])
    ]


def test_the_detector_catches_float_money() -> None:
    bad = (
        "amount = float(text)\n"
        "price: Mapped[float] = mapped_column(Float)\n"
        "half = amount_minor / 2\n"
        "total = 45.20\n"
    )
    assert [number for number, _ in float_money_lines(bad)] == [1, 2, 3, 4]
    assert float_money_lines("timeout_seconds: float = 10.0\nconfidence = 0.5\n") == []


def test_no_float_near_money_in_payments_and_db() -> None:
    offenders = []
    for folder in ("payments", "db"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in float_money_lines(path.read_text()):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line}")
    assert offenders == []
