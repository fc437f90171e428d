"""attack15: a tester (or a leaked tester token) can create test users without any bound.

Each creation makes a user, the demo bills and a sandbox customer with a card; nothing limits how
many or how fast, so a loop fills the users table (and the processor's customer list) at will.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from console.roles import Role
from tests.console.conftest import login
from tests.console.test_test_users import channel, client, staff  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.sandbox
BURST = 60


def test_a_burst_of_test_user_creations_is_slowed_down(
    client: TestClient,  # noqa: F811
    staff: dict[Role, str],  # noqa: F811
) -> None:
    headers = {"X-CSRF-Token": login(client, staff[Role.TESTER])}
    codes = [
        client.post("/api/test-users", json={"name": f"flood {n}"}, headers=headers).status_code
        for n in range(BURST)
    ]
    assert 429 in codes, f"{codes.count(201)} of {BURST} created"
