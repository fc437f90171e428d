"""The console against the real assistant (assistant_stack): the JSON API and a real browser.

Each test chats as a fresh demo-mode test user with its own copy of the demo bills, so paying the
electricity bill here never takes it away from Alex Demo, whom other end-to-end tests pay with.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import update

from console.app import create_app
from console.roles import Role
from console.staff import create_staff_user
from db.engine import make_engine, make_session_factory
from db.models import User
from payments.service import build_service
from scripts import procs

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
STAFF_PASSWORD = "console-e2e-password"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def console_url(assistant_stack) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The console app (real services from settings) served by uvicorn in a thread, plus a tester."""
    engine = make_engine(assistant_stack.database_url)
    with make_session_factory(engine).begin() as session:
        create_staff_user(session, username="e2e-tester", password=STAFF_PASSWORD, role=Role.TESTER)
    engine.dispose()
    settings = assistant_stack.settings.model_copy(update={"console_secret_key": secrets.token_urlsafe(32)})
    port = procs.free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def fresh_test_user(assistant_stack, name: str) -> int:  # type: ignore[no-untyped-def]
    """A new demo-mode user (demo bills, succeeding Visa 4242) flagged as a test user."""
    service = build_service(assistant_stack.settings)
    user = service.ensure_telegram_user(
        telegram_user_id=700_000_000 + secrets.randbelow(99_999_999), name=name, language_code="en"
    )
    with service.session_factory.begin() as session:
        session.execute(update(User).where(User.id == user.id).values(is_test=True))
    return user.id


def test_api_chat_pays_a_bill_and_the_transcript_shows_it(assistant_stack, console_url: str) -> None:  # type: ignore[no-untyped-def]
    user_id = fresh_test_user(assistant_stack, "API Tester")
    with httpx.Client(base_url=console_url, timeout=90) as http:
        login = http.post("/api/login", json={"username": "e2e-tester", "password": STAFF_PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}

        def chat(text: str) -> dict:  # type: ignore[type-arg]
            response = http.post(
                "/api/chat", json={"session": "e2e_api", "text": text, "user_id": user_id}, headers=headers
            )
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        summary = chat("pay my electricity bill")
        assert summary["parse"]["intent"]["name"] == "pay_bill"
        assert summary["parse"]["ranking"] and summary["actions"]
        assert summary["payment"]["status"] == "draft"
        confirm = next(b for r in summary["replies"] for b in r["buttons"] if b["title"] == "Confirm")
        receipt = chat(confirm["payload"])
        assert receipt["payment"] == {
            "payment_id": summary["payment"]["payment_id"],
            "status": "succeeded",
            "previous_status": "draft",
        }
        assert "Stadtwerke" in " ".join(r["text"] or "" for r in receipt["replies"])
        assert http.post("/api/chat", json={"session": "x", "text": ""}, headers=headers).status_code == 422

        transcript = http.get(f"/api/transcripts/{receipt['conversation_id']}").json()
        assert transcript["summary"]["is_test"] is True
        assert transcript["summary"]["sender_id"] == f"console-{user_id}-e2e_api"
        assert [t["user_text"] for t in transcript["turns"]] == ["pay my electricity bill", "/affirm"]
        assert [t["payment_status"] for t in transcript["turns"]] == ["draft", "succeeded"]
        listed = http.get("/api/transcripts", params={"payment_status": "succeeded", "kind": "test"}).json()
        assert receipt["conversation_id"] in [c["id"] for c in listed]


@pytest.mark.browser
def test_browser_pays_the_electricity_bill_and_opens_its_transcript(
    assistant_stack, console_url: str
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    user_id = fresh_test_user(assistant_stack, "Browser Tester")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(90_000)
            page.goto(f"{console_url}/chat")
            expect(page).to_have_url(f"{console_url}/login?next=%2Fchat")
            page.fill("input[name=username]", "e2e-tester")
            page.fill("input[name=password]", STAFF_PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{console_url}/chat")

            page.select_option("#test-user", str(user_id))
            page.fill("#chat-text", "pay my electricity bill")
            page.press("#chat-text", "Enter")
            confirm = page.locator("#chat-log button.quick", has_text="Confirm")
            expect(confirm).to_be_visible()
            expect(page.locator("#chat-log .msg.bot").first).to_contain_text("Stadtwerke")
            expect(page.locator("#chat-log .badge.intent").first).to_contain_text("pay_bill")
            confirm.click()
            expect(page.locator("#chat-log .badge.pay", has_text="draft → succeeded")).to_be_visible()

            page.click("#transcript-link")
            expect(page.locator("h1")).to_contain_text("Conversation #")
            expect(page.locator(".badge.test")).to_be_visible()
            expect(page.locator(".turn")).to_have_count(2)
            expect(page.locator(".turn").nth(1).locator(".badge.pay")).to_contain_text("draft → succeeded")
            page.locator(".turn details").first.evaluate("d => d.open = true")
            page.screenshot(path=str(ARTIFACTS / "console-transcript.png"), full_page=True)
        finally:
            browser.close()


def test_a_reset_test_user_reruns_a_script_from_a_clean_state(assistant_stack, console_url: str) -> None:  # type: ignore[no-untyped-def]
    """Create a test user over the API, leave a payment pending in a conversation, reset the user:
    the same session key then talks to an empty tracker (Rasa restarted it) and no payment is left."""
    with httpx.Client(base_url=console_url, timeout=90) as http:
        login = http.post("/api/login", json={"username": "e2e-tester", "password": STAFF_PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        created = http.post("/api/test-users", json={"name": "Script Runner"}, headers=headers)
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        session = "5d0f4d3a-9a43-4d0e-8d7b-3b7f1c2e9a10"  # a client's UUID key

        def chat(text: str) -> dict:  # type: ignore[type-arg]
            response = http.post(
                "/api/chat", json={"session": session, "text": text, "user_id": user_id}, headers=headers
            )
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        summary = chat("pay my electricity bill")
        assert summary["payment"]["status"] == "draft"
        assert summary["slots"].get("pending_payment_id")

        reset = http.post(f"/api/test-users/{user_id}/reset", headers=headers)
        assert reset.status_code == 200, reset.text
        assert reset.json()["removed"]["payments"] == 1
        assert reset.json()["conversations_restarted"] == 1

        after = chat("/affirm")  # the old summary's Confirm: nothing is pending any more
        assert after["payment"] is None
        assert not after["slots"].get("pending_payment_id")
        listed = http.get("/api/payments", params={"user_id": user_id}).json()
        assert listed == []
