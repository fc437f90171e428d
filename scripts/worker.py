"""The worker process (`python -m scripts.worker`): payments' time-driven rounds plus transcript retention.

payments/worker.py runs the payment steps; transcripts are a sibling of payments that payments never
imports, so this composition root adds the retention step (transcripts/retention.py) to each round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from db.models import utcnow
from payments import worker
from settings import Settings, get_settings
from transcripts.retention import RetentionResult, apply_retention, expire_tracker
from tuning.export import prune_exports

logger = logging.getLogger("paychat.worker")


def retention_step(settings: Settings, session_factory: sessionmaker[Session]) -> Callable[[], object]:
    """The worker step that deletes or anonymizes transcripts older than TRANSCRIPT_RETENTION_DAYS,
    deletes the events of Rasa's tracker store (RASA_TRACKER_DB) older than that too, and drops
    the conversations gone or anonymized from the test stories of earlier tuning exports."""

    def step() -> RetentionResult | None:
        days, now = settings.transcript_retention_days, utcnow()  # one cutoff for both stores
        with session_factory.begin() as session:
            result = apply_retention(
                session, older_than_days=days, mode=settings.transcript_retention_mode, now=now
            )
        exports = settings.effective_tuning_dir / "exports"
        if exports.is_dir():  # earlier tuning exports are copies of the transcripts too
            with session_factory() as session:
                prune_exports(session, exports)
        events = expire_tracker(settings.effective_rasa_tracker_db, older_than_days=days, now=now)
        result = replace(result, tracker_events=events)
        return result if result.conversations or result.tracker_events else None

    return step


def main() -> None:
    """Run the worker's rounds with the retention step until SIGTERM/SIGINT."""
    settings = get_settings()
    session_factory = make_session_factory(make_engine(settings.effective_database_url))
    worker.main(extra_steps={"transcript retention": retention_step(settings, session_factory)})


if __name__ == "__main__":
    main()
