"""`make run`: start the whole assistant on embedded defaults and supervise it until Ctrl-C.

Order: Stripe sandbox (unless STRIPE_API_KEY is set) → database migrations and demo data →
action server → Rasa server → staff console → worker → Telegram bot (when TELEGRAM_BOT_TOKEN is
set). Each must answer its health check before the next starts; a failure names the process and
shows the tail of its log. Ctrl-C (or SIGTERM) stops every child.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import procs
from scripts.train import ensure_model
from settings import Settings
from tuning.loop import promoted_model

out = Console()


DEV_SECRETS = {
    "RASA_SHARED_SECRET": lambda: secrets.token_urlsafe(32),
    "ACTION_SERVER_SECRET": lambda: secrets.token_urlsafe(32),
    "CONSOLE_SECRET_KEY": lambda: secrets.token_urlsafe(32),
    "PAYCHAT_CONSENT_SIGNING_KEY": lambda: secrets.token_urlsafe(32),
    "SANDBOX_CHALLENGE_KEY": lambda: secrets.token_urlsafe(32),
    "STRIPE_WEBHOOK_SECRET": lambda: "whsec_" + secrets.token_urlsafe(24),
}


def dev_secrets(var_dir: Path) -> dict[str, str]:
    """Random secrets for local runs, made once and kept in var/ (never in git); fills in new ones."""
    path = var_dir / "dev-secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: make() for name, make in DEV_SECRETS.items() if name not in values}
    if missing:
        values.update(missing)
        # 0600 from the first byte: written, then chmod-ed, it would be readable for a moment.
        with os.fdopen(procs.open_private(path), "w") as file:
            file.write(json.dumps(values))
    return values


def development_defaults(settings: Settings) -> dict[str, str]:
    """What `make run` turns on for a local try-out unless the environment says otherwise: demo mode."""
    if settings.is_production or "demo_mode" in settings.model_fields_set:
        return {}
    return {"PAYCHAT_DEMO_MODE": "true"}


def metrics_defaults(settings: Settings) -> dict[str, str]:
    """Prometheus ports of the bot and the worker unless set (console, action server: GET /metrics)."""
    ports = {
        "bot_metrics_port": ("BOT_METRICS_PORT", "9102"),
        "worker_metrics_port": ("WORKER_METRICS_PORT", "9103"),
    }
    return {name: port for field, (name, port) in ports.items() if field not in settings.model_fields_set}


DEMO_NOTICE = (
    "DEMO MODE (PAYCHAT_DEMO_MODE=true): console-only demo users with sandbox cards, and every new "
    "Telegram user gets demo bills and a sandbox card. Set PAYCHAT_DEMO_MODE=false to turn it off."
)


def prepare_var_dir(var_dir: Path) -> None:
    """Make this process and its children create private files, and var/ private (0700, files 0600)."""
    os.umask(procs.PRIVATE_UMASK)
    procs.tighten(var_dir)


def main() -> int:
    """Start, report, supervise, stop."""
    settings = Settings()
    prepare_var_dir(settings.var_dir)
    extra = {**development_defaults(settings), **metrics_defaults(settings)}
    if not settings.is_production:
        generated = dev_secrets(settings.var_dir)
        for key, value in generated.items():
            field = key.lower().removeprefix("paychat_")
            if not getattr(settings, field):
                extra[key] = value
    # Children read the same values from their environment; this process sees them too.
    os.environ.update(extra)
    settings = Settings()
    env = procs.base_env(extra)
    action_url = f"http://127.0.0.1:{settings.action_server_port}/webhook"
    model = ensure_model()
    promoted = promoted_model(settings)  # the tuning loop's promotion survives a restart
    if promoted is not None:
        out.print(f"serving the promoted model {promoted.name} (`python -m tuning rollback` returns)")
        model = promoted

    rows: list[tuple[str, str]] = []
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    # Explicit handlers: a shell that starts `make run` in the background ignores SIGINT for it.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with procs.supervised(settings.var_dir / "log", env) as supervisor:
        try:
            if settings.uses_stripe_sandbox:
                out.print(f"[bold]starting[/] Stripe sandbox on 127.0.0.1:{settings.stripe_sandbox_port}")
                supervisor.start(procs.sandbox_spec(settings.stripe_sandbox_port))
                # The sandbox signs and delivers PaymentIntent events to the console, like Stripe.
                procs.register_sandbox_webhook(
                    settings.effective_stripe_api_base,
                    f"http://{settings.console_host}:{settings.console_port}/stripe/webhook",
                    settings.stripe_webhook_secret,
                )
                rows.append(("Stripe sandbox (localstripe)", settings.effective_stripe_api_base))
            out.print("[bold]preparing[/] database (migrations) and demo data")
            procs.run_checked([str(procs.APP_PYTHON), "-m", "payments.demo"], env=env, on_line=out.print)
            out.print("[bold]starting[/] action server")
            supervisor.start(procs.action_server_spec(settings.action_server_port))
            rows.append(("action server", f"http://127.0.0.1:{settings.action_server_port}"))
            out.print("[bold]starting[/] Rasa server (loading the model takes ~20 s)")
            rasa_port = int(settings.rasa_url.rsplit(":", 1)[1].split("/")[0])
            supervisor.start(
                procs.rasa_spec(model, rasa_port, action_url, settings.effective_rasa_tracker_db)
            )
            rows.append(("Rasa server (secret-checked channel only)", settings.rasa_url))
            out.print("[bold]starting[/] staff console")
            supervisor.start(procs.console_spec(settings.console_host, settings.console_port))
            console_url = f"http://{settings.console_host}:{settings.console_port}"
            rows.append(("staff console + JSON API", console_url))
            supervisor.start(procs.worker_spec())
            rows.append(("worker (schedules, reconciliation)", "-"))
            if settings.telegram_bot_token:
                supervisor.start(procs.bot_spec())
                mode = "webhook" if settings.telegram_webhook_url else "long polling"
                rows.append(("Telegram bot", mode))
            login = subprocess_output([str(procs.APP_PYTHON), "-m", "console.cli", "ensure-demo-staff"], env)
        except procs.ProcessFailedError as exc:
            out.print(f"[bold red]failed:[/] {exc}")
            return 1

        table = Table(title="paychat is running")
        table.add_column("process")
        table.add_column("address")
        for name, address in rows:
            table.add_row(name, address)
        out.print(table)
        if settings.demo_mode:
            out.print(f"[bold yellow]{DEMO_NOTICE}[/]")
        print(f"Demo staff login ({login})", flush=True)
        print(
            f"Try: curl -u demo:<password> -H 'content-type: application/json' "
            f"""-d '{{"session": "try1", "text": "pay my electricity bill"}}' {console_url}/api/chat""",
            flush=True,
        )
        print(f"Logs: {settings.var_dir / 'log'}. Ctrl-C stops everything.", flush=True)
        try:
            while not stop_requested:
                dead = supervisor.first_exited()
                if dead is not None:
                    out.print(
                        f"[bold red]{dead.spec.name} exited ({dead.popen.returncode})[/]\n{dead.log_tail()}"
                    )
                    return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        out.print("stopping every process ...")
    return 0


def subprocess_output(argv: list[str], env: dict[str, str]) -> str:
    """Run a short command and return its last output line."""
    import subprocess

    result = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=procs.ROOT, check=False)
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[-1] if lines else "(none)"


if __name__ == "__main__":
    sys.exit(main())
