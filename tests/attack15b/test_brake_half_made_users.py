"""attack15b: the test-user brake gives a slot back for a creation that failed half-way.

`create_test_user` commits the user, their demo bills and an audit row first, then asks the
processor for a customer and a card (`ensure_card`). When that second step fails (the processor is
down, or — the likely case in a flood — Stripe answers 429 to a burst), `create_braked` gives the
slot back although the user and bills stay committed: a loop keeps creating users past the brake
for as long as the processor refuses, each left without a card.
"""

from __future__ import annotations

import contextlib
import secrets

import pytest
from sqlalchemy import select

from console.roles import Role
from db.models import AuditLogEntry, Bill, User
from payments.service import PaymentsService
from tests.attack15.test_test_user_flood import (  # noqa: F401  (pytest fixtures)
    Braked,
    braked,
    no_brake_rows_left,
)
from tests.console.conftest import login
from tests.console.test_test_users import channel, staff  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.sandbox
TRIES = 6  # the brake (CONSOLE_TEST_USERS_BURST=2 in `braked`) lets two through


def test_creations_failing_at_the_processor_still_count_against_the_brake(
    braked: Braked,  # noqa: F811
    staff: dict[Role, str],  # noqa: F811
    payments_service: PaymentsService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login(braked.client, staff[Role.TESTER])

    def rate_limited(**_: object) -> None:
        raise RuntimeError("processor: too many requests")  # e.g. Stripe's 429 under the burst

    monkeypatch.setattr(payments_service.gateway, "add_test_card", rate_limited)
    tag = secrets.token_hex(4)
    for n in range(TRIES):
        with contextlib.suppress(RuntimeError):  # the 500 of a failed creation
            braked.create(f"half {tag} {n}")
    monkeypatch.undo()

    made = {name for name in braked.names() if name.startswith(f"half {tag} ")}
    # Either a failed creation leaves nothing behind, or it keeps its slot: never more than the burst.
    assert len(made) <= 2, f"{len(made)} test users made past a burst of 2: {sorted(made)}"


def test_a_creation_failing_at_the_processor_leaves_no_user_and_keeps_its_slot(
    braked: Braked,  # noqa: F811
    staff: dict[Role, str],  # noqa: F811
    payments_service: PaymentsService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login(braked.client, staff[Role.TESTER])

    def rate_limited(**_: object) -> None:
        raise RuntimeError("processor: too many requests")

    monkeypatch.setattr(payments_service.gateway, "add_test_card", rate_limited)
    tag = secrets.token_hex(4)
    for n in range(2):
        with contextlib.suppress(RuntimeError):
            braked.create(f"gone {tag} {n}")
    monkeypatch.undo()
    # The processor works again, but the two failed tries used the burst.
    assert braked.create(f"gone {tag} 2").status_code == 429
    with payments_service.session_factory() as session:
        left = session.scalars(select(User.id).where(User.name.startswith(f"gone {tag} "))).all()
        failed = session.scalars(
            select(AuditLogEntry.data).where(AuditLogEntry.event == "test_user.creation_failed")
        ).all()
        bills = session.scalars(select(Bill.id).where(Bill.user_id.not_in(select(User.id)))).all()
    assert left == [] and bills == []
    assert [d["error"] for d in failed] == ["RuntimeError", "RuntimeError"]
    assert all(d["removed"].get("bills") for d in failed)
