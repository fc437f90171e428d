"""attack12b: a console message Rasa received but never answered (AssistantNoAnswerError, issue 12).

The change tells the Telegram user "I can't tell whether I did it" for such a call, but the console
still maps it (a subclass of AssistantUnavailableError) to "the assistant is unreachable (Rasa or
the action server is down); try again": false (Rasa was reached and may have acted, e.g. charged a
confirmed payment) and an invitation to send a confirmation twice.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from console.app import create_app
from console.services import ConsoleServices
from rasa_client import RasaClient
from settings import Settings
from tests.console.conftest import Seed, login


def _length(data: bytes) -> int:
    """The Content-Length of a request whose headers are in `data` (bytes)."""
    found = re.search(rb"content-length: *(\d+)", data, re.IGNORECASE)
    return int(found.group(1)) if found else 0


@pytest.fixture
def silent_rasa() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback HTTP server that reads each request (Rasa got it) and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(2.0)
            data = b""
            try:
                while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            received.append(data)
            held.append(conn)  # keep it open, answer nothing

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_message_rasa_got_but_never_answered_is_not_called_unreachable(
    console_settings: Settings,
    session_factory: sessionmaker[Session],
    seed: Seed,
    silent_rasa: tuple[str, list[bytes]],
) -> None:
    url, received = silent_rasa
    assistant = RasaClient(url, "s", 0.5)
    services = ConsoleServices(session_factory=session_factory, assistant=assistant)
    with TestClient(create_app(console_settings, services), follow_redirects=False) as client:
        headers = {"X-CSRF-Token": login(client, "tester")}
        response = client.post("/api/chat", json={"session": "s1", "text": "confirm"}, headers=headers)
    assert received and b"confirm" in received[0]  # Rasa did get the message
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "unreachable" not in detail and "down" not in detail, detail
