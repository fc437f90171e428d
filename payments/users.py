"""Who is talking: sender ids resolved to users, and users created on first contact from Telegram.

Sender ids follow docs/contracts.md: `tg-<telegram id>` or `console-<user id>-<session>`; the
console may act only as test users, so staff never pay real people's bills.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import User
from payments.audit import append_audit
from payments.config import ServiceConfig
from payments.errors import UnknownUserError
from payments.unit_of_work import UnitOfWork, load_user
from payments.views import UserView, user_view

TELEGRAM_SENDER = re.compile(r"tg-(\d{1,20})")
# A console conversation key: letters, digits, "_" and "-" (clients send UUIDs with hyphens).
SESSION_KEY_PATTERN = r"[A-Za-z0-9_-]{1,64}"
CONSOLE_SENDER = re.compile(r"console-(\d{1,20})-" + SESSION_KEY_PATTERN)
# A babel locale for a Telegram language code; English follows the configured default when it is English.
LANGUAGE_LOCALES = {"de": "de_DE", "fr": "fr_FR", "es": "es_ES"}
KNOWN_SENDERS = 50_000  # sender ids remembered per process (least recently used forgotten first)


def user_id_for_sender(session: Session, sender_id: str) -> int:
    """Resolve `tg-<telegram id>` or `console-<user id>-<session>`; raise UnknownUserError otherwise."""
    if match := TELEGRAM_SENDER.fullmatch(sender_id):
        user_id = session.execute(
            select(User.id).where(User.telegram_user_id == int(match.group(1)))
        ).scalar_one_or_none()
    elif match := CONSOLE_SENDER.fullmatch(sender_id):
        user_id = session.execute(
            select(User.id).where(User.id == int(match.group(1)), User.is_test.is_(True))
        ).scalar_one_or_none()
    else:
        user_id = None
    if user_id is None:
        raise UnknownUserError(sender_id=sender_id)
    return int(user_id)


def locale_for(language_code: str | None, default: str) -> str:
    """A babel locale for a Telegram language code ("de" → de_DE), else the default."""
    if not language_code:
        return default
    language = language_code.split("-")[0].lower()
    if language == "en":
        return default if default.startswith("en") else "en_IE"
    return LANGUAGE_LOCALES.get(language, default)


class Users:
    """Users as the edges know them."""

    def __init__(self, uow: UnitOfWork, config: ServiceConfig) -> None:
        self._uow = uow
        self._config = config
        # Sender id → users.id, remembered: every action of every turn asked the database again
        # (a transaction of its own). A user's id never changes; an unknown sender is not remembered.
        self._known: OrderedDict[str, int] = OrderedDict()
        self._known_lock = threading.Lock()

    def user_id_for_sender(self, *, sender_id: str) -> int:
        """users.id for a `tg-…` or `console-…` sender id; UnknownUserError otherwise."""
        with self._known_lock:
            if (known := self._known.get(sender_id)) is not None:
                self._known.move_to_end(sender_id)
                return known
        with self._uow.session_factory() as session:
            user_id = user_id_for_sender(session, sender_id)
        with self._known_lock:
            self._known[sender_id] = user_id
            if len(self._known) > KNOWN_SENDERS:
                self._known.popitem(last=False)
        return user_id

    def get_user(self, *, user_id: int) -> UserView:
        """The user's view (name, locale, time zone, currency)."""
        with self._uow.tx() as session:
            return user_view(load_user(session, user_id))

    def ensure_telegram_user(
        self, *, telegram_user_id: int, name: str | None, language_code: str | None, is_demo: bool = False
    ) -> tuple[UserView, bool]:
        """The user behind a Telegram account, created on first contact (a demo user in demo mode);
        True when created now. `name` is the account's display name as Telegram sent it: None, blank
        or whitespace-only (a malformed update) gives "Telegram user"; runs of whitespace become one
        space and it is cut to 200 characters."""
        with self._uow.tx() as session:
            user = session.execute(select(User).where(User.telegram_user_id == telegram_user_id)).scalar()
            if user is not None:
                return user_view(user), False
        try:
            with self._uow.tx() as session:
                user = User(
                    telegram_user_id=telegram_user_id,
                    name=" ".join((name or "").split())[:200] or "Telegram user",
                    locale=locale_for(language_code, self._config.default_locale),
                    timezone=self._config.default_timezone,
                    currency=self._config.default_currency,
                    is_test=False,
                    is_demo=is_demo,
                )
                session.add(user)
                session.flush()
                data = {"channel": "telegram", "demo": is_demo}
                append_audit(session, event="user.created", user_id=user.id, data=data)
                return user_view(user), True
        except IntegrityError:
            # Two first messages raced: the other one created the user.
            with self._uow.tx() as session:
                existing = session.execute(
                    select(User).where(User.telegram_user_id == telegram_user_id)
                ).scalar_one()
                return user_view(existing), False

    def set_telegram_reachable(self, *, telegram_user_id: int, reachable: bool) -> bool:
        """Record that the user blocked the bot (False) or came back (True); True when that changed.

        A compare-and-set on `telegram_unreachable_since`, audited when it wins: while it is set the
        outbox holds the user's notifications, and clearing it lets the next round deliver them.
        """
        with self._uow.tx() as session:
            unreachable = User.telegram_unreachable_since
            result = session.execute(
                update(User)
                .where(
                    User.telegram_user_id == telegram_user_id,
                    unreachable.is_not(None) if reachable else unreachable.is_(None),
                )
                .values(telegram_unreachable_since=None if reachable else self._uow.now())
                .returning(User.id)
                .execution_options(synchronize_session=False)
            )
            user_id = result.scalar_one_or_none()
            if user_id is None:
                return False
            event = "user.telegram_reachable" if reachable else "user.telegram_unreachable"
            append_audit(session, event=event, user_id=user_id, data={})
            return True
