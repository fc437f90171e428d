"""Staff account commands: `python -m console.cli create-user NAME --role tester`, `ensure-demo-staff`,
and API tokens for scripts: `create-token NAME --role viewer --staff USER`, `list-tokens`,
`revoke-token ID`."""

from __future__ import annotations

from typing import Annotated

import typer

from console.roles import Role
from console.staff import StaffError, create_staff_user, ensure_demo_staff
from console.tokens import create_api_token, list_api_tokens, revoke_api_token
from db.engine import make_engine, make_session_factory
from settings import get_settings

app = typer.Typer(help="paychat staff console accounts", no_args_is_help=True, add_completion=False)
DEMO_PASSWORD_FILE = "console-demo-staff.txt"


@app.command("create-user")
def create_user(
    username: str,
    role: Annotated[Role, typer.Option(help="viewer, tester or admin")] = Role.VIEWER,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="prompted if omitted")
    ] = "",
) -> None:
    """Create a staff account."""
    engine = make_engine(get_settings().effective_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            created = create_staff_user(session, username=username, password=password, role=role)
    except StaffError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"created {created.username} ({created.role.value})")


@app.command("ensure-demo-staff")
def ensure_demo_staff_command() -> None:
    """Create (or keep) the demo admin and print its login; refuses in production."""
    settings = get_settings()
    if settings.is_production:
        typer.echo("error: no demo staff in production; use create-user", err=True)
        raise typer.Exit(1)
    engine = make_engine(settings.effective_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            username, password = ensure_demo_staff(
                session, password_file=settings.var_dir / DEMO_PASSWORD_FILE
            )
    finally:
        engine.dispose()
    url = f"http://{settings.console_host}:{settings.console_port}/"
    typer.echo(f"console: {url}  login: {username} / {password}")


@app.command("create-token")
def create_token(
    name: str,
    staff: Annotated[str, typer.Option(help="the staff member the token acts for")],
    role: Annotated[
        Role, typer.Option(help="viewer, tester or admin; at most the staff member's")
    ] = Role.VIEWER,
) -> None:
    """Create an API token and print it once (only its hash is kept): send it as `Authorization: Bearer`."""
    engine = make_engine(get_settings().effective_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            view, token = create_api_token(session, staff_username=staff, name=name, role=role)
    except StaffError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(
        f"token {view.id} {view.name!r} for {view.staff_username} ({view.role.value}); "
        "shown once, store it now:",
        err=True,
    )
    typer.echo(token)


@app.command("list-tokens")
def list_tokens() -> None:
    """List every API token (id, name, staff member, role, created, last used, revoked) — never the token."""
    engine = make_engine(get_settings().effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            tokens = list_api_tokens(session)
    finally:
        engine.dispose()
    for t in tokens:
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never used"
        state = f"revoked {t.revoked_at.isoformat(timespec='seconds')}" if t.revoked_at else "active"
        typer.echo(
            f"{t.id}\t{t.name}\t{t.staff_username}\t{t.role.value}\t"
            f"created {t.created_at.isoformat(timespec='seconds')}\t{used}\t{state}"
        )


@app.command("revoke-token")
def revoke_token(token_id: int) -> None:
    """Revoke an API token by its id (from list-tokens); it stops working at once."""
    engine = make_engine(get_settings().effective_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            view = revoke_api_token(session, token_id=token_id)
    except StaffError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"revoked token {view.id} {view.name!r} of {view.staff_username}")


if __name__ == "__main__":
    app()
