"""/forget reaches Stripe: the user's Stripe customer loses the name and our user id (issue 13, item 9).

The real stripe SDK against the localstripe sandbox, through a fault proxy so Stripe can be made
unreachable: the user is then forgotten here all the same, and the worker's next round finishes
the job at Stripe. The customer is read back straight from the sandbox, not through our gateway.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe
from sqlalchemy import make_url, select

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AuditLogEntry, StripeCustomer, User
from payments import worker
from payments.audit import verify_audit_chain
from payments.personal_data import PROCESSOR_FORGOTTEN
from payments.service import PaymentsService, ServiceConfig
from testing.faultproxy import Fault, FaultProxy, Toxic, fault_proxies
from tests.helpers.db import _create_postgres_database
from tests.helpers.factories import make_paying_user
from tests.helpers.sandbox import SANDBOX_KEY, sandbox_gateway

pytestmark = pytest.mark.sandbox


@dataclass
class Setup:
    service: PaymentsService
    stripe_proxy: FaultProxy
    sandbox: stripe.StripeClient


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own (a SQLite file, or a PostgreSQL database dropped after)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'forget.db'}"
        upgrade(url)
        yield url
        return
    url, admin = _create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def setup(own_database: str, stripe_sandbox: str) -> Iterator[Setup]:
    """A service on a database of its own whose Stripe traffic goes through a fault proxy."""
    engine = make_engine(own_database)
    with fault_proxies() as proxies:
        proxy = proxies.add("stripe", stripe_sandbox)
        service = PaymentsService(
            session_factory=make_session_factory(engine),
            gateway=sandbox_gateway(proxy.url, timeout_seconds=2.0),
            config=ServiceConfig(),
        )
        direct = stripe.StripeClient(
            SANDBOX_KEY, base_addresses={"api": stripe_sandbox}, max_network_retries=0
        )
        yield Setup(service, proxy, direct)
    engine.dispose()


def _customer(setup: Setup, user_id: int) -> tuple[str, str]:
    """(our stored user name, the Stripe customer id) of a user."""
    with setup.service.session_factory() as session:
        user = session.get(User, user_id)
        customer_id = session.scalar(
            select(StripeCustomer.stripe_customer_id).where(StripeCustomer.user_id == user_id)
        )
        assert user is not None and customer_id
        return user.name, customer_id


def _marks(setup: Setup, user_id: int) -> int:
    with setup.service.session_factory() as session:
        rows = session.scalars(
            select(AuditLogEntry.id).where(
                AuditLogEntry.user_id == user_id, AuditLogEntry.event == PROCESSOR_FORGOTTEN
            )
        ).all()
        assert verify_audit_chain(session).ok
        return len(rows)


def test_forget_clears_the_name_at_stripe(setup: Setup) -> None:
    user_id, _ = make_paying_user(setup.service.session_factory, setup.service.gateway)
    name, customer_id = _customer(setup, user_id)
    before = setup.sandbox.v1.customers.retrieve(customer_id)
    assert before.name == name and before.metadata["paychat_user_id"] == str(user_id)

    report = setup.service.forget_user(user_id=user_id)

    assert report.processor_pending is False
    after = setup.sandbox.v1.customers.retrieve(customer_id)
    assert not after.name
    assert not after.to_dict().get("metadata", {}).get("paychat_user_id")
    assert name not in str(after.to_dict())
    assert _marks(setup, user_id) == 1
    setup.service.forget_user(user_id=user_id)  # forgetting twice: no second Stripe write is recorded
    assert _marks(setup, user_id) == 1


def test_stripe_unreachable_at_forget_is_finished_by_the_worker(setup: Setup) -> None:
    user_id, _ = make_paying_user(setup.service.session_factory, setup.service.gateway)
    name, customer_id = _customer(setup, user_id)
    setup.stripe_proxy.set(Fault(Toxic.DOWN, path_prefix="/v1/customers"))

    report = setup.service.forget_user(user_id=user_id)

    # Forgotten here all the same; the name is still at Stripe and the report says so.
    assert report.processor_pending is True
    assert _customer(setup, user_id)[0] == ""
    assert setup.sandbox.v1.customers.retrieve(customer_id).name == name
    assert _marks(setup, user_id) == 0
    worker.run_round(setup.service)  # still down: nothing lost, nothing recorded
    assert setup.sandbox.v1.customers.retrieve(customer_id).name == name
    assert _marks(setup, user_id) == 0

    setup.stripe_proxy.clear()
    worker.run_round(setup.service)

    assert not setup.sandbox.v1.customers.retrieve(customer_id).name
    assert _marks(setup, user_id) == 1
    assert setup.service.forget_pending_at_processor() == 0  # done once, never again
