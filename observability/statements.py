"""How much database work one unit of work did: SQL statements counted per block, per engine.

`count_statements(engine)` installs one listener on an engine (once); `counting()` marks a block
(an action run) whose statements are counted, through a contextvar, so statements run in a worker
thread started from the block (`asyncio.to_thread` copies the context) count too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event


@dataclass
class StatementCount:
    """Statements executed inside one `counting()` block (an enclosing block counts them too)."""

    statements: int = 0
    enclosing: StatementCount | None = None


_current: ContextVar[StatementCount | None] = ContextVar("paychat_statements", default=None)


def _count(*_: Any) -> None:
    tally = _current.get()
    while tally is not None:
        tally.statements += 1
        tally = tally.enclosing


def count_statements(engine: Engine) -> None:
    """Count this engine's statements in whatever `counting()` block runs them (installed once)."""
    if not event.contains(engine, "before_cursor_execute", _count):
        event.listen(engine, "before_cursor_execute", _count)


@contextmanager
def counting() -> Iterator[StatementCount]:
    """Count the statements run inside the block (including threads it starts with to_thread)."""
    tally = StatementCount(enclosing=_current.get())
    token = _current.set(tally)
    try:
        yield tally
    finally:
        _current.reset(token)
