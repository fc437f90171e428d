"""Issue 12 review: Rasa answering 503 `conversation_unreadable` (its tracker store failed to read the
conversation; rasa_project/channels/paychat_channel.py, checked against the real Rasa in
tests/attack12r/test_tracker_store_stack.py) is a clear "not processed, try again" at both edges:
the console's JSON API and the Telegram bot. A loopback HTTP server answers like the channel.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from bot import texts
from bot.app import build_application
from bot.services import BotServices
from console.app import create_app
from console.services import ConsoleServices
from rasa_client import RasaClient
from settings import Settings
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.console.conftest import Seed, login
from tests.helpers.fake_telegram import polling

UNREADABLE = {"error": "could not read the conversation", "code": "conversation_unreadable"}


class _Unreadable(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps(UNREADABLE).encode()
        self.send_response(503)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def unreadable_rasa() -> Iterator[str]:
    """The base URL of a server answering every message like the channel when the store fails."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unreadable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_console_says_the_conversation_could_not_be_read(
    console_settings: Settings, session_factory: sessionmaker[Session], seed: Seed, unreadable_rasa: str
) -> None:
    assistant = RasaClient(unreadable_rasa, "s", 5.0)
    services = ConsoleServices(session_factory=session_factory, assistant=assistant)
    with TestClient(create_app(console_settings, services), follow_redirects=False) as client:
        headers = {"X-CSRF-Token": login(client, "tester")}
        response = client.post("/api/chat", json={"session": "s1", "text": "hello"}, headers=headers)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "could not read the conversation" in detail and "not processed" in detail, detail
    assert response.headers.get("retry-after") == "5"


async def test_the_bot_says_the_conversation_could_not_be_read_and_offers_a_retry(
    fake: FakeTelegram, directory: RecordingDirectory, unreadable_rasa: str
) -> None:
    user = 626010
    client = RasaClient(unreadable_rasa, "s", 5.0)
    services = BotServices(assistant=client, users=directory, session_factory=None)
    async with polling(build_application(bot_settings(fake), services)):
        await fake.send_text(user, "pay my phone bill")
        [answer] = await fake.wait_for_messages(user, 1)
    await client.aclose()
    assert answer["text"] == texts.CONVERSATION_UNREADABLE
    [[retry]] = answer["reply_markup"]["inline_keyboard"]
    assert retry["text"] == texts.TRY_AGAIN
