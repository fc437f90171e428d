"""Everything the whole-path benchmark and the reliability scenarios run, started side by side.

On top of the end-to-end tests' assistant (tests/helpers/stack.py: sandbox, database with demo
data, action server, Rasa behind the paychat channel) this starts:

- the staff console (`python -m console`) with a tester account, as `make run` starts it;
- the real bot process (`python -m bot`) long-polling a fake Telegram Bot API
  (testing/fake_telegram.py) that runs on a loop of its own in this process;
- bare Rasa on the same model, for the baseline: `--enable-api` (/model/parse) and the REST
  channel, in-memory tracker store. Only here, never in `make run`;
- optionally fault-injecting proxies (testing/faultproxy.py) in front of the sandbox, the action
  server and Rasa (as the bot and the console reach it).
"""

from __future__ import annotations

import dataclasses
import os
import resource
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from scripts import procs
from testing.fake_telegram import FakeTelegram
from testing.faultproxy import FaultProxies, rewrite_base
from testing.loop import BackgroundLoop
from tests.helpers.stack import AssistantStack, start_assistant_stack

CONSOLE_TESTER_PASSWORD = "bench-tester-password-1"


def new_console_tester() -> tuple[str, str]:
    """A tester login of its own for one stack: stacks started in turn around one test session's
    assistant share its database, where a second account of the same name is refused."""
    return f"bench_tester_{secrets.token_hex(4)}", CONSOLE_TESTER_PASSWORD


TELEGRAM_TOKEN = "123456:BENCH-token"


def bare_rasa_spec(
    model: Path, port: int, action_url: str, action_secret: str, config_dir: Path
) -> procs.ProcessSpec:
    """Bare Rasa on `model`: HTTP API and the REST channel open, in-memory tracker store.

    It calls the same action server as paychat's Rasa, so it sends the same secret header.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "credentials.yml").write_text("rest:\n")
    (config_dir / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: {action_url}\n  headers:\n    Authorization: Bearer {action_secret}\n"
    )
    return procs.ProcessSpec(
        name="bare-rasa",
        argv=[
            str(procs.RASA_BIN),
            "run",
            "--model",
            str(model),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--enable-api",
            "--credentials",
            str(config_dir / "credentials.yml"),
            "--endpoints",
            str(config_dir / "endpoints.yml"),
        ],
        cwd=procs.ROOT / "rasa_project",
        env={"PYTHONPATH": str(procs.ROOT / "rasa_project")},
        health_url=f"http://127.0.0.1:{port}/status",
        ready_timeout=240,
    )


@dataclass
class BenchStack:
    """The running processes and how to reach each of them."""

    assistant: AssistantStack
    supervisor: procs.Supervisor
    rasa_url: str  # as the bot and the console reach it (through a proxy when there are proxies)
    console_url: str | None = None
    console_login: tuple[str, str] = field(default_factory=new_console_tester)  # the tester account
    bare_url: str | None = None
    telegram: FakeTelegram | None = None
    telegram_loop: BackgroundLoop | None = None
    proxies: FaultProxies | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        """The application database."""
        return self.assistant.database_url

    def processes(self) -> dict[str, int]:
        """Name → pid of every running child."""
        running = [*self.assistant.supervisor.running, *self.supervisor.running]
        return {p.spec.name: p.popen.pid for p in running if p.popen.poll() is None}

    def process(self, name: str) -> procs.RunningProcess:
        """The running child called `name`."""
        running = [*self.assistant.supervisor.running, *self.supervisor.running]
        return next(p for p in running if p.spec.name == name)

    def stop(self, name: str, *, kill: bool = False) -> procs.ProcessSpec:
        """Stop a child (SIGKILL its group when `kill`); returns its spec to start it again."""
        proc = self.process(name)
        owner = self.supervisor if proc in self.supervisor.running else self.assistant.supervisor
        if kill:
            os.killpg(proc.popen.pid, 9)
            proc.popen.wait(10)
        owner.stop(proc)
        return proc.spec

    def start(self, spec: procs.ProcessSpec) -> None:
        """Start a stopped child again (waits for its health check)."""
        owner = self.assistant.supervisor if spec.name in ASSISTANT_PROCESSES else self.supervisor
        owner.start(spec)
        if spec.name == "telegram-bot":
            self.wait_for_bot()

    def wait_for_bot(self, within: float = 60.0) -> None:
        """Wait until the bot polls the fake Telegram API."""
        assert self.telegram is not None
        seen = len(self.telegram.calls_to("getUpdates"))
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if len(self.telegram.calls_to("getUpdates")) > seen:
                return
            bot = self.process("telegram-bot")
            if bot.popen.poll() is not None:
                raise procs.ProcessFailedError(f"telegram-bot exited\n{bot.log_tail()}")
            time.sleep(0.2)
        raise procs.ProcessFailedError("telegram-bot never polled the fake Telegram API")


ASSISTANT_PROCESSES = {"stripe-sandbox", "action-server", "rasa"}


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that a stopped benchmark still stops every child it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def peak_memory_mib(pids: dict[str, int]) -> dict[str, float]:
    """Peak resident memory (VmHWM, with any children) of each process, and of this bench process."""
    peaks: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        total_kib = 0
        for member in family:
            try:
                status = Path(f"/proc/{member.pid}/status").read_text()
            except OSError:
                continue
            hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
            total_kib += int(hwm.split()[1])
        peaks[name] = round(total_kib / 1024, 1)
    own_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peaks["bench (fake Telegram, drivers)"] = round(own_kib / 1024, 1)
    return peaks


@contextmanager
def start_bench_stack(
    workdir: Path,
    model: Path,
    *,
    database_url: str | None = None,
    console: bool = True,
    telegram: bool = True,
    bare: bool = True,
    proxies: bool = False,
    assistant: AssistantStack | None = None,
) -> Iterator[BenchStack]:
    """Start the assistant plus the parts asked for under `workdir`; stop them all at the end.

    With `assistant` (the test session's, say) its processes are used instead of new ones; with
    proxies too, only the sandbox (by restarting the action server) and Rasa get one.
    """
    with ExitStack() as stack:
        faults = stack.enter_context(_maybe_proxies(proxies))
        if assistant is None:

            def via(name: str, url: str) -> str:
                if not faults:
                    return url
                parts = urlsplit(url)  # the proxy forwards to the server; the path stays in the URL
                return rewrite_base(url, faults.add(name, f"{parts.scheme}://{parts.netloc}"))

            assistant = stack.enter_context(
                start_assistant_stack(workdir, model, database_url=database_url, via=via)
            )
        elif faults:
            stack.enter_context(_sandbox_behind_proxy(assistant, faults))
        rasa_url = faults.add("rasa", assistant.rasa_url).url if faults else assistant.rasa_url
        fake: FakeTelegram | None = None
        loop: BackgroundLoop | None = None
        if telegram:
            # Set up before the bot's supervisor, so the bot is stopped before its API goes away.
            loop = BackgroundLoop("fake-telegram")
            stack.callback(loop.close)
            fake = FakeTelegram(token=TELEGRAM_TOKEN)
            loop.run(fake.start())
            stack.callback(lambda: loop.run(fake.stop()) if loop and fake else None)
        supervisor = stack.enter_context(procs.supervised(workdir / "log-bench", assistant.env))
        bench = BenchStack(
            assistant=assistant,
            supervisor=supervisor,
            rasa_url=rasa_url,
            proxies=faults,
            telegram=fake,
            telegram_loop=loop,
        )
        if bare:
            port = procs.free_port()
            # Bare Rasa calls the action server directly: it is the baseline, not a fault scenario.
            action_url = f"http://127.0.0.1:{assistant.settings.action_server_port}/webhook"
            secret = assistant.action_secret
            supervisor.start(bare_rasa_spec(model, port, action_url, secret, workdir / "bare-rasa"))
            bench.bare_url = f"http://127.0.0.1:{port}"
        if console:
            bench.console_url = _start_console(supervisor, assistant, rasa_url, bench.console_login)
        if fake is not None:
            bot = procs.bot_spec()
            bot.env.update(
                TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
                TELEGRAM_API_BASE=fake.base_url,
                RASA_URL=rasa_url,
                REDIS_URL="",
                PAYCHAT_DEMO_MODE="true",
                TELEGRAM_NOTIFY_INTERVAL_SECONDS="1",
            )
            supervisor.start(bot)
            bench.wait_for_bot()
        yield bench


@contextmanager
def _sandbox_behind_proxy(assistant: AssistantStack, faults: FaultProxies) -> Iterator[None]:
    """Restart the running action server so that it reaches the sandbox through a fault proxy."""
    proxy = faults.add("stripe-sandbox", assistant.stripe_api_base)
    original = assistant.process("action-server")
    proxied = dataclasses.replace(original.spec, env={**original.spec.env, "STRIPE_API_BASE": proxy.url})
    assistant.supervisor.stop(original)
    assistant.supervisor.start(proxied)
    try:
        yield
    finally:
        assistant.supervisor.stop(assistant.process("action-server"))
        assistant.supervisor.start(original.spec)


@contextmanager
def _maybe_proxies(wanted: bool) -> Iterator[FaultProxies | None]:
    if not wanted:
        yield None
        return
    faults = FaultProxies()
    try:
        yield faults
    finally:
        faults.close()


def _start_console(
    supervisor: procs.Supervisor, assistant: AssistantStack, rasa_url: str, login: tuple[str, str]
) -> str:
    port = procs.free_port()
    env = dict(
        assistant.env, CONSOLE_PORT=str(port), CONSOLE_SECRET_KEY=secrets.token_urlsafe(24), RASA_URL=rasa_url
    )
    username, password = login
    procs.run_checked(
        [
            str(procs.APP_PYTHON),
            "-m",
            "console.cli",
            "create-user",
            username,
            "--role",
            "tester",
            "--password",
            password,
        ],
        env=env,
    )
    spec = procs.console_spec("127.0.0.1", port)
    spec.env.update({k: env[k] for k in ("CONSOLE_PORT", "CONSOLE_SECRET_KEY", "RASA_URL")})
    supervisor.start(spec)
    return f"http://127.0.0.1:{port}"
