"""paychat's action server: rasa-sdk's app behind a door only Rasa has the key to.

`python -m actions.server` replaces `python -m rasa_sdk --actions actions`. rasa-sdk's own entry
point binds every interface, allows every CORS origin, reads a text/plain body as JSON and asks
nobody for credentials, while the actions take the user's identity from the `sender_id` in the
body: whoever reaches it can pay any user's bill. So this module builds the same app
(`rasa_sdk.endpoint.create_app`, no CORS origin) and puts one request middleware in front of every
route that

- lets `GET /health` (the supervisor's and the paychat channel's probe) and `GET /metrics`
  (Prometheus, counts only) through for anyone on loopback;
- answers 401 without `Authorization: Bearer <ACTION_SERVER_SECRET>` and 403 with a wrong one
  (compared in constant time); Rasa sends the header from `rasa_project/endpoints.yml`;
- answers 403 to anything carrying an `Origin` header: only browsers send one, and no browser is
  a caller of this server;
- answers 415 to a body that is not `application/json`;
- answers 400 to an action call rasa-sdk cannot run (`malformed`): rasa-sdk reads the body without
  checking its shape and answered such a call with a 500.

It listens on ACTION_SERVER_HOST (127.0.0.1 unless a container network needs more) and refuses to
start without a secret.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any, Final

from rasa_sdk.constants import DEFAULT_KEEP_ALIVE_TIMEOUT
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from observability import metrics
from observability.logs import configure_logging
from settings import get_settings

log = logging.getLogger(__name__)

ACTIONS_PACKAGE: Final = "actions"
OPEN_ROUTES: Final = frozenset({("GET", "/health"), ("HEAD", "/health"), ("GET", "/metrics")})
JSON_MEDIA_TYPE: Final = "application/json"
# Runs before rasa-sdk's own request middleware (its CORS preflight answers every OPTIONS).
GUARD_PRIORITY: Final = 1000


def refusal(request: Request, secret: bytes) -> tuple[int, str] | None:
    """Why `request` must not reach a route — (HTTP status, reason) — or None when it may."""
    if (request.method, request.path) in OPEN_ROUTES:
        return None
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not sent.strip():
        return 401, "the action server needs its shared secret (Authorization: Bearer ...)"
    if not hmac.compare_digest(sent.strip().encode(), secret):
        return 403, "wrong shared secret"
    if "origin" in request.headers:
        return 403, "browsers may not call the action server"
    if request.method not in ("GET", "HEAD"):
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != JSON_MEDIA_TYPE:
            return 415, f"the body must be {JSON_MEDIA_TYPE}"
    return None


# What rasa-sdk reads from an action call's tracker, and the JSON type each must have.
TRACKER_FIELDS: Final = (("slots", dict), ("latest_message", dict), ("events", list), ("active_loop", dict))


def malformed(body: Any) -> str | None:
    """Why an action call cannot be run, or None: the shape rasa-sdk's executor and Tracker read."""
    if not isinstance(body, dict):
        return "the action call must be a JSON object"
    if not isinstance(body.get("next_action"), str) or not body["next_action"]:
        return "next_action must be a non-empty string"
    tracker = body.get("tracker")
    if not isinstance(tracker, dict) or not isinstance(tracker.get("sender_id"), str):
        return "tracker must be an object with a string sender_id"
    for name, kind in TRACKER_FIELDS:
        if tracker.get(name) is not None and not isinstance(tracker[name], kind):
            return f"tracker.{name} must be a JSON {'object' if kind is dict else 'array'}"
    if not all(isinstance(event, dict) for event in tracker.get("events") or []):
        return "tracker.events must hold objects"
    if body.get("domain") is not None and not isinstance(body["domain"], dict):
        return "domain must be an object"
    return None


def create_action_app(secret: str, *, package: str = ACTIONS_PACKAGE) -> Sanic[Any, Any]:
    """rasa-sdk's Sanic app running `package`'s actions, guarded by `secret`; no CORS origins."""
    if not secret:
        raise ValueError("the action server needs a non-empty shared secret")
    expected = secret.encode()
    executor = ActionExecutor()
    executor.register_package(package)
    app: Sanic[Any, Any] = create_app(executor, cors_origins=None)
    app.config.KEEP_ALIVE_TIMEOUT = DEFAULT_KEEP_ALIVE_TIMEOUT

    async def guard(request: Request) -> HTTPResponse | None:
        refused = refusal(request, expected)
        if refused is None and request.method == "POST" and request.path == "/webhook":
            problem = malformed(request.json)  # invalid JSON: Sanic answers 400 itself
            refused = (400, problem) if problem else None
        if refused is None:
            return None
        status, reason = refused
        log.warning("refused %s %s from %s: %s", request.method, request.path, request.ip, reason)
        return response.json({"error": reason}, status=status)

    async def serve_metrics(request: Request) -> HTTPResponse:
        body, content_type = metrics.render()
        return response.raw(body, content_type=content_type)

    app.add_route(serve_metrics, "/metrics", methods=["GET"], name="paychat_metrics")
    app.on_request(guard, priority=GUARD_PRIORITY)
    return app


def warm_up() -> None:
    """What the first payment turn of a fresh server paid before answering (issue 12): the payments
    service (its modules, the Stripe SDK, the database engine) and the currency vocabulary of every
    CLDR locale, built before the server listens. Database and Stripe are not contacted."""
    from actions.services import get_services
    from payments.money import warm_caches

    started = time.perf_counter()
    get_services()
    warm_caches()
    log.info("action server warmed up", extra={"seconds": round(time.perf_counter() - started, 3)})


def main() -> None:
    """Serve the actions on ACTION_SERVER_HOST:ACTION_SERVER_PORT behind ACTION_SERVER_SECRET."""
    settings = get_settings()
    configure_logging("action-server", logging.getLevelName(settings.log_level.upper()))
    if not settings.action_server_secret:
        raise SystemExit(
            "ACTION_SERVER_SECRET is not set: the action server refuses to run without one "
            "(`make run` generates it into var/dev-secrets.json)"
        )
    app = create_action_app(settings.action_server_secret)
    warm_up()
    log.info("action server on %s:%s", settings.action_server_host, settings.action_server_port)
    app.run(
        host=settings.action_server_host,
        port=settings.action_server_port,
        single_process=True,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
