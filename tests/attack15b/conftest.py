"""Fixtures for the attack15b tests: the console's (database, staff, app), all on a fresh database.

`payments_service` is overridden here: the sandbox service on this test's own SQLite copy (the
console's `session_factory`), so the users, staff, payments and audit rows these tests make never
reach the shared session database other tests read.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from payments.demo import load_demo_data
from payments.service import PaymentsService, ServiceConfig
from tests.console.conftest import (  # noqa: F401  (pytest fixtures, used by name)
    client,
    console_database_url,
    console_settings,
    fake_channel,
    postgres_database,
    seed,
    session_factory,
    sqlite_template,
)
from tests.helpers.sandbox import sandbox_gateway


@pytest.fixture
def payments_service(
    session_factory: sessionmaker[Session],  # noqa: F811
    stripe_sandbox: str,
) -> PaymentsService:
    """A PaymentsService on this test's own database and the sandbox, with the demo data loaded."""
    gateway = sandbox_gateway(stripe_sandbox)
    load_demo_data(session_factory, gateway)
    return PaymentsService(session_factory=session_factory, gateway=gateway, config=ServiceConfig())
