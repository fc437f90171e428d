"""Every console route refuses anyone without its role; CSRF, login and logout behave."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from console import (
    api,
    approvals,
    docs,
    mandates_view,
    payments_view,
    stripe_routes,
    testusers,
    transcript_export,
    views,
)
from console.roles import Role
from tests.console.conftest import PASSWORD, Seed, csrf_of, login


@dataclass(frozen=True)
class Route:
    """A protected route, the least role it needs, and a request body that would be accepted."""

    method: str
    path: str
    role: Role
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


PROTECTED = [
    Route("GET", "/", Role.VIEWER),
    Route("GET", "/transcripts", Role.VIEWER),
    Route("GET", "/transcripts/999", Role.VIEWER),
    Route("POST", "/logout", Role.VIEWER, form={}),
    Route("GET", "/chat", Role.TESTER),
    Route("GET", "/staff", Role.ADMIN),
    Route(
        "POST",
        "/staff",
        Role.ADMIN,
        form={"username": "newbie", "password": "long enough pw", "role": "viewer"},
    ),
    Route("POST", "/staff/1/active", Role.ADMIN, form={"active": "1"}),
    Route("GET", "/metrics", Role.VIEWER),
    Route("GET", "/api/me", Role.VIEWER),
    Route("GET", "/api/transcripts", Role.VIEWER),
    Route("GET", "/api/transcripts/999", Role.VIEWER),
    Route("GET", "/api/transcripts.csv", Role.VIEWER),
    Route("GET", "/api/transcripts.json", Role.VIEWER),
    Route("GET", "/api/openapi.json", Role.VIEWER),
    Route("GET", "/api/docs", Role.VIEWER),
    Route("GET", "/api/docs/assets/swagger-ui.css", Role.VIEWER),
    Route("POST", "/api/logout", Role.VIEWER, body={}),
    Route("GET", "/api/test-users", Role.TESTER),
    Route("POST", "/api/chat", Role.TESTER, body={"session": "s1", "text": "hello"}),
    # Second approval of large payments: admins only (payment 999 does not exist: a 404 once admitted).
    Route("GET", "/approvals", Role.ADMIN),
    Route("POST", "/approvals/999/approve", Role.ADMIN, form={}),
    Route("POST", "/approvals/999/reject", Role.ADMIN, form={"reason": "looks wrong"}),
    Route("GET", "/api/approvals", Role.ADMIN),
    Route("POST", "/api/approvals/999/approve", Role.ADMIN, body={}),
    Route("POST", "/api/approvals/999/reject", Role.ADMIN, body={"reason": "looks wrong"}),
    # Payments: everyone reads, only admins refund (payment 999 does not exist: 404 once admitted).
    Route("GET", "/payments", Role.VIEWER),
    Route("GET", "/payments/999", Role.VIEWER),
    Route("GET", "/risk", Role.VIEWER),  # issue 13: payments the risk check flagged
    Route(
        "POST",
        "/payments/999/refund",
        Role.ADMIN,
        form={"idempotency_key": "key-12345678", "currency": "EUR", "amount": ""},
    ),
    Route("GET", "/api/payments", Role.VIEWER),
    Route("GET", "/api/payments/999", Role.VIEWER),
    Route("POST", "/api/payments/999/refunds", Role.ADMIN, body={"idempotency_key": "key-12345678"}),
    # Only admins cancel a payment held by its time lock.
    Route("POST", "/payments/999/cancel", Role.ADMIN, form={"reason": "asked by phone"}),
    Route("POST", "/api/payments/999/cancel", Role.ADMIN, body={"reason": "asked by phone"}),
    # Test users: testers and up (user 999 does not exist; the bodies are refused once admitted).
    Route("GET", "/test-users", Role.TESTER),
    Route("POST", "/test-users", Role.TESTER, form={"name": "  "}),
    Route("POST", "/test-users/999/reset", Role.TESTER, form={}),
    Route("POST", "/api/test-users", Role.TESTER, body={"name": "x", "card": "amex"}),
    Route("POST", "/api/test-users/999/reset", Role.TESTER, body={}),
    # Standing mandates: everyone reads, only admins pause, resume or revoke (mandate 999: 404 once admitted).
    Route("GET", "/mandates", Role.VIEWER),
    Route("GET", "/api/mandates", Role.VIEWER),
    Route("POST", "/mandates/999/status", Role.ADMIN, form={"status": "paused", "reason": "fraud"}),
    Route("POST", "/api/mandates/999/status", Role.ADMIN, body={"status": "paused", "reason": "fraud"}),
]
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/login"),
    # Stripe and customers, never staff: each checks its own proof (tests/console/test_stripe_routes.py).
    ("POST", "/stripe/webhook"),
    ("GET", "/sandbox/3ds/{payment_intent_id}"),
    ("POST", "/sandbox/3ds/{payment_intent_id}"),
    ("GET", "/payments/return"),
}


ROUTERS = (
    views,
    api,
    docs,
    approvals,
    stripe_routes,
    payments_view,
    testusers,
    transcript_export,
    mandates_view,
)


def _template(path: str) -> str:
    if "/approvals/" in path:
        return path.replace("/999/", "/{payment_id}/")
    if "/payments/" in path:
        return path.replace("/999", "/{payment_id}")
    if "/assets/" in path:
        return path.rsplit("/", 1)[0] + "/{name}"
    if "/mandates/" in path:
        return path.replace("/999", "/{mandate_id}")
    if "/test-users/" in path:
        return path.replace("/999", "/{user_id}")
    return path.replace("/999", "/{conversation_id}").replace("/1/", "/{staff_id}/")


def test_every_route_is_in_the_access_table(client: TestClient) -> None:
    """A new route without an entry here (and so without a tested role check) fails this test."""
    declared = {(r.method, _template(r.path)) for r in PROTECTED} | PUBLIC
    served = {
        (method, route.path)
        # FastAPI keeps included routers as opaque entries, so read the routers themselves.
        for route in [*client.app.routes, *(r for m in ROUTERS for r in m.router.routes)]  # type: ignore[attr-defined]
        if isinstance(route, APIRoute)
        for method in route.methods - {"HEAD"}
    }
    assert served == declared


def _call(client: TestClient, route: Route, csrf: str) -> Any:
    headers = {"X-CSRF-Token": csrf} if route.body is not None else {}
    form = None if route.form is None else {**route.form, "csrf_token": csrf}
    return client.request(route.method, route.path, json=route.body, data=form, headers=headers)


@pytest.mark.parametrize("actor", [None, *Role], ids=lambda a: a.value if a else "anonymous")
@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
def test_route_admits_only_its_roles(
    client: TestClient, seed: Seed, route: Route, actor: Role | None
) -> None:
    csrf = login(client, actor.value) if actor else csrf_of(client)
    response = _call(client, route, csrf)
    if actor is None:
        if route.is_api:
            assert response.status_code == 401
        else:
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
    elif not actor.allows(route.role):
        assert response.status_code == 403
    else:
        assert response.status_code not in (401, 403), response.text
        assert not response.headers.get("location", "").startswith("/login?next=")


@pytest.mark.parametrize("route", [r for r in PROTECTED if r.method == "POST"], ids=lambda r: r.path)
def test_unsafe_routes_refuse_a_missing_or_wrong_csrf_token(
    client: TestClient, seed: Seed, route: Route
) -> None:
    login(client, "admin")
    for token in (None, "wrong-token"):
        headers = {"X-CSRF-Token": token} if token and route.body is not None else {}
        form = None if route.form is None else {**route.form, **({"csrf_token": token} if token else {})}
        response = client.request(route.method, route.path, json=route.body, data=form, headers=headers)
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert client.get("/api/me").status_code == 200  # still logged in: nothing happened


def test_login_form_refuses_a_missing_csrf_token(client: TestClient, seed: Seed) -> None:
    csrf_of(client)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/api/me").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(client: TestClient, seed: Seed) -> None:
    for username, password in (("admin", "wrong password"), ("nobody", PASSWORD)):
        response = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": csrf_of(client)}
        )
        assert response.status_code == 401
        assert "Invalid username or password." in response.text
    assert client.get("/api/me").status_code == 401


def test_login_sets_a_hardened_cookie_and_logout_ends_the_session(client: TestClient, seed: Seed) -> None:
    anonymous_csrf = csrf_of(client)
    response = client.post(
        "/login",
        data={"username": "tester", "password": PASSWORD, "csrf_token": anonymous_csrf, "next": "/chat"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/chat"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/api/me").json() == {"username": "tester", "role": "tester"}
    csrf = csrf_of(client, "/chat")
    assert csrf != anonymous_csrf  # a fresh session at login: no fixation
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert client.get("/api/me").status_code == 401
    assert client.get("/chat").status_code == 303


def test_login_never_redirects_off_site(client: TestClient, seed: Seed) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/login",
            data={"username": "viewer", "password": PASSWORD, "csrf_token": csrf_of(client), "next": target},
        )
        assert response.headers["location"] == "/"


def test_a_deactivated_account_loses_its_session(client: TestClient, seed: Seed) -> None:
    login(client, "tester")
    other = TestClient(client.app, follow_redirects=False)  # type: ignore[arg-type]
    admin_csrf = login(other, "admin")
    response = other.post(
        f"/staff/{seed.staff[Role.TESTER]}/active", data={"active": "0", "csrf_token": admin_csrf}
    )
    assert response.status_code == 200
    assert client.get("/api/me").status_code == 401
    bad = client.post(
        "/login", data={"username": "tester", "password": PASSWORD, "csrf_token": csrf_of(client)}
    )
    assert bad.status_code == 401


def _basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def test_http_basic_authenticates_api_calls_without_csrf(client: TestClient, seed: Seed) -> None:
    response = client.post(
        "/api/chat", json={"session": "b1", "text": "hi"}, headers=_basic("tester", PASSWORD)
    )
    assert response.status_code == 200, response.text
    assert client.get("/api/me", headers=_basic("viewer", PASSWORD)).json()["role"] == "viewer"
    refused = client.post(
        "/api/chat", json={"session": "b1", "text": "hi"}, headers=_basic("viewer", PASSWORD)
    )
    assert refused.status_code == 403
    assert client.get("/api/me", headers=_basic("tester", "wrong")).status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert "www-authenticate" not in {k.lower() for k in refused.headers}


def test_api_login_returns_a_cookie_session_and_csrf_token(client: TestClient, seed: Seed) -> None:
    assert client.post("/api/login", json={"username": "tester", "password": "nope"}).status_code == 401
    response = client.post("/api/login", json={"username": "tester", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    assert response.json()["role"] == "tester"
    assert client.post("/api/chat", json={"session": "c1", "text": "hi"}).status_code == 403  # no header
    assert (
        client.post(
            "/api/chat", json={"session": "c1", "text": "hi"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 200
    )


def test_healthz_answers_without_login(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def test_every_kind_of_response_carries_the_security_headers(client: TestClient, seed: Seed) -> None:
    """Pages, API answers, refusals and errors (console/app.py SecurityHeadersMiddleware); a route's
    own value wins (the docs' assets may be cached)."""
    responses = [
        client.get("/login"),  # a page
        client.get("/api/me"),  # 401
        client.get("/no-such-page"),  # 404
        client.get("/healthz"),
    ]
    csrf = login(client, "tester")
    responses.append(
        client.post("/api/chat", json={"session": "s1", "text": "hi"}, headers={"X-CSRF-Token": csrf})
    )
    responses.append(client.post("/api/chat", json={"session": "s1"}, headers={"X-CSRF-Token": csrf}))  # 422
    assert [r.status_code for r in responses] == [200, 401, 404, 200, 200, 422]
    for response in responses:
        assert {k: response.headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS, response.url
        assert len(response.headers.get_list("cache-control")) == 1
    login(client, "viewer")
    asset = client.get("/api/docs/assets/swagger-ui.css")
    assert asset.status_code == 200 and asset.headers.get_list("cache-control") == ["private, max-age=86400"]
    assert asset.headers["x-frame-options"] == "DENY"
