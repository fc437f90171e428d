"""Simulated users for the benchmarks: each one a test user with the demo bills and its own card.

Provisioned through the demo code of the payments core (`payments.demo.provision_demo_user`), so a
bench user is what a demo-mode Telegram user gets on first contact: five open bills and a
succeeding sandbox Visa. Each also has a Telegram id, so the same user can talk through the bot,
the console (it is a test user) or Rasa directly (`console-<id>-<session>` sender ids).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from db.engine import make_engine, make_session_factory
from db.models import User
from payments.demo import provision_demo_user
from payments.service import build_gateway

# What a payment conversation asks for, one bill at a time (the demo bills of every user).
PAYABLE_BILLS = (
    "pay my electricity bill",
    "pay my phone bill",
    "pay my water bill",
    "pay my internet bill",
    "pay my rent",
)
_telegram_ids = itertools.count(700_001)


@dataclass(frozen=True)
class BenchUser:
    """A provisioned user: users.id and the Telegram id the fake Telegram API sends as."""

    user_id: int
    telegram_user_id: int

    def sender(self, session: str) -> str:
        """The Rasa sender id of this user's console conversation `session`."""
        return f"console-{self.user_id}-{session}"


def provision_users(settings: Any, count: int, *, label: str, workers: int = 4) -> list[BenchUser]:
    """Create `count` test users, each with the demo bills and a sandbox card."""
    engine = make_engine(settings.effective_database_url)
    session_factory = make_session_factory(engine)
    gateway = build_gateway(settings)
    telegram_ids = [next(_telegram_ids) for _ in range(count)]
    try:
        with session_factory.begin() as session:
            rows = [
                User(
                    telegram_user_id=tid,
                    name=f"Bench {label} {i}",
                    locale="en_IE",
                    timezone="Europe/Berlin",
                    currency="EUR",
                    is_test=True,
                )
                for i, tid in enumerate(telegram_ids)
            ]
            session.add_all(rows)
            session.flush()
            users = [BenchUser(row.id, tid) for row, tid in zip(rows, telegram_ids, strict=True)]
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda u: provision_demo_user(session_factory, gateway, user_id=u.user_id), users))
    finally:
        engine.dispose()
    return users
