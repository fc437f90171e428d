"""Fixtures: the Stripe sandbox (localstripe as a subprocess) and a PaymentsService on it.

localstripe is GPL: it runs as a separate process of the app environment, never imported here.
Started through its aiohttp app on 127.0.0.1 (its own CLI binds every interface) and on a free
port, so it neither clashes with `make run` nor loads another sandbox's saved state.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from db.engine import make_session_factory
from payments.demo import load_demo_data
from payments.service import PaymentsService, ServiceConfig
from payments.stripe_gateway import StripeGateway
from scripts import procs

SANDBOX_KEY = "sk_test_paychat_tests"


def reset_sandbox(base_url: str) -> None:
    """Forget every object in the sandbox."""
    request = urllib.request.Request(f"{base_url}/_config/data", method="DELETE")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture(scope="session")
def stripe_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a fresh localstripe running for this test session (started as `make run` does)."""
    port = procs.free_port()
    with procs.supervised(tmp_path_factory.mktemp("sandbox-log"), procs.base_env()) as supervisor:
        supervisor.start(procs.sandbox_spec(port))
        base_url = f"http://127.0.0.1:{port}"
        reset_sandbox(base_url)
        yield base_url


def sandbox_gateway(base_url: str, *, timeout_seconds: float = 10.0) -> StripeGateway:
    """A StripeGateway talking to the sandbox at `base_url`."""
    return StripeGateway(
        api_key=SANDBOX_KEY, api_base=base_url, timeout_seconds=timeout_seconds, sandbox=True
    )


@pytest.fixture(scope="session")
def payments_service(db_engine: Engine, stripe_sandbox: str) -> PaymentsService:
    """A PaymentsService on the test database and the sandbox, with the demo data loaded."""
    gateway = sandbox_gateway(stripe_sandbox)
    session_factory = make_session_factory(db_engine)
    load_demo_data(session_factory, gateway)
    return PaymentsService(session_factory=session_factory, gateway=gateway, config=ServiceConfig())


class SilentServer:
    """A TCP server that accepts connections and never answers: a sandbox that stopped responding."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = int(self._sock.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        """The address to point a client at."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        """Stop accepting and drop every held connection."""
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A server that accepts and never answers (for timeout tests)."""
    server = SilentServer()
    yield server
    server.close()
