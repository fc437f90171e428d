"""The worker process (`python -m payments.worker`): time-driven payment work, on a loop.

Each round charges scheduled payments whose day has come, settles payments whose outcome is
unknown by asking Stripe by their idempotency key (never before a charge's deadline), expires
drafts and approvals nobody answered, gives approved and 3-D Secure payments waiting past
their deadlines a final status, so no payment waits forever, reminds users of bills due soon
(payments.reminders), and finishes forgetting users at Stripe when it was unreachable at their
/forget. Every step
is a use case of PaymentsService, idempotent and safe to run from several workers at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping

from db.engine import make_engine, make_session_factory
from payments.audit import record_settings
from payments.service import PaymentsService, build_service

logger = logging.getLogger("paychat.worker")
ROUND_SECONDS = 15.0


Step = Callable[[], object]


def run_round(service: PaymentsService, extra_steps: Mapping[str, Step] | None = None) -> None:
    """One pass over everything time-driven; a failing step is logged and the others still run.

    `extra_steps` are time-driven work outside payments that the process composing the worker adds
    (scripts/worker.py: transcript retention), so payments never imports it.
    """
    steps: dict[str, Step] = {
        "due scheduled payments": service.run_due_payments,
        "bills under standing mandates": service.run_mandates,  # issue 13, item 8
        "reconcile unknown payments": service.reconcile_unknown_payments,
        # Issue 13 item 2: codes not typed in time cancel their drafts (before draft expiry sees them).
        "expired step-up codes": service.expire_step_up_codes,
        "expire stale drafts": service.expire_stale_drafts,
        "payments past their deadlines": service.settle_overdue_payments,
        "forgotten users at the processor": service.forget_pending_at_processor,
        # issue 13 item 4: reminders of bills due soon (exactly once per bill and due date)
        "remind bills due soon": service.remind_due_bills,
        **(extra_steps or {}),
    }
    for name, step in steps.items():
        try:
            result = step()
            if result:
                logger.info("%s: %s", name, result)
        except Exception:
            logger.exception("worker step failed: %s", name)


def main(extra_steps: Mapping[str, Step] | None = None) -> None:
    """Run rounds (with `extra_steps`) until SIGTERM/SIGINT."""
    from observability import metrics
    from observability.logs import configure_logging
    from settings import get_settings

    settings = get_settings()
    configure_logging("worker", logging.getLevelName(settings.log_level.upper()))
    metrics.serve(settings.metrics_host, settings.worker_metrics_port)
    service = build_service(settings)
    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine).begin() as session:  # a changed setting goes into the audit log
        if record_settings(session, settings.audit_snapshot()):
            logger.info("settings changed since the last start: recorded in the audit log")
    engine.dispose()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logger.info("worker started: a round every %.0f s", ROUND_SECONDS)
    while not stop.is_set():
        run_round(service, extra_steps)
        stop.wait(ROUND_SECONDS)
    logger.info("worker stopped")


if __name__ == "__main__":
    main()
