"""Attack (issue 13 item 8): staff below admin moving a user's mandate through the console (JSON
API and form), without CSRF, and moves on mandates that are not live. Holds. Real parts: the
console app on the payments database, both databases, the Stripe sandbox.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from console.roles import Role
from payments.service import PaymentsService
from tests.console.conftest import login
from tests.console.test_mandates_view import client, staff  # noqa: F401 - fixtures
from tests.payments.test_mandates import _mandate, _user_with_biller

pytestmark = pytest.mark.sandbox


def _status(console: TestClient, user_id: int) -> list[str]:
    return [m["status"] for m in console.get("/api/mandates", params={"user_id": user_id}).json()]


def test_holds_below_admin_cannot_move_a_mandate(
    client: TestClient,  # noqa: F811
    payments_service: PaymentsService,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    user_id, biller = _user_with_biller(payments_service)
    mandate_id = _mandate(payments_service, user_id, biller, cap="40")
    for role in Role:
        if role == Role.ADMIN:
            continue
        csrf = login(client, staff[role])
        body = {"status": "revoked", "reason": "x"}
        api = client.post(f"/api/mandates/{mandate_id}/status", json=body, headers={"X-CSRF-Token": csrf})
        form = client.post(f"/mandates/{mandate_id}/status", data={**body, "csrf_token": csrf})
        assert api.status_code == 403 and form.status_code == 403, role
    csrf = login(client, staff[Role.ADMIN])
    body = {"status": "paused", "reason": "x"}
    assert client.post(f"/api/mandates/{mandate_id}/status", json=body).status_code in (401, 403)  # no CSRF
    assert _status(client, user_id) == ["active"]


def test_holds_admin_cannot_revive_an_ended_or_unconfirmed_mandate(
    client: TestClient,  # noqa: F811
    payments_service: PaymentsService,
    staff: dict[Role, str],  # noqa: F811
) -> None:
    user_id, biller = _user_with_biller(payments_service)
    mandate_id = _mandate(payments_service, user_id, biller, cap="40")
    payments_service.mandates.revoke(user_id=user_id, biller_text=biller)
    other_id, other_biller = _user_with_biller(payments_service)
    offer = payments_service.mandates.propose(user_id=other_id, biller_text=other_biller, cap_text="40")
    csrf = login(client, staff[Role.ADMIN])
    for target in (mandate_id, offer.mandate_id):
        for status in ("active", "paused"):
            moved = client.post(
                f"/api/mandates/{target}/status",
                json={"status": status, "reason": "customer asked"},
                headers={"X-CSRF-Token": csrf},
            )
            assert moved.status_code == 404, (target, status, moved.text)
    assert _status(client, other_id) == []
