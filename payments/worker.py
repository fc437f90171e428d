"""The worker process (`python -m payments.worker`): time-driven payment work, on a loop.

Each round charges scheduled payments whose day has come, settles payments whose outcome is
unknown by asking Stripe by their idempotency key, and expires drafts nobody confirmed. Every step
is a use case of PaymentsService, idempotent and safe to run from several workers at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from payments.service import PaymentsService, build_service

logger = logging.getLogger("paychat.worker")
ROUND_SECONDS = 15.0


def run_round(service: PaymentsService) -> None:
    """One pass over everything time-driven; a failing step is logged and the others still run."""
    steps: dict[str, Callable[[], object]] = {
        "due scheduled payments": service.run_due_payments,
        "reconcile unknown payments": service.reconcile_unknown_payments,
        "expire stale drafts": service.expire_stale_drafts,
    }
    for name, step in steps.items():
        try:
            result = step()
            if result:
                logger.info("%s: %s", name, result)
        except Exception:
            logger.exception("worker step failed: %s", name)


def main() -> None:
    """Run rounds until SIGTERM/SIGINT."""
    from observability import metrics
    from observability.logs import configure_logging
    from settings import get_settings

    settings = get_settings()
    configure_logging("worker", logging.getLevelName(settings.log_level.upper()))
    metrics.serve(settings.metrics_host, settings.worker_metrics_port)
    service = build_service(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logger.info("worker started: a round every %.0f s", ROUND_SECONDS)
    while not stop.is_set():
        run_round(service)
        stop.wait(ROUND_SECONDS)
    logger.info("worker stopped")


if __name__ == "__main__":
    main()
