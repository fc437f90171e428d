"""The process's Prometheus metrics (prometheus-client) and how `/metrics` is served.

Every process keeps its own counts in the client's default registry: the console serves them at
`GET /metrics`, the action server at `GET /metrics` beside `/health`, the bot and the worker on a
port of their own (`BOT_METRICS_PORT`, `WORKER_METRICS_PORT`, loopback). The metric objects are
module-level, as prometheus-client expects: one registry per process, registered once.
"""

from __future__ import annotations

import threading
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest, start_http_server

# Chat turns take from tens of milliseconds to the 30 s a caller waits for Rasa.
TURN_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)

TURN_SECONDS: Final = Histogram(
    "paychat_turn_seconds",
    "One user message to the assistant's answer, as the front end sees it",
    ["channel", "outcome"],
    buckets=TURN_BUCKETS,
)
ACTION_SECONDS: Final = Histogram(
    "paychat_action_seconds",
    "One custom action run on the action server",
    ["action", "outcome"],
    buckets=TURN_BUCKETS,
)
DB_STATEMENTS: Final = Histogram(
    "paychat_db_statements_per_action",
    "SQL statements one action run executed (observability.statements)",
    ["action"],
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
)
PAYMENT_OUTCOMES: Final = Counter(
    "paychat_payment_outcomes",
    "Payments that reached a status (counted when the transaction moving them commits)",
    ["status"],
)
STRIPE_ERRORS: Final = Counter(
    "paychat_stripe_errors",
    "Errors answered by Stripe (or no answer at all), by Stripe's error code",
    ["code"],
)


def render() -> tuple[bytes, str]:
    """The exposition text of this process's metrics and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


def serve(host: str, port: int) -> tuple[WSGIServer, threading.Thread] | None:
    """Serve `/metrics` on host:port in a daemon thread; None when port is 0 (off)."""
    if not port:
        return None
    return start_http_server(port, addr=host)
