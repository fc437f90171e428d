"""Who is asking and may they: staff sessions, API tokens, HTTP Basic, roles and CSRF.

A browser logs in with the form and carries a signed session cookie (HttpOnly, SameSite=Lax);
every unsafe request from it must echo the session's CSRF token (form field `csrf_token` or header
`X-CSRF-Token`). Scripts send an API token (`Authorization: Bearer pct_…`, console/tokens.py) or,
for compatibility, HTTP Basic credentials on each request: a browser never attaches either by
itself here (no `WWW-Authenticate` challenge is ever sent), so they need no CSRF token. Every
password check — the login form, `POST /api/login`, HTTP Basic — goes through the app's one
`LoginGuard` (console/login.py: throttled, 429 while locked; Basic remembered briefly, so argon2
does not run per request). Each request re-reads the staff row, so deactivating an account or
changing its role takes effect at once, for its tokens too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request

from console.login import LoginGuard, build_login_guard
from console.roles import Role
from console.services import ConsoleServices
from console.staff import StaffView, get_staff
from console.tokens import staff_for_token

SESSION_STAFF = "staff_id"
SESSION_CSRF = "csrf"
SESSION_ISSUED = "issued_at"
SESSION_STAMP = "stamp"
SESSION_MAX_AGE = 8 * 60 * 60  # a working day; staff log in again after that
CLOCK_SKEW = 60  # seconds a login stamp may lie in the future (clock adjustments)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NO_CSRF_NEEDED = frozenset({"basic", "token"})  # credentials a browser never sends on its own
_guard_lock = threading.Lock()


class NotAuthenticatedError(Exception):
    """No valid login: HTML requests are sent to the login page, API requests get 401."""


class ForbiddenError(Exception):
    """Logged in, but the role does not allow this route."""

    def __init__(self, needed: Role) -> None:
        super().__init__(f"this needs the {needed.value} role")
        self.needed = needed


class CsrfError(Exception):
    """An unsafe request without the session's CSRF token."""


def services_of(request: Request) -> ConsoleServices:
    """The app's services (set by the lifespan or by the test that built the app)."""
    services: ConsoleServices = request.app.state.services
    return services


def login_guard(request: Request) -> LoginGuard:
    """The app's one password check (built on first use; a test may install its own first)."""
    guard: LoginGuard | None = getattr(request.app.state, "login_guard", None)
    if guard is None:
        with _guard_lock:
            guard = getattr(request.app.state, "login_guard", None)
            if guard is None:
                guard = build_login_guard(request.app.state.settings, services_of(request).session_factory)
                request.app.state.login_guard = guard
    return guard


def client_address(request: Request) -> str:
    """The address the login brake counts failures against."""
    return request.client.host if request.client else "unknown"


def check_password(request: Request, *, username: str, password: str) -> StaffView | None:
    """The login form's and `POST /api/login`'s check; LoginThrottledError while locked (blocking)."""
    return login_guard(request).check_password(
        services_of(request).session_factory,
        username=username,
        password=password,
        address=client_address(request),
    )


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def _now() -> float:
    return time.time()


def log_in(request: Request, staff: StaffView) -> str:
    """Start a fresh session for `staff` (no fixation) and return its new CSRF token."""
    request.session.clear()
    request.session[SESSION_STAFF] = staff.id
    request.session[SESSION_ISSUED] = int(_now())
    request.session[SESSION_STAMP] = staff.credential_stamp
    return csrf_token(request)


def _session_is_current(request: Request, staff: StaffView) -> bool:
    issued = request.session.get(SESSION_ISSUED)
    stamp = request.session.get(SESSION_STAMP)
    if not isinstance(issued, int) or not isinstance(stamp, str):
        return False
    age = _now() - issued
    return -CLOCK_SKEW <= age <= SESSION_MAX_AGE and hmac.compare_digest(stamp, staff.credential_stamp)


def log_out(request: Request) -> None:
    """Forget the session."""
    request.session.clear()


def _authorization(request: Request) -> tuple[str, str] | None:
    """The Authorization header as (scheme in lower case, credentials) when it is Basic or Bearer."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    scheme = scheme.lower()
    return (scheme, credentials.strip()) if scheme in ("basic", "bearer") else None


def _basic_credentials(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticatedError("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not encoded or not sep:
        raise NotAuthenticatedError("malformed Basic credentials")
    return username, password


def _current_staff(request: Request) -> StaffView:
    services = services_of(request)
    authorization = _authorization(request)
    staff: StaffView | None
    if authorization is not None and authorization[0] == "bearer":
        with services.session_factory.begin() as session:
            staff = staff_for_token(session, authorization[1])
        request.state.auth_via = "token"
    elif authorization is not None:
        username, password = _basic_credentials(authorization[1])
        staff = login_guard(request).check_basic(
            services.session_factory, username=username, password=password, address=client_address(request)
        )
        request.state.auth_via = "basic"
    else:
        with services.session_factory.begin() as session:
            staff_id = request.session.get(SESSION_STAFF)
            staff = get_staff(session, staff_id) if isinstance(staff_id, int) else None
        if staff is not None and not _session_is_current(request, staff):
            staff = None
        request.state.auth_via = "session"
    if staff is None:
        if authorization is None and SESSION_STAFF in request.session:
            log_out(request)
        raise NotAuthenticatedError("login required")
    request.state.staff = staff
    return staff


def require(role: Role) -> Callable[[Request], StaffView]:
    """A dependency admitting staff whose role includes `role` (safe methods only)."""

    def dependency(request: Request) -> StaffView:
        staff = _current_staff(request)
        if not staff.role.allows(role):
            raise ForbiddenError(role)
        return staff

    dependency.__name__ = f"require_{role.value}"
    return dependency


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe session-authenticated request whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS or getattr(request.state, "auth_via", None) in NO_CSRF_NEEDED:
        return
    expected = request.session.get(SESSION_CSRF)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfError("missing or wrong CSRF token; reload the page and try again")


def require_unsafe(role: Role) -> Callable[..., Awaitable[StaffView]]:
    """A dependency for POST routes: the role check, then the CSRF check."""

    async def dependency(request: Request, staff: StaffView = Depends(require(role))) -> StaffView:  # noqa: B008
        await verify_csrf(request)
        return staff

    dependency.__name__ = f"require_{role.value}_csrf"
    return dependency
