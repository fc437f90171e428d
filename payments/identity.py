"""Who is talking: sender ids of the Telegram and console channels resolved to users.id."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import User
from payments.errors import UnknownUserError

TELEGRAM_SENDER = re.compile(r"tg-(\d{1,20})")
CONSOLE_SENDER = re.compile(r"console-(\d{1,20})-[A-Za-z0-9_]{1,64}")


def user_id_for_sender(session: Session, sender_id: str) -> int:
    """Resolve `tg-<telegram id>` or `console-<user id>-<session>`; raise UnknownUserError otherwise."""
    if match := TELEGRAM_SENDER.fullmatch(sender_id):
        user_id = session.execute(
            select(User.id).where(User.telegram_user_id == int(match.group(1)))
        ).scalar_one_or_none()
    elif match := CONSOLE_SENDER.fullmatch(sender_id):
        # The console may act only as test users: staff never pay real people's bills.
        user_id = session.execute(
            select(User.id).where(User.id == int(match.group(1)), User.is_test.is_(True))
        ).scalar_one_or_none()
    else:
        user_id = None
    if user_id is None:
        raise UnknownUserError(sender_id=sender_id)
    return int(user_id)
