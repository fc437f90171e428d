"""`paychat audit verify`, `paychat consent show|verify ID`, `paychat keys generate|rotate`,
`paychat limits show|set USER_ID`, `paychat bills add USER_ID` (a bill arrives: issue 13, item 8).

Each command opens the configured database (DATABASE_URL, or the SQLite file under var/), makes one
call into the core and prints the result; a failed check exits with status 1 so scripts and
monitoring can act on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import typer
from cryptography.fernet import Fernet
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.crypto import KeyringError, encrypted_columns, keyring, rotate_column
from db.engine import make_engine, make_session_factory
from db.models import utcnow
from payments.audit import AuditProblem, AuditProblemKind, verify_audit_chain
from payments.autopay import issue_bill
from payments.config import service_config_from
from payments.consent import ReceiptProblem, consent_receipt, verify_receipt
from payments.errors import BillerUnknownError, PaymentNotFoundError
from payments.ledger import LIMIT_COLUMNS, limits_for, set_user_limits
from payments.money import Money, format_money
from payments.unit_of_work import load_user
from settings import get_settings

app = typer.Typer(
    help="paychat operator tools", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
audit_app = typer.Typer(help="the hash-chained audit log", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
consent_app = typer.Typer(help="signed consent receipts, for disputes", no_args_is_help=True)
app.add_typer(consent_app, name="consent")
keys_app = typer.Typer(
    help="the keys encrypting personal data at rest (PAYCHAT_DATA_KEYS)", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
limits_app = typer.Typer(help="one user's own payment limits (issue 13)", no_args_is_help=True)
app.add_typer(limits_app, name="limits")
bills_app = typer.Typer(help="bills arriving from billers (standing mandates pay them)", no_args_is_help=True)
app.add_typer(bills_app, name="bills")

RECEIPT_PROBLEMS = {
    ReceiptProblem.SIGNATURE: "the signature does not match: the consent was changed after it was signed",
    ReceiptProblem.NOT_CHAINED: "no audit row carries this receipt's hash",
    ReceiptProblem.CHAIN_BROKEN: "the audit log does not verify (run `paychat audit verify`)",
    ReceiptProblem.INTENT_SIGNATURE: "the PaymentIntent bound to the receipt was changed",
    ReceiptProblem.INTENT_MISMATCH: "the payment now names a different PaymentIntent than the receipt",
    ReceiptProblem.MANDATE_CONSENT: (
        "the standing-mandate consent this automatic charge rests on was changed or is not the one referenced"
    ),
}


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


def _consent_key() -> bytes:
    return service_config_from(get_settings()).consent_signing_key


def _amount(fields: dict[str, Any]) -> str:
    try:
        return format_money(Money(int(fields["amount_minor"]), str(fields["currency"])), "en_IE")
    except (KeyError, TypeError, ValueError):
        return "?"


@consent_app.command("show")
def consent_show(
    consent_id: int,
    database_url: Annotated[str | None, typer.Option(help="defaults to DATABASE_URL")] = None,
) -> None:
    """Print one consent receipt readably: what the user saw, how and when they confirmed, the charge."""
    with database(database_url) as session:
        receipt = consent_receipt(session, consent_id=consent_id)
    if receipt is None:
        typer.echo(f"no consent {consent_id}", err=True)
        raise typer.Exit(2)
    fields = receipt.receipt
    card = fields.get("card") or {}
    lines = [
        f"Consent receipt {receipt.consent_id} (version {receipt.version})",
        f"  payment           {receipt.payment_id} (now {receipt.payment_status})",
        f"  user              {receipt.user_id}",
    ]
    if fields:
        lines += [
            f"  biller            {fields.get('biller')} (bill {fields.get('bill_reference')})",
            f"  amount            {_amount(fields)} ({fields.get('amount_minor')} minor units)",
            f"  card              {card.get('brand')} •••• {card.get('last4')} "
            f"({card.get('payment_method')})",
            f"  idempotency key   {fields.get('idempotency_key')}",
            f"  tap callback id   {fields.get('callback_id') or '— (not a button tap)'}",
            f"  tapped at (UTC)   {fields.get('tapped_at') or '—'}",
        ]
    lines += [
        f"  confirmed at      {receipt.confirmed_at.isoformat()}",
        f"  PaymentIntent     {receipt.payment_intent_id or '— (not charged yet)'}",
        f"  confirmation      {receipt.confirmation!r}",
        "  summary shown to the user:",
        *(f"    {line}" for line in receipt.summary_text.splitlines()),
        f"  signature         {receipt.signature}",
        f"  receipt sha256    {receipt.receipt_hash or '— (version 1: signed record only)'}",
        "  audit trail of the payment:",
        *(f"    row {row_id:>6}  {event:<24} {row_hash}" for row_id, event, row_hash in receipt.audit_rows),
    ]
    typer.echo("\n".join(lines))


@consent_app.command("verify")
def consent_verify(
    consent_id: int,
    database_url: Annotated[str | None, typer.Option(help="defaults to DATABASE_URL")] = None,
) -> None:
    """Check the receipt's signature, its place in the audit chain and its PaymentIntent; exit 1 if not."""
    with database(database_url) as session:
        check = verify_receipt(session, consent_id=consent_id, key=_consent_key())
    if check is None:
        typer.echo(f"no consent {consent_id}", err=True)
        raise typer.Exit(2)
    for problem in check.problems:
        typer.echo(f"consent {consent_id}: {problem.value}: {RECEIPT_PROBLEMS[problem]}")
    if not check.ok:
        typer.echo(f"consent {consent_id}: NOT OK", err=True)
        raise typer.Exit(1)
    where = f"audit row {check.audit_row_id}" if check.audit_row_id else "a version 1 record (not chained)"
    intent = (
        f"PaymentIntent {check.payment_intent_id} signed" if check.payment_intent_id else "no PaymentIntent"
    )
    typer.echo(f"consent {consent_id}: ok (signature valid, {where}, {intent}, audit chain intact)")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new key: put it first in PAYCHAT_DATA_KEYS (comma-separated, newest first)."""
    typer.echo(Fernet.generate_key().decode())


@keys_app.command("rotate")
def keys_rotate(
    database_url: Annotated[str | None, typer.Option(help="defaults to DATABASE_URL")] = None,
) -> None:
    """Re-encrypt every encrypted value under the newest key (the first of PAYCHAT_DATA_KEYS).

    Afterwards the older keys can be removed from PAYCHAT_DATA_KEYS.
    """
    ring = keyring()
    engine = make_engine(database_url or get_settings().effective_database_url)
    try:
        with engine.begin() as connection:
            for where in encrypted_columns():
                count = rotate_column(connection, where, ring)
                typer.echo(f"{where.table}.{where.column}: {count} value(s) re-encrypted")
    except KeyringError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _print_limits(session: Session, user_id: int) -> None:
    """The limits that apply to the user now, each marked as their own or the setting."""
    user = load_user(session, user_id)
    applied = limits_for(user, service_config_from(get_settings()))
    for name, column in LIMIT_COLUMNS.items():
        amount = format_money(Money(getattr(applied, name), user.currency), user.locale)
        source = "own" if getattr(user, column) is not None else "setting"
        typer.echo(f"{name.removesuffix('_minor')}: {amount} ({source})")


@limits_app.command("show")
def limits_show(
    user_id: int,
    database_url: Annotated[str | None, typer.Option(help="defaults to DATABASE_URL")] = None,
) -> None:
    """The per-payment, daily and monthly limits that apply to the user."""
    try:
        with database(database_url) as session:
            _print_limits(session, user_id)
    except PaymentNotFoundError:
        typer.echo(f"no user {user_id}", err=True)
        raise typer.Exit(2) from None


@limits_app.command("set")
def limits_set(
    user_id: int,
    by: Annotated[str, typer.Option(help="who asks (kept in the audit log)")],
    per_payment: Annotated[int | None, typer.Option(min=-1, help="minor units; -1 clears")] = None,
    daily: Annotated[int | None, typer.Option(min=-1, help="minor units; -1 clears")] = None,
    monthly: Annotated[int | None, typer.Option(min=-1, help="minor units; -1 clears")] = None,
    database_url: Annotated[str | None, typer.Option(help="defaults to DATABASE_URL")] = None,
) -> None:
    """Set (minor units) or clear (-1: back to the setting) the user's own limits; audited."""
    given = {"per_payment_minor": per_payment, "daily_minor": daily, "monthly_minor": monthly}
    changes = {name: (None if value == -1 else value) for name, value in given.items() if value is not None}
    try:
        with database(database_url) as session:
            set_user_limits(session, user_id=user_id, changes=changes, changed_by=f"cli:{by}")
            _print_limits(session, user_id)
    except PaymentNotFoundError:
        typer.echo(f"no user {user_id}", err=True)
        raise typer.Exit(2) from None


# --- standing mandates (issue 13, item 8): making a bill arrive ---------------------------------


@bills_app.command("add")
def bills_add(
    user_id: int,
    biller: Annotated[str, typer.Option(help="the biller's exact name")],
    reference: Annotated[str, typer.Option(help="the bill's reference, unique per user and biller")],
    amount_minor: Annotated[int, typer.Option(min=1, help="the amount due, in minor units (cents)")],
    due: Annotated[str, typer.Option(help="the due date, YYYY-MM-DD")],
    database_url: Annotated[str | None, typer.Option(help="defaults to DATABASE_URL")] = None,
) -> None:
    """A new open bill for the user (audited); the worker's next round pays it under a live mandate."""
    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        typer.echo(f"not a date (YYYY-MM-DD): {due}", err=True)
        raise typer.Exit(2) from None
    try:
        with database(database_url) as session:
            bill = issue_bill(
                session, user_id=user_id, biller_name=biller, reference=reference,
                amount_minor=amount_minor, due_date=due_date, now=utcnow(),
            )  # fmt: skip
            shown = f"{bill.biller_name} {bill.reference} {bill.amount_due_text}"
            typer.echo(f"bill {bill.id}: {shown} due {due}")
    except PaymentNotFoundError:
        typer.echo(f"no user {user_id}", err=True)
        raise typer.Exit(2) from None
    except BillerUnknownError:
        typer.echo(f"no biller named {biller!r}", err=True)
        raise typer.Exit(2) from None
    except IntegrityError:
        typer.echo(f"the user already has a {biller} bill {reference!r}", err=True)
        raise typer.Exit(2) from None
