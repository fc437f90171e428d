"""Item 7: a card number in the Telegram user's name goes straight into the database.

DESIGN.md: "No card number ever passes through chat or the database". The bot's card guard looks
at message text and captions only; the sender's first/last name (any 1-64 characters the user
chooses in Telegram) is stored as `users.name` by `ensure_telegram_user` on first contact — before
any handler looks at the message — and shown to staff in the console's user lists and transcripts.

Real bot (PTB) against the fake Telegram Bot API, the real payments core as its user directory.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.services import BotServices
from db.models import User
from payments.service import PaymentsService
from privacy.cards import looks_like_card_number
from tests.bot.conftest import ScriptedAssistant, bot_running, bot_settings, fake, no_telegram_network  # noqa: F401
from tests.helpers.fake_telegram import FakeTelegram

TELEGRAM_ID = 741_000_001
CARD_NAME = "4000 0566 5566 5556"  # Stripe's Visa debit test number, as a Telegram first name


async def test_a_card_number_as_telegram_name_is_never_stored(
    payments_service: PaymentsService,
    fake: FakeTelegram,  # noqa: F811
) -> None:
    assistant = ScriptedAssistant()
    services = BotServices(assistant=assistant, users=payments_service, session_factory=None)
    async with bot_running(bot_settings(fake), services):
        await fake.send_text(TELEGRAM_ID, "hi", first_name=CARD_NAME)
        await fake.wait_for_messages(TELEGRAM_ID, 1)

    def stored_name() -> str | None:
        with payments_service.session_factory() as session:
            return session.scalar(select(User.name).where(User.telegram_user_id == TELEGRAM_ID))

    name = await asyncio.to_thread(stored_name)
    assert name is not None  # the user was created on first contact
    assert not looks_like_card_number(name), f"users.name holds {name!r}"


def test_a_card_number_never_reaches_users_name_however_it_is_set(payments_service: PaymentsService) -> None:
    """The model is the choke point: creation and later updates are both redacted."""
    with payments_service.session_factory.begin() as session:
        user = User(telegram_user_id=TELEGRAM_ID + 1, name=f"Ann {CARD_NAME}", is_test=False)
        session.add(user)
        session.flush()
        assert user.name == "Ann [card number removed]"
        user.name = "4242-4242-4242-4242 Bob"
        session.flush()
        user_id = user.id
    with payments_service.session_factory() as session:
        stored = session.get(User, user_id)
        assert stored is not None
        assert not looks_like_card_number(stored.name)
        assert stored.name.endswith("Bob")
