"""The console in Debian's Chromium at a phone's width (390 px), driven by Playwright: spent
quick-reply buttons are disabled, a 3-D Secure link in a reply is a safe clickable link, the
customer-facing pages carry the product's name (not the staff console's), no page scrolls
sideways, and /api/docs renders from the console's own assets without asking any other host.

The console runs for real (uvicorn, the payments service on the Stripe sandbox); only the assistant
is the fake paychat channel, so each reply is known in advance.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from console.app import create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from payments.challenge import challenge_url
from payments.demo import VISA_3DS
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.testusers import TestCard
from rasa_client import RasaClient
from scripts import procs
from settings import Settings
from tests.console.conftest import PASSWORD, FakeChannel, channel_body
from tests.console.test_console_e2e import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.factories import make_paying_user

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]
PHONE = {"width": 390, "height": 844}
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class Console:
    """A running console: its address, the fake channel behind it and an admin's username."""

    url: str
    channel: FakeChannel
    admin: str


@pytest.fixture
def console(payments_service: PaymentsService, tmp_path: Path) -> Iterator[Console]:
    """The console served by uvicorn on a free port, with an admin account."""
    port = procs.free_port()
    settings = Settings(
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=tmp_path,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        PAYCHAT_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    channel = FakeChannel(secret=secrets.token_urlsafe(16))
    rasa = RasaClient("http://rasa.test", channel.secret, 5, transport=httpx.MockTransport(channel.handler))
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
    yield Console(url=f"http://127.0.0.1:{port}", channel=channel, admin=admin)
    server.should_exit = True
    thread.join(timeout=10)


def _no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide at {widths[1]} px"


def test_at_390px_buttons_are_spent_links_are_safe_customer_pages_are_branded_and_nothing_scrolls_sideways(
    console: Console, payments_service: PaymentsService
) -> None:
    from playwright.sync_api import expect, sync_playwright

    tester = payments_service.create_test_user(name="Phone Tester", card=TestCard.SUCCEEDS, created_by="test")
    # A real payment waiting for 3-D Secure, and its signed link to the sandbox bank page.
    user_id, bills = make_paying_user(
        payments_service.session_factory, payments_service.gateway, card_number=VISA_3DS
    )
    draft = payments_service.draft_payment(
        user_id=user_id, bill_id=bills["electricity"], amount_text="7", date_text=None
    )
    waiting = payments_service.confirm_payment(
        user_id=user_id, payment_id=draft.payment_id, consent_text="/affirm"
    )
    assert waiting.status == PaymentStatus.REQUIRES_ACTION and waiting.payment_intent_id
    link = challenge_url(
        console.url, payments_service.config.challenge_signing_key, waiting.payment_intent_id
    )
    buttons = [
        {"title": "Confirm", "payload": "/affirm"},
        {"title": "Change", "payload": "/change"},
        {"title": "Cancel", "payload": "/deny"},
    ]
    console.channel.bodies += [
        channel_body("Pay Stadtwerke €7.00 with Visa •••• 3184 today?", intent="pay_bill", buttons=buttons),
        channel_body(
            f"Your bank wants to confirm it: {link}. Not a link: javascript:alert(1) "
            "<img src=x onerror=alert(1)>",
            intent="affirm",
        ),
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE)
            page = context.new_page()
            page.set_default_timeout(30_000)
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None,
            )
            page.goto(f"{console.url}/login")
            _no_sideways_scroll(page)
            page.fill("input[name=username]", console.admin)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{console.url}/chat")

            page.goto(f"{console.url}/chat")
            page.select_option("#test-user", str(tester.id))
            page.fill("#chat-text", "pay my electricity bill")
            page.press("#chat-text", "Enter")
            confirm = page.locator("#chat-log button.quick", has_text="Confirm")
            expect(confirm).to_be_enabled()
            _no_sideways_scroll(page)
            confirm.click()
            expect(page.locator("#chat-log a.reply-link")).to_have_count(1)
            # Spent: every button of the answered turn is disabled, the chosen one marked.
            for title in ("Confirm", "Change", "Cancel"):
                expect(page.locator("#chat-log button.quick", has_text=title)).to_be_disabled()
            expect(page.locator("#chat-log button.quick.chosen")).to_have_text("Confirm")
            sent = [r["message"] for r in console.channel.received]
            assert sent == ["pay my electricity bill", "/affirm"]
            # The session key the page made is a UUID with hyphens (item 13) and was accepted.
            assert len(console.channel.received[0]["sender"].rsplit("-", 5)[-5:]) == 5

            anchor = page.locator("#chat-log a.reply-link")
            assert anchor.get_attribute("href") == link
            assert anchor.get_attribute("target") == "_blank"
            assert "noopener" in (anchor.get_attribute("rel") or "")
            reply = page.locator("#chat-log .msg.bot").nth(1)
            expect(reply).to_contain_text("javascript:alert(1) <img src=x onerror=alert(1)>")
            assert page.locator("#chat-log img").count() == 0
            _no_sideways_scroll(page)
            page.screenshot(path=str(ARTIFACTS / "console-chat-390.png"), full_page=True)

            # The link opens the sandbox bank: the product's name, no staff console, no staff links.
            with context.expect_page() as bank_page_info:
                anchor.click()
            bank = bank_page_info.value
            bank.wait_for_load_state()
            expect(bank.locator("header .brand")).to_have_text("paychat")
            assert "staff console" not in bank.content().lower()
            assert bank.locator("a[href='/transcripts'], a[href='/chat']").count() == 0
            expect(bank.locator("h1")).to_contain_text("Sandbox bank")
            _no_sideways_scroll(bank)
            bank.screenshot(path=str(ARTIFACTS / "sandbox-bank-390.png"), full_page=True)
            bank.click("button[value=authenticate]")
            expect(bank.locator("[role=status]")).to_contain_text("succeeded")
            assert "paychat" in bank.title() and "console" not in bank.title().lower()

            for path in ("/payments/return", "/sandbox/3ds/pi_unknown?sig=00"):
                page.goto(f"{console.url}{path}")
                assert "staff console" not in page.content().lower(), path
                expect(page.locator("header .brand")).to_have_text("paychat")
                _no_sideways_scroll(page)

            for path in (
                "/transcripts",
                "/payments",
                f"/payments/{draft.payment_id}",
                "/test-users",
                "/approvals",
                "/staff",
            ):
                page.goto(f"{console.url}{path}")
                _no_sideways_scroll(page)

            page.goto(f"{console.url}/api/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("paychat staff console")
            expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
            assert outside == [], outside
        finally:
            browser.close()
