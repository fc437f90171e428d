"""Demo users are nobody's Telegram account (issue 10, item 10).

The demo data used to give its users Telegram ids 100001-100003. Those are ordinary ids: the real
Telegram account behind one of them would have chatted — and paid — as the demo user. Demo users
are console-only now; a Telegram account with such an id is a stranger like any other.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from db.models import User
from payments.errors import PaymentsError
from payments.service import PaymentsService

pytestmark = pytest.mark.sandbox

DEMO_NAMES = ("Alex Demo", "Dana Decline", "Sam Secure")


def demo_users(engine: Engine) -> dict[str, tuple[int, int | None]]:
    """name → (users.id, telegram_user_id) of the seeded demo users."""
    with Session(engine) as session:
        # Names are encrypted at rest: the database cannot compare them, so they are matched here.
        rows = session.execute(
            select(User.name, User.id, User.telegram_user_id).where(User.is_test.is_(True))
        ).all()
    return {name: (user_id, telegram_id) for name, user_id, telegram_id in rows if name in DEMO_NAMES}


def test_seeded_demo_users_have_no_telegram_identity(
    payments_service: PaymentsService, db_engine: Engine
) -> None:
    seeded = demo_users(db_engine)
    assert set(seeded) == set(DEMO_NAMES)
    assert {name: telegram_id for name, (_, telegram_id) in seeded.items()} == dict.fromkeys(DEMO_NAMES)


@pytest.mark.parametrize("former_id", [100001, 100002, 100003])
def test_a_telegram_account_with_a_former_demo_id_is_a_stranger(
    payments_service: PaymentsService, db_engine: Engine, former_id: int
) -> None:
    demo_ids = {user_id for user_id, _ in demo_users(db_engine).values()}
    try:
        resolved = payments_service.user_id_for_sender(sender_id=f"tg-{former_id}")
    except PaymentsError as error:
        assert error.code == "user_unknown"
    else:
        assert resolved not in demo_ids
    # Their first message creates an account of their own, not the demo user's.
    account = payments_service.ensure_telegram_user(
        telegram_user_id=former_id, name="Someone", language_code="en"
    )
    assert account.id not in demo_ids
    assert not account.is_test
    assert payments_service.user_id_for_sender(sender_id=f"tg-{former_id}") == account.id


def test_demo_users_are_reached_through_the_console_only(
    payments_service: PaymentsService, db_engine: Engine
) -> None:
    alex, _ = demo_users(db_engine)["Alex Demo"]
    assert payments_service.user_id_for_sender(sender_id=f"console-{alex}-demo_check") == alex
    bill = payments_service.find_bill(user_id=alex, biller_text="electricity")
    assert bill.biller_name == "Stadtwerke"
