"""What the bot needs at run time, built once in post_init: the assistant client, the payments
service (to create/link users and to read the notifications outbox), database sessions for
transcripts, and small in-memory state.

Tests may hand `build_application` their own `BotServices` (e.g. a stand-in assistant).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.coalesce import LatestWins, SingleFlight
from bot.notify import NotificationSource
from bot.pages import PageStore
from bot.rendering import PayloadStore
from bot.userstore import UserBoundStore
from db.engine import make_engine
from rasa_client import AssistantClient, RasaClient
from settings import Settings

if TYPE_CHECKING:
    from bot.rights import PersonalDataRights
    from payments.offers import ReissuedOffer


class UserDirectory(Protocol):
    """The part of `payments.service.PaymentsService` the bot uses."""

    def ensure_telegram_user(
        self, *, telegram_user_id: int, name: str | None, language_code: str | None
    ) -> Any:
        """Create or find the customer of a Telegram user (demo mode links demo bills)."""
        ...

    def set_telegram_reachable(self, *, telegram_user_id: int, reachable: bool) -> bool:
        """Record that the user blocked the bot (False) or came back (True)."""
        ...


class SummaryOffers(Protocol):
    """The part of `payments.confirming.Confirmations` the bot uses."""

    def reissue_unanswered_offer(
        self, *, user_id: int, conversation: str, payment_id: int, nonce: str | None
    ) -> ReissuedOffer | None:
        """The tapped summary offered again under a fresh nonce (its tapped offer closed, so the
        lost tap can no longer be carried out); None when the tap was (or may have been)."""
        ...


@dataclass
class KnownUser:
    """A Telegram user the payments core knows: their users.id and whether they are a test (or demo)
    user, whose transcripts staff see marked as such."""

    user_id: int
    is_test: bool


@dataclass
class BotServices:
    """The assistant, the user directory, transcript sessions and the bot's in-memory state."""

    assistant: AssistantClient
    users: UserDirectory | None
    session_factory: sessionmaker[Session] | None
    engine: Engine | None = None
    # Where payment outcomes to tell users come from; None: no notifier runs (stand-in tests).
    notifications: NotificationSource | None = None
    # Claims a tapped summary whose answer was lost (offered again, or said to be done); None: not asked.
    summary_offers: SummaryOffers | None = None
    # PAYCHAT_DEMO_MODE: new users get demo bills and a test card, and /start says so.
    demo_mode: bool = False
    payloads: PayloadStore = field(default_factory=PayloadStore)
    pages: PageStore = field(default_factory=PageStore)
    known_users: dict[int, KnownUser] = field(default_factory=dict)
    # The lookup of each user not yet in known_users, one at a time (bot.relay.known_user).
    lookups: SingleFlight[int, KnownUser] = field(default_factory=SingleFlight)
    # Each user's latest blocked/unblocked state, written one write at a time (bot.handlers).
    reachability: LatestWins[int, bool] = field(default_factory=LatestWins)
    # Keyboard messages already tapped, per chat (a chat's own oldest forgotten past its share, so
    # one chat's taps never make another's used keyboard answer again).
    tapped: UserBoundStore[None] = field(
        default_factory=lambda: UserBoundStore(capacity=50_000, per_user=1_000)
    )
    # /mydata and /forget; None: the commands answer that they are not available (stand-in tests).
    rights: PersonalDataRights | None = None
    # The message id of the payment summary each chat was shown last (the one whose keyboard is live).
    live_summaries: dict[int, int] = field(default_factory=dict)
    # The payment ids each user's last delivered turn left in the slots (Telegram user id → ids): a
    # typed "yes" confirms the summary of that turn, so its reply tells that payment.
    turn_payments: dict[int, frozenset[int]] = field(default_factory=dict)

    def first_tap(self, chat_id: int, message_id: int) -> bool:
        """Record a tap on a keyboard message; False when one was recorded before (a double tap)."""
        where = f"{chat_id}:{message_id}"
        if where in self.tapped:
            return False
        self.tapped.put(where, chat_id, None)
        return True

    def was_tapped(self, chat_id: int, message_id: int) -> bool:
        """True when a tap on this keyboard message was recorded (without recording one)."""
        return f"{chat_id}:{message_id}" in self.tapped

    def replace_live_summary(self, chat_id: int, message_id: int) -> int | None:
        """Record `message_id` as the chat's live summary; return the one it replaces, if any."""
        previous = self.live_summaries.get(chat_id)
        self.live_summaries[chat_id] = message_id
        return previous if previous != message_id else None

    def replaced_summary(self, chat_id: int, message_id: int) -> bool:
        """True when a newer summary replaced this one in the chat (known to this process)."""
        live = self.live_summaries.get(chat_id)
        return live is not None and live != message_id

    async def aclose(self) -> None:
        """Close the assistant client and the engine this object owns."""
        await self.assistant.aclose()
        if self.engine is not None:
            await asyncio.to_thread(self.engine.dispose)


def build_services(settings: Settings) -> BotServices:
    """Services on the configured Rasa server and database: one engine for transcripts and payments."""
    from bot.rights import PersonalDataRights
    from payments.service import build_service

    engine = make_engine(settings.effective_database_url)
    payments = build_service(settings, engine=engine)
    return BotServices(
        assistant=RasaClient.from_settings(settings),
        users=payments,
        notifications=payments,
        summary_offers=payments.confirmations,
        session_factory=payments.session_factory,
        engine=engine,
        rights=PersonalDataRights(payments, payments.session_factory, settings.effective_rasa_tracker_db),
        demo_mode=settings.demo_mode,
        payloads=PayloadStore(per_user=settings.bot_buttons_per_user),
        pages=PageStore(per_user=settings.bot_paged_lists_per_user),
    )
