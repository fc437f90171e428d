"""The real action server process answers only Rasa: the shared secret, JSON, loopback (issue 10, item 1).

Each refused call is a whole attack as the issue describes it: draft a payment for a demo user with
`action_prepare_payment`, then charge it with `action_confirm_payment`. Nothing may run: no payment
row for that user and no new PaymentIntent in the sandbox.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from db.models import User

pytestmark = pytest.mark.e2e

BROWSER_ORIGIN = "http://attacker.example"


def _user_id(stack: Any, name: str) -> int:
    """The id of the user called `name` (names are encrypted at rest: compared after reading)."""
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            [user_id] = [user.id for user in session.scalars(select(User)) if user.name == name]
            return int(user_id)
    finally:
        engine.dispose()


def _payments_of(stack: Any, user_id: int) -> list[tuple[int, str]]:
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, status FROM payments WHERE user_id = :u ORDER BY id"), {"u": user_id}
            )
            return [(int(row.id), str(row.status)) for row in rows]
    finally:
        engine.dispose()


def _payment_intents(stack: Any) -> int:
    response = httpx.get(
        f"{stack.stripe_api_base}/v1/payment_intents",
        params={"limit": 100},
        headers={"Authorization": "Bearer sk_test_paychat_sandbox"},
        timeout=10,
    )
    response.raise_for_status()
    return len(response.json()["data"])


def _domain() -> dict[str, Any]:
    from ruamel.yaml import YAML

    path = Path(__file__).resolve().parents[2] / "rasa_project" / "domain.yml"
    loaded: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return loaded


def action_call(action: str, sender_id: str, slots: dict[str, Any], text_said: str = "") -> dict[str, Any]:
    """A rasa-sdk action call as Rasa 3.6 sends it (next_action, sender_id, tracker, domain, version)."""
    latest = {"text": text_said, "intent": {"name": "affirm", "confidence": 1.0}, "entities": []}
    return {
        "next_action": action,
        "sender_id": sender_id,
        "version": "3.6.21",
        "domain": _domain(),  # Rasa sends its domain on the first call of a session
        "tracker": {
            "sender_id": sender_id,
            "slots": slots,
            "latest_message": latest,
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def _post(
    stack: Any, body: dict[str, Any], headers: dict[str, str], *, as_text: bool = False
) -> httpx.Response:
    if as_text:
        return httpx.post(
            stack.action_url,
            content=json.dumps(body),
            headers={"content-type": "text/plain", **headers},
            timeout=30,
        )
    return httpx.post(stack.action_url, json=body, headers=headers, timeout=30)


def _attack(stack: Any, sender_id: str, headers: dict[str, str], *, as_text: bool) -> list[httpx.Response]:
    """Prepare a payment, then confirm it with whatever id the prepare step gave (or a guess)."""
    slots = {"biller": "water", "amount": "1", "date": None}
    prepared = _post(stack, action_call("action_prepare_payment", sender_id, slots), headers, as_text=as_text)
    pending = "1"
    if prepared.status_code == 200:
        for event in prepared.json().get("events", []):
            if event.get("name") == "pending_payment_id" and event.get("value"):
                pending = str(event["value"])
    confirm_slots = {**slots, "pending_payment_id": pending, "payment_summary": "anything"}
    confirmed = _post(
        stack,
        action_call("action_confirm_payment", sender_id, confirm_slots, "/affirm"),
        headers,
        as_text=as_text,
    )
    return [prepared, confirmed]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no credentials", 401),
        ("wrong secret", 403),
        ("empty bearer", 401),
        ("basic instead of bearer", 401),
        ("secret as a query token", 401),
        ("text/plain with the secret", 415),
        ("browser: text/plain with an Origin", 401),
        ("browser: the secret with an Origin", 403),
    ],
)
def test_action_server_refuses_callers_without_the_secret(assistant_stack, case: str, expected: int) -> None:
    stack = assistant_stack
    secret = stack.action_secret
    sam = _user_id(stack, "Sam Secure")
    sender = f"console-{sam}-attack"
    headers: dict[str, str] = {
        "no credentials": {},
        "wrong secret": _bearer(secret[:-1] + ("x" if secret[-1] != "x" else "y")),
        "empty bearer": {"Authorization": "Bearer"},
        "basic instead of bearer": {"Authorization": "Basic " + secret},
        "secret as a query token": {},
        "text/plain with the secret": _bearer(secret),
        "browser: text/plain with an Origin": {"Origin": BROWSER_ORIGIN},
        "browser: the secret with an Origin": {**_bearer(secret), "Origin": BROWSER_ORIGIN},
    }[case]
    if case == "secret as a query token":
        stack = _with_url(stack, f"{stack.action_url}?token={secret}")
    before_payments, before_intents = _payments_of(stack, sam), _payment_intents(stack)

    responses = _attack(stack, sender, headers, as_text=case.startswith(("text/plain", "browser: text")))

    assert [r.status_code for r in responses] == [expected, expected], [r.text for r in responses]
    for response in responses:
        assert "access-control-allow-origin" not in response.headers
        assert "events" not in response.text
    assert _payments_of(stack, sam) == before_payments
    assert _payment_intents(stack) == before_intents


def test_a_browser_preflight_gets_no_cors_permission(assistant_stack) -> None:
    response = httpx.options(
        assistant_stack.action_url,
        headers={
            "Origin": BROWSER_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
    )
    assert response.status_code in (401, 403)
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_with_the_secret_the_action_server_runs_actions_like_rasa_calls_them(assistant_stack) -> None:
    stack = assistant_stack
    alex = _user_id(stack, "Alex Demo")
    sender = f"console-{alex}-as_rasa"
    headers = _bearer(stack.action_secret)
    prepared = _post(
        stack, action_call("action_prepare_payment", sender, {"biller": "water", "amount": "1"}), headers
    )
    assert prepared.status_code == 200, prepared.text
    slots = {e["name"]: e["value"] for e in prepared.json()["events"] if e.get("event") == "slot"}
    assert slots.get("pending_payment_id"), [r.get("response") for r in prepared.json()["responses"]]
    stopped = _post(stack, action_call("action_stop_payment", sender, slots, "/stop"), headers)
    assert stopped.status_code == 200, stopped.text
    payment_id = int(slots["pending_payment_id"])
    assert (payment_id, "cancelled") in _payments_of(stack, alex)
    listed = httpx.get(stack.action_url.replace("/webhook", "/actions"), headers=headers, timeout=10)
    assert listed.status_code == 200 and {"name": "action_confirm_payment"} in listed.json()


def test_only_health_answers_without_the_secret(assistant_stack) -> None:
    base = assistant_stack.action_url.removesuffix("/webhook")
    assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    assert httpx.get(f"{base}/actions", timeout=10).status_code == 401


def test_action_server_listens_on_loopback_only(assistant_stack) -> None:
    port = urlsplit(assistant_stack.action_url).port
    assert port is not None
    listening = _listening_addresses(port)
    assert listening, f"nothing listens on port {port}"
    assert listening <= {"127.0.0.1", "::1"}, listening


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on `port` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table, size in (("tcp", 4), ("tcp6", 16)):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, size, 4))
            found.add(str(ipaddress.ip_address(words)))
    return found


class _Rebased:
    """The stack with another action URL (for a query-string variant of the call)."""

    def __init__(self, stack: Any, url: str) -> None:
        self._stack = stack
        self.action_url = url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stack, name)


def _with_url(stack: Any, url: str) -> Any:
    return _Rebased(stack, url)
