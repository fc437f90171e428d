"""Telegram users (issue 15, items 4 and 6): demo-mode users are marked, and blocking the bot is
recorded once, audited, and holds the user's notifications without losing them."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from payments.service import PaymentsService

pytestmark = pytest.mark.sandbox

_telegram_ids = itertools.count(760_000_001)


@pytest.mark.parametrize("demo_mode", [True, False])
def test_a_user_created_in_demo_mode_is_a_demo_user_not_a_console_test_user(
    payments_service: PaymentsService, demo_mode: bool
) -> None:
    service = PaymentsService(
        session_factory=payments_service.session_factory,
        gateway=payments_service.gateway,
        config=dataclasses.replace(payments_service.config, demo_mode=demo_mode),
    )
    telegram_id = next(_telegram_ids)
    user = service.ensure_telegram_user(telegram_user_id=telegram_id, name="New", language_code="en")
    assert user.is_demo is demo_mode
    assert not user.is_test  # the console still may not act as a Telegram user
    assert bool(service.open_bills(user_id=user.id)) is demo_mode
    again = service.ensure_telegram_user(telegram_user_id=telegram_id, name="New", language_code="en")
    assert again == user


def test_blocking_is_recorded_once_and_coming_back_clears_it(payments_service: PaymentsService) -> None:
    telegram_id = next(_telegram_ids)
    user = payments_service.ensure_telegram_user(telegram_user_id=telegram_id, name="B", language_code="en")
    assert user.telegram_reachable

    mark = payments_service.set_telegram_reachable
    assert mark(telegram_user_id=telegram_id, reachable=False) is True
    assert mark(telegram_user_id=telegram_id, reachable=False) is False  # already recorded
    assert not payments_service.get_user(user_id=user.id).telegram_reachable
    assert mark(telegram_user_id=telegram_id, reachable=True) is True
    assert mark(telegram_user_id=telegram_id, reachable=True) is False
    assert payments_service.get_user(user_id=user.id).telegram_reachable
    assert mark(telegram_user_id=next(_telegram_ids), reachable=False) is False  # nobody we know


def test_a_demo_users_payments_are_not_listed_as_live_customers_payments(
    payments_service: PaymentsService,
) -> None:
    from payments.oversight import PaymentFilter

    telegram_id = next(_telegram_ids)
    user = payments_service.ensure_telegram_user(
        telegram_user_id=telegram_id, name="Demo", language_code="en"
    )
    assert user.is_demo
    bill = payments_service.find_bill(user_id=user.id, biller_text="electricity")
    draft = payments_service.draft_payment(user_id=user.id, bill_id=bill.id, amount_text="1", date_text=None)
    [row] = payments_service.staff_payments(flt=PaymentFilter(user_id=user.id))
    assert row.payment_id == draft.payment_id and row.is_test_user


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (None, "Telegram user"),
        ("", "Telegram user"),
        ("\r\u3000\n \t\xa0", "Telegram user"),
        (" Ana \n  Li ", "Ana Li"),
    ],
)
def test_a_missing_or_blank_telegram_name_still_creates_the_user(
    payments_service: PaymentsService, sent: str | None, stored: str
) -> None:
    # A malformed update (found by bench.fuzz) carries no first_name: PTB's full_name is then None.
    user = payments_service.ensure_telegram_user(
        telegram_user_id=next(_telegram_ids), name=sent, language_code=None
    )
    assert payments_service.get_user(user_id=user.id).name == stored
