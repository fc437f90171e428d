"""/mydata and /forget: a Telegram user's copy of their data, and being forgotten.

Composes the two owners of personal data the bot may call: the payments core (profile, bills,
payments, consent receipts; anonymized on forget) and the transcripts (our transcripts and Rasa's
tracker store of the user's sender id, deleted on forget). Blocking work runs in a thread.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.relay import sender_id_for
from transcripts.forgetting import export_conversations, forget_conversations, forget_tracker


class PersonalDataOwner(Protocol):
    """The part of `payments.service.PaymentsService` that exports and forgets a user."""

    def telegram_user(self, *, telegram_user_id: int) -> int | None:
        """The user behind a Telegram account."""
        ...

    def export_user_data(self, *, user_id: int) -> dict[str, Any]:
        """Everything payments keeps about the user."""
        ...

    def forget_user(self, *, user_id: int) -> Any:
        """Anonymize the user."""
        ...


@dataclass
class PersonalDataRights:
    """Export and forget a Telegram user across payments, transcripts and Rasa's tracker store."""

    payments: PersonalDataOwner
    session_factory: sessionmaker[Session]
    tracker_db: Path

    async def export(self, telegram_user_id: int) -> bytes | None:
        """The user's data as a JSON document; None when paychat knows nothing about them."""
        return await asyncio.to_thread(self._export, telegram_user_id)

    async def forget(self, telegram_user_id: int) -> bool:
        """Forget the user; False when there was nobody to forget."""
        return await asyncio.to_thread(self._forget, telegram_user_id)

    def _export(self, telegram_user_id: int) -> bytes | None:
        user_id = self.payments.telegram_user(telegram_user_id=telegram_user_id)
        senders = [sender_id_for(telegram_user_id)]
        with self.session_factory() as session:
            conversations = export_conversations(session, user_id=user_id, sender_ids=senders)
        if user_id is None and not conversations:
            return None
        document = {
            "exported_at": datetime.now(UTC).isoformat(),
            "telegram_user_id": telegram_user_id,
            **(self.payments.export_user_data(user_id=user_id) if user_id is not None else {}),
            "conversations": conversations,
        }
        return json.dumps(document, ensure_ascii=False, indent=2).encode()

    def _forget(self, telegram_user_id: int) -> bool:
        user_id = self.payments.telegram_user(telegram_user_id=telegram_user_id)
        senders = [sender_id_for(telegram_user_id)]
        with self.session_factory.begin() as session:
            turns = forget_conversations(session, user_id=user_id, sender_ids=senders)
        events = forget_tracker(self.tracker_db, senders)
        if user_id is not None:
            self.payments.forget_user(user_id=user_id)
        return user_id is not None or turns > 0 or events > 0
