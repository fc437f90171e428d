"""Migration 0004 on both databases: the demo users made by older versions lose their Telegram ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.crypto import keyring
from db.engine import make_engine
from db.migrate import downgrade, upgrade
from tests.helpers.db import _create_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, unmigrated database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url, admin = _create_postgres_database()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        admin.dispose()


def _users(url: str) -> dict[str, tuple[int | None, str | None]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, telegram_user_id, demo_key FROM users ORDER BY id"))
            # From revision 0010 on names are stored encrypted (db/crypto.py).
            return {keyring().decrypt(row.name): (row.telegram_user_id, row.demo_key) for row in rows}
    finally:
        engine.dispose()


def test_legacy_demo_users_become_console_only(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0003")
    engine = make_engine(url)
    with engine.begin() as connection:
        for telegram_id, name, is_test in [
            (100001, "Alex Demo", True),
            (100002, "Dana Decline", True),
            (100003, "Someone Real", False),  # a real customer who happens to have a former demo id
            (424242, "Sam Secure", False),  # same name as a demo user, but a real customer
        ]:
            connection.execute(
                text(
                    "INSERT INTO users (telegram_user_id, name, locale, timezone, currency, is_test,"
                    " created_at) VALUES (:t, :n, 'en_IE', 'Europe/Berlin', 'EUR', :test, CURRENT_TIMESTAMP)"
                ),
                {"t": telegram_id, "n": name, "test": is_test},
            )
    engine.dispose()

    upgrade(url)
    assert _users(url) == {
        "Alex Demo": (None, "alex"),
        "Dana Decline": (None, "dana"),
        "Someone Real": (100003, None),
        "Sam Secure": (424242, None),
    }

    downgrade(url, "0003")
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, telegram_user_id FROM users ORDER BY id")).all()
    engine.dispose()
    assert dict(rows) == {
        "Alex Demo": 100001,
        "Dana Decline": 100002,
        "Someone Real": 100003,
        "Sam Secure": 424242,
    }
