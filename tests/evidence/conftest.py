"""A PaymentsService on its own SQLite file (the CLI opens the same file) and the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from payments.service import PaymentsService, ServiceConfig
from tests.helpers.sandbox import sandbox_gateway


@pytest.fixture
def file_service(tmp_path: Path, stripe_sandbox: str) -> Iterator[tuple[str, PaymentsService]]:
    """(database URL, service): a fresh migrated SQLite file the test may tamper with freely."""
    url = f"sqlite:///{tmp_path / 'evidence.db'}"
    upgrade(url)
    engine = make_engine(url)
    service = PaymentsService(
        session_factory=make_session_factory(engine),
        gateway=sandbox_gateway(stripe_sandbox),
        config=ServiceConfig(),
    )
    yield url, service
    engine.dispose()
