"""The console's FastAPI app: `create_app(settings, services=None)`; nothing is built at import.

Pages are server-rendered Jinja2 templates (console/templates) with a little vanilla JavaScript
(console/static); the JSON API lives under /api with its OpenAPI document at /api/openapi.json.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import (
    api,
    approvals,
    docs,
    mandates_view,
    payments_view,
    review,
    stripe_routes,
    testusers,
    transcript_export,
    views,
)
from console.auth import (
    SESSION_MAX_AGE,
    CsrfError,
    ForbiddenError,
    NotAuthenticatedError,
    csrf_token,
    require,
)
from console.login import LoginThrottledError
from console.roles import Role
from console.services import ConsoleServices, build_services
from console.staff import StaffView
from observability import metrics
from payments.service import build_service
from settings import Settings

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "paychat_console"
PRODUCT_NAME = "paychat"
# Pages customers reach from the chat (bank stand-in, return from 3-D Secure): errors there are
# shown with the product's name, never the staff console's.
CUSTOMER_PATHS = ("/sandbox/", "/payments/return")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    def _context(request: Request) -> dict[str, object]:
        return {
            "staff": getattr(request.state, "staff", None),
            "csrf_token": csrf_token(request),
            "Role": Role,
            "product_name": PRODUCT_NAME,
        }

    templates.context_processors.append(_context)
    return templates


def _install_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    def _error(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": message}, status_code=status)
        page = "customer_error.html" if request.url.path.startswith(CUSTOMER_PATHS) else "error.html"
        return templates.TemplateResponse(
            request, page, {"status": status, "message": message}, status_code=status
        )

    @app.exception_handler(NotAuthenticatedError)
    async def _not_authenticated(request: Request, exc: NotAuthenticatedError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": str(exc) or "login required"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(LoginThrottledError)
    async def _throttled(request: Request, exc: LoginThrottledError) -> Response:
        # HTTP Basic on a locked account or address (the login form and /api/login answer themselves).
        response = _error(request, 429, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            # Only where and what: the offending input may be bytes (not JSON) or a secret.
            errors = [
                {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": _validation_message(exc), "errors": errors}, status_code=422)
        return _error(request, 422, _validation_message(exc))

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        # The database refused a value (NUL in text, a number out of range): the input was bad.
        log.info("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return _error(request, 400, "the request contains a value the database cannot store or compare")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # Retry-After, Allow... (were dropped)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal error; it has been logged")


SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: HTTP responses get the headers, anything else passes through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings, services: ConsoleServices | None = None) -> FastAPI:
    """The console app on `settings`; `services` (tests) or ones built at startup and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        app.state.services = build_services(settings)
        try:
            yield
        finally:
            await app.state.services.aclose()

    app = FastAPI(
        title="paychat staff console",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by api.py behind the viewer role
    )
    app.state.settings = settings
    if services is not None:
        if services.payments is None:
            services.payments = build_service(settings, session_factory=services.session_factory)
        app.state.services = services
    secret = settings.console_secret_key
    if not secret:
        # Development without CONSOLE_SECRET_KEY: sessions last until the process restarts.
        # (Settings refuses an empty or placeholder key in production.)
        secret = secrets.token_urlsafe(32)
        log.warning("CONSOLE_SECRET_KEY is not set; using a random key for this process")
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.is_production,
    )
    templates = _templates()
    app.state.templates = templates
    _install_error_handlers(app, templates)

    # A plain ASGI middleware, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs
    # each request's app in a task of its own behind memory streams (issue 12, perf13: CPU per turn).
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        """Liveness for the process supervisor."""
        return PlainTextResponse("ok")

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(_staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Response:
        """Prometheus metrics of this process; for staff only (the console is the public process:
        Stripe's webhooks and the 3-D Secure pages reach it), so Prometheus sends an API token."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(views.router)
    app.include_router(api.router)
    app.include_router(docs.router)
    app.include_router(approvals.router)
    app.include_router(review.router)
    app.include_router(stripe_routes.router)
    # After stripe_routes: its fixed /payments/return must win over /payments/{payment_id}.
    app.include_router(payments_view.router)
    app.include_router(mandates_view.router)  # standing mandates (issue 13, item 8)
    app.include_router(testusers.router)
    app.include_router(transcript_export.router)
    return app
