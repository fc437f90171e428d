"""Attack on the console's test-chat page (console/static/chat.js) when the assistant answers 503
conversation_unreadable (66739e0, d4a3022): the API says "this message was not processed; send it
again in a moment", but the page has already cleared the text box and disabled every button of the
earlier turn ("once anything is sent, earlier buttons are spent"), so a Confirm tap that was not
processed cannot be sent again from the page: the summary's Confirm stays disabled.

The console runs for real (uvicorn, the payments service on the Stripe sandbox) in Debian's
Chromium driven by Playwright, as tests/console/test_console_browser.py; the assistant is the fake
paychat channel, which answers the Confirm exactly as the real channel does when its tracker store
cannot read the conversation.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from payments.service import PaymentsService
from payments.testusers import TestCard
from rasa_client import UNREADABLE_CODE, RasaClient
from scripts import procs
from settings import Settings
from tests.console.conftest import PASSWORD, channel_body
from tests.console.test_console_e2e import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
BUTTONS = [{"title": "Confirm", "payload": "/affirm"}, {"title": "Cancel", "payload": "/deny"}]


@pytest.fixture
def console(payments_service: PaymentsService, tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """The console on a free port (URL, admin name, messages the channel received)."""
    port = procs.free_port()
    settings = Settings(
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=tmp_path,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        PAYCHAT_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    secret = secrets.token_urlsafe(16)
    received: list[str] = []

    def channel(request: httpx.Request) -> httpx.Response:
        message = json.loads(request.content)["message"]
        received.append(message)
        if message == "/affirm" and received.count("/affirm") == 1:
            body = {"error": "could not read the conversation", "code": UNREADABLE_CODE}
            return httpx.Response(503, json=body)
        if message == "/affirm":
            return httpx.Response(200, json=channel_body("Paid.", intent="affirm"))
        return httpx.Response(
            200, json=channel_body("Pay Stadtwerke €7.00?", intent="pay_bill", buttons=BUTTONS)
        )

    rasa = RasaClient("http://rasa.test", secret, 5, transport=httpx.MockTransport(channel))
    services = ConsoleServices(
        session_factory=payments_service.session_factory, assistant=rasa, payments=payments_service
    )
    admin = f"admin-{secrets.token_hex(4)}"
    with payments_service.session_factory.begin() as session:
        create_staff_user(session, username=admin, password=PASSWORD, role=Role.ADMIN)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", admin, received
    server.should_exit = True
    thread.join(timeout=10)


def test_a_confirm_the_assistant_could_not_read_can_be_sent_again_from_the_page(
    console: tuple[str, str, list[str]], payments_service: PaymentsService
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, admin, received = console
    tester = payments_service.create_test_user(name="Page Tester", card=TestCard.SUCCEEDS, created_by="test")
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{url}/login")
            page.fill("input[name=username]", admin)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{url}/chat")
            page.select_option("#test-user", str(tester.id))
            page.fill("#chat-text", "pay my electricity bill")
            page.press("#chat-text", "Enter")
            confirm = page.locator("#chat-log button.quick", has_text="Confirm")
            expect(confirm).to_be_enabled()
            confirm.click()
            expect(page.locator("#chat-error")).to_contain_text("not processed")
            # Told to send it again: the Confirm it could not read can be tapped again.
            expect(confirm).to_be_enabled(timeout=3_000)
            confirm.click()
            expect(page.locator("#chat-log .msg.bot", has_text="Paid.")).to_have_count(1, timeout=5_000)
        finally:
            browser.close()
    assert received == ["pay my electricity bill", "/affirm", "/affirm"]
