"""Staff account commands: `python -m console.cli create-user NAME --role tester`, `ensure-demo-staff`."""

from __future__ import annotations

from typing import Annotated

import typer

from console.roles import Role
from console.staff import StaffError, create_staff_user, ensure_demo_staff
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


if __name__ == "__main__":
    app()
