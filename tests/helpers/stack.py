"""The whole assistant for end-to-end tests: sandbox, database, action server and Rasa server.

Started once per test session with the very process specs `make run` uses (scripts/procs.py), on
free loopback ports, with the trained model for this checkout and a fresh SQLite database holding
the demo data.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rasa_client import AssistantTurn, RasaClient, turn_from_json
from scripts import procs
from scripts.train import current_model_path
from settings import Settings


@dataclass
class AssistantStack:
    """Addresses and settings of a running assistant; `supervisor` can stop/start its parts."""

    rasa_url: str
    rasa_secret: str
    action_url: str
    action_secret: str
    database_url: str
    stripe_api_base: str
    settings: Settings
    supervisor: procs.Supervisor
    model: Path
    env: dict[str, str]

    def rasa_client(self, timeout_seconds: float = 60.0) -> RasaClient:
        """A client for this stack's Rasa server (close it with `await client.aclose()`)."""
        return RasaClient(self.rasa_url, self.rasa_secret, timeout_seconds)

    def process(self, name: str) -> procs.RunningProcess:
        """The running child called `name` (e.g. "rasa", "action-server")."""
        return next(p for p in self.supervisor.running if p.spec.name == name)

    def restart(self, name: str) -> None:
        """Stop the child `name` and start it again (waits for its health check)."""
        proc = self.process(name)
        self.supervisor.stop(proc)
        self.supervisor.start(proc.spec)


CONSOLE_TESTER = ("e2e_tester", "e2e-tester-password-1")


@dataclass
class ConsoleAPI:
    """The staff console's JSON API as an API client (HTTP Basic, role tester) uses it."""

    base_url: str

    def chat(
        self, session: str, message: str, user_id: int | None = None, shown_text: str | None = None
    ) -> dict[str, Any]:
        """POST /api/chat and return the JSON answer (asserting 200)."""
        response = httpx.post(
            f"{self.base_url}/api/chat",
            json=_chat_body(session, message, user_id, shown_text),
            auth=CONSOLE_TESTER,
            timeout=90,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def achat(
        self, session: str, message: str, user_id: int | None = None, shown_text: str | None = None
    ) -> AssistantTurn:
        """POST /api/chat from async code; return the answer as an AssistantTurn.

        `shown_text`: for a button tap, the reply the button was under (as the console's page sends it).
        """
        async with httpx.AsyncClient(timeout=90, auth=CONSOLE_TESTER) as client:
            response = await client.post(
                f"{self.base_url}/api/chat", json=_chat_body(session, message, user_id, shown_text)
            )
        assert response.status_code == 200, response.text
        return turn_from_json(response.json())


def _chat_body(
    session: str, message: str, user_id: int | None, shown_text: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"session": session, "text": message}
    if user_id is not None:
        body["user_id"] = user_id
    if shown_text is not None:
        body["shown_text"] = shown_text
    return body


@pytest.fixture(scope="session")
def console_api(
    assistant_stack: AssistantStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleAPI]:
    """The console process, started as `make run` starts it, bound to the test stack."""
    port = procs.free_port()
    env = dict(assistant_stack.env, CONSOLE_PORT=str(port), CONSOLE_SECRET_KEY=secrets.token_urlsafe(24))
    username, password = CONSOLE_TESTER
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
    with procs.supervised(tmp_path_factory.mktemp("console-log"), env) as supervisor:
        supervisor.start(procs.console_spec("127.0.0.1", port))
        yield ConsoleAPI(f"http://127.0.0.1:{port}")


@pytest.fixture(scope="session")
def assistant_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AssistantStack]:
    """Start the real assistant once for the session; skip nothing: a missing model is an error."""
    model = current_model_path()
    if not model.exists():
        pytest.fail(f"no trained model for this checkout ({model}); run `make train` (make test does)")
    with start_assistant_stack(tmp_path_factory.mktemp("stack"), model) as stack:
        yield stack


@contextmanager
def start_assistant_stack(
    workdir: Path,
    model: Path,
    *,
    database_url: str | None = None,
    via: Callable[[str, str], str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[AssistantStack]:
    """Start sandbox, demo database, action server and Rasa server on free ports under `workdir`.

    `database_url` defaults to a SQLite file in `workdir`. `via(name, url)` may return another
    address through which the others reach the sandbox ("stripe-sandbox") or the action server
    ("action-server"): the benchmarks put fault-injecting proxies there. `extra_env` overrides
    settings for every process (tests/e2e/test_step_up.py turns one-time codes and risk checks on).
    """
    sandbox_port, action_port, rasa_port = procs.free_port(), procs.free_port(), procs.free_port()
    secret = secrets.token_urlsafe(24)
    action_secret = secrets.token_urlsafe(32)
    database_url = database_url or f"sqlite:///{workdir / 'paychat.db'}"
    route = via or (lambda _name, url: url)
    stripe_base = route("stripe-sandbox", f"http://127.0.0.1:{sandbox_port}")
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    action_url = route("action-server", f"http://127.0.0.1:{action_port}/webhook")
    env = procs.base_env(
        {
            "PAYCHAT_ENV": "test",
            "PAYCHAT_VAR_DIR": str(workdir),
            "DATABASE_URL": database_url,
            "STRIPE_API_KEY": "",
            "STRIPE_API_BASE": stripe_base,
            "STRIPE_SANDBOX_PORT": str(sandbox_port),
            "RASA_URL": rasa_url,
            "RASA_SHARED_SECRET": secret,
            "ACTION_SERVER_PORT": str(action_port),
            "ACTION_SERVER_SECRET": action_secret,
            # The stack is a demo, as `make run` starts it: a new Telegram user gets demo bills.
            "PAYCHAT_DEMO_MODE": "true",
            # Conversations here pay at once; the time lock has its own tests (tests/payments,
            # tests/actions/test_safety_controls.py).
            "PAYCHAT_TIME_LOCK_MINUTES": "0",
            # Likewise no one-time codes and no risk check (a rent of 950.00 would ask for a code):
            # they have their own stack in tests/e2e/test_step_up.py.
            "PAYCHAT_STEP_UP_MINOR": "0",
            "PAYCHAT_RISK_ENABLED": "false",
            **(extra_env or {}),
        }
    )
    settings = Settings(
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=workdir,
        DATABASE_URL=database_url,
        STRIPE_API_BASE=stripe_base,
        STRIPE_SANDBOX_PORT=sandbox_port,
        RASA_URL=rasa_url,
        RASA_SHARED_SECRET=secret,
        ACTION_SERVER_PORT=action_port,
        ACTION_SERVER_SECRET=action_secret,
        PAYCHAT_DEMO_MODE=True,
        PAYCHAT_TIME_LOCK_MINUTES=0,
        PAYCHAT_STEP_UP_MINOR=0,
        PAYCHAT_RISK_ENABLED=False,
    )
    if extra_env:
        settings = Settings(**{**settings.model_dump(by_alias=True), **extra_env})
    with procs.supervised(workdir / "log", env) as supervisor:
        supervisor.start(procs.sandbox_spec(sandbox_port))
        procs.run_checked([str(procs.APP_PYTHON), "-m", "payments.demo"], env=env)
        supervisor.start(procs.action_server_spec(action_port))
        supervisor.start(procs.rasa_spec(model, rasa_port, action_url, workdir / "rasa-tracker.db"))
        yield AssistantStack(
            rasa_url=rasa_url,
            rasa_secret=secret,
            action_url=action_url,
            action_secret=action_secret,
            database_url=database_url,
            stripe_api_base=stripe_base,
            settings=settings,
            supervisor=supervisor,
            model=model,
            env=env,
        )
