"""`paychat audit verify`, `paychat consent show|verify ID`, `paychat keys rotate`.

Each command opens the configured database (DATABASE_URL, or the SQLite file under var/), makes one
call into the core and prints the result; a failed check exits with status 1 so scripts and
monitoring can act on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from db.engine import make_engine, make_session_factory
from payments.audit import AuditProblem, AuditProblemKind, verify_audit_chain
from settings import get_settings

app = typer.Typer(
    help="paychat operator tools", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
audit_app = typer.Typer(help="the hash-chained audit log", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@contextmanager
def database(url: str | None = None) -> Iterator[Session]:
    """One read-write transaction on the configured database (or `url`)."""
    engine = make_engine(url or get_settings().effective_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def _parse_head(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    head_id, _, head_hash = value.partition(":")
    if not head_id.isdigit() or len(head_hash) != 64:
        raise typer.BadParameter("expected ID:HASH as printed by an earlier `paychat audit verify`")
    return int(head_id), head_hash


def describe_problem(problem: AuditProblem) -> str:
    """What an operator reads about one audit problem."""
    short = f"{problem.hash[:12]}…"
    match problem.kind:
        case AuditProblemKind.ALTERED:
            return "its content no longer matches its hash"
        case AuditProblemKind.REHASHED:
            return (
                f"row {problem.related_id} expects hash {short} before it, this row now hashes otherwise: "
                "it was changed and re-hashed (or rows between them were deleted)"
            )
        case AuditProblemKind.DELETED:
            after = f"after row {problem.related_id}" if problem.related_id is not None else "at the start"
            return f"it links to hash {short}, which no row has: rows {after} were deleted"
        case AuditProblemKind.INSERTED:
            return f"no row links to it (row {problem.related_id} links past it): it was inserted"
        case AuditProblemKind.REORDERED:
            return f"it is out of its place in the chain (see row {problem.related_id})"
        case AuditProblemKind.HEAD_MISSING:
            return f"the head recorded earlier ({short}) is gone: rows at the end were deleted or rewritten"
    return problem.kind.value


@audit_app.command("verify")
def audit_verify(
    head: Annotated[
        str | None,
        typer.Option(help="ID:HASH of the head printed by an earlier run: catches rows deleted at the end"),
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="defaults to DATABASE_URL")] = None,
) -> None:
    """Check every row of the audit chain; name each altered, inserted, reordered or deleted row."""
    with database(database_url) as session:
        result = verify_audit_chain(session, expected_head=_parse_head(head))
    for problem in result.problems:
        typer.echo(f"row {problem.row_id}: {problem.kind.value}: {describe_problem(problem)}")
    if not result.ok:
        typer.echo(
            f"audit log: NOT OK ({len(result.problems)} problem(s) in {result.checked} rows)", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"audit log: ok, {result.checked} rows; head {result.head_id}:{result.head_hash}")
