"""How each paychat process is started, checked and stopped — shared by `make run` and the tests.

One place knows the command line of every process (DESIGN.md, "Processes and how they talk"), so
the end-to-end tests start exactly what a user starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
APP_PYTHON = ROOT / ".venvs" / "app" / "bin" / "python"
RASA_BIN = ROOT / ".venvs" / "rasa" / "bin" / "rasa"

# Everything a child writes (SQLite databases, the Rasa tracker store, logs, secrets) is for this
# user only: files 0600, folders 0700, whatever umask the shell that started us had.
PRIVATE_UMASK = 0o077

# localstripe is GPL-3.0: it runs as its own process and is never imported by paychat's code.
# Its `localstripe` command binds every interface; running its app ourselves keeps it on loopback
# (and starts from scratch: the demo loader recreates the sandbox customers it needs).
# It also pickles its whole store to /tmp/localstripe.pickle after every write (`Store.dump_to_disk`:
# 77 % of the sandbox's CPU in the payment turn, growing with every object a run creates) so that
# its own CLI can reload it. The sandbox we start never reloads it (from scratch, above), so the dump
# is switched off in its process: its state lives in memory and ends with it, as before.
SANDBOX_SETUP = "import localstripe.resources as resources; resources.Store.dump_to_disk = lambda self: None"
SANDBOX_CODE = (
    f"import sys; from aiohttp import web; {SANDBOX_SETUP}; from localstripe.server import app; "
    "web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None)"
)


class ProcessFailedError(RuntimeError):
    """A process exited or did not become healthy in time."""


@dataclass
class ProcessSpec:
    """A child process: its command, environment and how to tell it is ready."""

    name: str
    argv: list[str]
    health_url: str | None = None
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0
    health_headers: dict[str, str] = field(default_factory=dict)


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700, and make an existing one 0700; return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def tighten(path: Path) -> None:
    """Make the folder `path` 0700 and everything under it 0700 (folders) or 0600 (files).

    For a var/ folder made before files were created private; symbolic links are left alone.
    """
    private_dir(path)
    for child in path.rglob("*"):
        if child.is_symlink():
            continue
        child.chmod(0o700 if child.is_dir() else 0o600)


def open_private(path: Path) -> int:
    """A file descriptor for writing `path` from scratch, mode 0600 even if it existed wider."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every child gets: ours on PYTHONPATH, telemetry off, plus `extra`."""
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def sandbox_spec(port: int) -> ProcessSpec:
    """The Stripe sandbox (localstripe) on 127.0.0.1:port."""
    return ProcessSpec(
        name="stripe-sandbox",
        argv=[str(APP_PYTHON), "-c", SANDBOX_CODE, str(port)],
        health_url=f"http://127.0.0.1:{port}/v1/customers",
        health_headers={"Authorization": "Bearer sk_test_health"},
        ready_timeout=30,
    )


def action_server_spec(port: int) -> ProcessSpec:
    """paychat's action server (rasa-sdk behind ACTION_SERVER_SECRET, on loopback: actions/server.py)."""
    return ProcessSpec(
        name="action-server",
        argv=[str(APP_PYTHON), "-m", "actions.server"],
        env={"ACTION_SERVER_PORT": str(port)},
        health_url=f"http://127.0.0.1:{port}/health",
        ready_timeout=60,
    )


def rasa_spec(model: Path, port: int, action_url: str, tracker_db: Path) -> ProcessSpec:
    """The Rasa server, loopback only, with paychat's secret-checking channel and no open API.

    Conversations are kept in the SQLite file `tracker_db`, so a restart loses none of them. Rasa
    calls the action server with `Authorization: Bearer ${ACTION_SERVER_SECRET}` (endpoints.yml),
    so that variable must be in the supervisor's environment.
    """
    return ProcessSpec(
        name="rasa",
        argv=[
            str(RASA_BIN),
            "run",
            "--model",
            str(model),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--credentials",
            "credentials.yml",
            "--endpoints",
            "endpoints.yml",
        ],
        cwd=ROOT / "rasa_project",
        env={
            # rasa_project/ for the channel, the root for `privacy` (stdlib only) that the channel imports.
            "PYTHONPATH": os.pathsep.join([str(ROOT / "rasa_project"), str(ROOT)]),
            "ACTION_ENDPOINT_URL": action_url,
            "RASA_TRACKER_DB": str(tracker_db),
        },
        health_url=f"http://127.0.0.1:{port}/webhooks/paychat/health",
        # Loading TensorFlow and the model takes 15-30 s on a quiet 2-core machine, minutes on a busy one.
        ready_timeout=420,
    )


def console_spec(host: str, port: int) -> ProcessSpec:
    """The staff console and its JSON API."""
    return ProcessSpec(
        name="console",
        argv=[str(APP_PYTHON), "-m", "console"],
        health_url=f"http://{host}:{port}/healthz",
        ready_timeout=60,
    )


def worker_spec() -> ProcessSpec:
    """The worker: scheduled payments, reconciliation of payments in state unknown, transcript retention."""
    return ProcessSpec(name="worker", argv=[str(APP_PYTHON), "-m", "scripts.worker"], ready_timeout=5)


def bot_spec() -> ProcessSpec:
    """The Telegram bot (polling, or webhook when TELEGRAM_WEBHOOK_URL is set)."""
    return ProcessSpec(name="telegram-bot", argv=[str(APP_PYTHON), "-m", "bot"], ready_timeout=5)


@dataclass
class RunningProcess:
    """A started child and where its output goes."""

    spec: ProcessSpec
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the child's log, for a failure message."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Supervisor:
    """Starts children in their own process groups, waits for health, stops them all."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.running: list[RunningProcess] = []
        private_dir(log_dir)

    def start(self, spec: ProcessSpec) -> RunningProcess:
        """Start `spec` with its output in `<log_dir>/<name>.log` and wait until it is healthy."""
        if spec.health_url and _answers(spec.health_url, spec.health_headers):
            # Otherwise the old process would pass our health check while the new one fails to bind.
            raise ProcessFailedError(
                f"{spec.name}: {spec.health_url} already answers — is another `make run` still running?"
            )
        log_path = self.log_dir / f"{spec.name}.log"
        log_file = os.fdopen(open_private(log_path), "wb")
        env = dict(self.env)
        if "PYTHONPATH" in spec.env:
            env["PYTHONPATH"] = spec.env["PYTHONPATH"] + os.pathsep + env.get("PYTHONPATH", "")
        env.update({k: v for k, v in spec.env.items() if k != "PYTHONPATH"})
        popen = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )
        proc = RunningProcess(spec, popen, log_path)
        self.running.append(proc)
        self._wait_healthy(proc)
        return proc

    def _wait_healthy(self, proc: RunningProcess) -> None:
        deadline = time.monotonic() + proc.spec.ready_timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise ProcessFailedError(
                    f"{proc.spec.name} exited with code {proc.popen.returncode}\n{proc.log_tail()}"
                )
            if proc.spec.health_url is None:
                if time.monotonic() > deadline - proc.spec.ready_timeout + 2:
                    return  # no health endpoint: alive for 2 s counts as started
            elif _answers(proc.spec.health_url, proc.spec.health_headers):
                return
            time.sleep(0.3)
        raise ProcessFailedError(
            f"{proc.spec.name} did not become healthy within {proc.spec.ready_timeout:.0f}s "
            f"({proc.spec.health_url})\n{proc.log_tail()}"
        )

    def first_exited(self) -> RunningProcess | None:
        """A child that has died, if any."""
        return next((p for p in self.running if p.popen.poll() is not None), None)

    def stop(self, proc: RunningProcess, timeout: float = 10.0) -> None:
        """SIGTERM the child's process group, then SIGKILL if it lingers."""
        if proc.popen.poll() is None:
            _signal_group(proc.popen.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(5)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        """Stop every child, newest first."""
        for proc in reversed(list(self.running)):
            self.stop(proc)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


SANDBOX_WEBHOOK_EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed"]


def register_sandbox_webhook(sandbox_base: str, url: str, secret: str, name: str = "paychat") -> None:
    """Make the sandbox deliver signed PaymentIntent events to `url` (localstripe's config endpoint)."""
    response = httpx.post(
        f"{sandbox_base}/_config/webhooks/{name}",
        json={"url": url, "secret": secret, "events": SANDBOX_WEBHOOK_EVENTS},
        timeout=10,
    )
    if response.status_code != 200:
        raise ProcessFailedError(f"stripe-sandbox refused the webhook registration: {response.status_code}")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def supervised(log_dir: Path, env: dict[str, str]) -> Iterator[Supervisor]:
    """A Supervisor whose children are all stopped on exit, whatever happens."""
    supervisor = Supervisor(log_dir, env)
    try:
        yield supervisor
    finally:
        supervisor.stop_all()


def run_checked(
    argv: list[str], *, env: dict[str, str], cwd: Path = ROOT, on_line: Callable[[str], None] | None = None
) -> None:
    """Run a one-off command (migrations, demo data), streaming its output; raise on failure."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        umask=PRIVATE_UMASK,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if on_line:
            on_line(line.rstrip())
    if proc.wait() != 0:
        raise ProcessFailedError(f"{' '.join(argv[:4])} failed:\n" + "\n".join(lines[-30:]))
