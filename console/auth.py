"""Who is asking and may they: staff sessions, HTTP Basic for API clients, roles and CSRF.

A browser logs in with the form and carries a signed session cookie (HttpOnly, SameSite=Lax);
every unsafe request from it must echo the session's CSRF token (form field `csrf_token` or header
`X-CSRF-Token`). API clients may instead send HTTP Basic credentials on each request: a browser
never attaches those by itself here (no `WWW-Authenticate` challenge is ever sent), so they need no
CSRF token. Each request re-reads the staff row, so deactivating an account or changing its role
takes effect at once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request

from console.roles import Role
from console.services import ConsoleServices
from console.staff import StaffView, authenticate, get_staff

SESSION_STAFF = "staff_id"
SESSION_CSRF = "csrf"
SESSION_ISSUED = "issued_at"
SESSION_STAMP = "stamp"
SESSION_MAX_AGE = 8 * 60 * 60  # a working day; staff log in again after that
CLOCK_SKEW = 60  # seconds a login stamp may lie in the future (clock adjustments)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticatedError("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise NotAuthenticatedError("malformed Basic credentials")
    return username, password


def _current_staff(request: Request) -> StaffView:
    services = services_of(request)
    credentials = _basic_credentials(request)
    with services.session_factory.begin() as session:
        if credentials is not None:
            staff = authenticate(session, username=credentials[0], password=credentials[1])
            request.state.auth_via = "basic"
        else:
            staff_id = request.session.get(SESSION_STAFF)
            staff = get_staff(session, staff_id) if isinstance(staff_id, int) else None
            if staff is not None and not _session_is_current(request, staff):
                staff = None
            request.state.auth_via = "session"
    if staff is None:
        if credentials is None and SESSION_STAFF in request.session:
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
    if request.method in SAFE_METHODS or getattr(request.state, "auth_via", None) == "basic":
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
