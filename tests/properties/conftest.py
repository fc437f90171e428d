"""Fixtures of the property-based tests: a migrated SQLite template and a sandbox of their own.

Each Hypothesis example copies the template into a fresh file (migrating 18 revisions per example
would cost seconds) and resets the private localstripe, so the sandbox's whole list of
PaymentIntents is exactly what that example charged: "every PaymentIntent maps to one consented
payment" is then checked over everything the processor holds, in one cheap list call (the
session's shared sandbox holds every other test's charges too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from db.migrate import upgrade
from scripts import procs
from tests.helpers.sandbox import reset_sandbox


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated SQLite file, copied (never opened for writing) by every example."""
    path = tmp_path_factory.mktemp("property-db") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="module")
def private_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a localstripe only these tests use (started as `stripe_sandbox` starts one)."""
    port = procs.free_port()
    with procs.supervised(tmp_path_factory.mktemp("property-sandbox-log"), procs.base_env()) as supervisor:
        supervisor.start(procs.sandbox_spec(port))
        base_url = f"http://127.0.0.1:{port}"
        reset_sandbox(base_url)
        yield base_url
